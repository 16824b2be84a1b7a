package report_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/report"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// world is a workspace with two sites and two agents.
type world struct {
	ws, site, site2, visitor, agentA, agentB string
}

func newWorld(t testing.TB, s *store.Store) world {
	t.Helper()
	ctx := context.Background()
	w := world{ws: uuid.NewString(), site: uuid.NewString(), site2: uuid.NewString(), visitor: uuid.NewString(),
		agentA: uuid.NewString(), agentB: uuid.NewString()}
	if err := s.CreateWorkspace(ctx, store.Workspace{ID: w.ws, Name: "Acme"}, store.Site{ID: w.site, Name: "acme.test", Secret: "s"},
		store.Agent{ID: w.agentA, Email: w.agentA + "@acme.test", Name: "Ann", Role: "admin", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	sc := s.Workspace(w.ws)
	if _, err := sc.CreateAgent(ctx, store.Agent{ID: w.agentB, Email: w.agentB + "@acme.test", Name: "Bob", Role: "agent", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := sc.CreateSite(ctx, store.Site{ID: w.site2, Name: "shop.test", Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.CreateVisitor(ctx, store.Visitor{ID: w.visitor, SiteID: w.site, Name: "V"}); err != nil {
		t.Fatal(err)
	}
	return w
}

// msgs builds a conversation's messages from (author kind, author, offset).
type msg struct {
	kind, author string
	at           time.Duration
}

func insert(t testing.TB, s *store.Store, ws string, cs []store.Conversation, ms map[string][]msg) {
	t.Helper()
	db := s.Gorm()
	for i := range cs {
		cs[i].WorkspaceID = ws
	}
	if err := db.CreateInBatches(cs, 500).Error; err != nil {
		t.Fatal(err)
	}
	var rows []store.Message
	flush := func() {
		if len(rows) > 0 {
			if err := db.CreateInBatches(rows, 1000).Error; err != nil {
				t.Fatal(err)
			}
			rows = rows[:0]
		}
	}
	for _, c := range cs {
		// As AppendMessage keeps it: the last message's seq.
		if err := db.Model(&store.Conversation{}).Where("id = ?", c.ID).Update("last_seq", len(ms[c.ID])).Error; err != nil {
			t.Fatal(err)
		}
		for i, m := range ms[c.ID] {
			rows = append(rows, store.Message{WorkspaceID: ws, ConversationID: c.ID, Seq: int64(i + 1), ClientID: fmt.Sprint(i),
				AuthorKind: m.kind, AuthorID: m.author, Body: "x", CreatedAt: c.CreatedAt.Add(m.at)})
			if len(rows) == 5000 {
				flush()
			}
		}
	}
	flush()
}

func ptr[T any](v T) *T { return &v }

// TestReportKnownAnswers: 100 conversations with set response times, queue
// waits, resolutions and ratings, plus missed, offline and assistant ones,
// give exact medians and p90s; the days they fall on differ between New
// York and Tokyo.
func TestReportKnownAnswers(t *testing.T) {
	for name, s := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t, s)
			base := time.Date(2026, 3, 10, 20, 0, 0, 0, time.UTC)
			var cs []store.Conversation
			ms := map[string][]msg{}
			for i := range 100 {
				agent := w.agentA
				if i%2 == 1 {
					agent = w.agentB
				}
				created := base.Add(time.Duration(i) * 6 * time.Minute)
				// First responses are a permutation of 1..100 minutes.
				first := time.Duration((i*37)%100+1) * time.Minute
				c := store.Conversation{ID: uuid.NewString(), SiteID: w.site, VisitorID: w.visitor, AgentID: ptr(agent), Status: "open",
					Team: "sales", CreatedAt: created, AssignedAt: ptr(created.Add(time.Duration(i%10+1) * 10 * time.Second))}
				if i%5 != 0 {
					c.Status, c.ClosedAt = "closed", ptr(created.Add(2*time.Hour))
				}
				switch {
				case i < 30:
					c.CsatRating = 5
				case i < 40:
					c.CsatRating = 2
				}
				if i >= 50 {
					c.Team = "support"
				}
				cs = append(cs, c)
				v := 10 * time.Second
				// A second exchange: two visitor messages, one reply 30 s
				// after the first of them.
				ms[c.ID] = []msg{{"visitor", w.visitor, v}, {"system", "", v + time.Second}, {"agent", agent, v + first},
					{"visitor", w.visitor, v + first + time.Minute}, {"visitor", w.visitor, v + first + time.Minute + 20*time.Second},
					{"agent", agent, v + first + time.Minute + 30*time.Second}, {"agent", agent, v + first + 2*time.Minute}}
			}
			extra := time.Date(2026, 3, 12, 12, 0, 0, 0, time.UTC)
			add := func(status string, handedOff bool, m []msg) {
				c := store.Conversation{ID: uuid.NewString(), SiteID: w.site2, VisitorID: w.visitor, Status: status, HandedOff: handedOff, CreatedAt: extra}
				if status == "closed" {
					c.ClosedAt = ptr(extra.Add(2 * time.Hour))
				}
				cs = append(cs, c)
				ms[c.ID] = m
			}
			for range 5 { // missed: nobody answered
				add("closed", false, []msg{{"visitor", w.visitor, time.Second}})
			}
			for range 3 { // offline messages
				add(store.StatusOffline, false, []msg{{"visitor", w.visitor, time.Second}})
			}
			for range 4 { // deflected by the assistant
				add("closed", false, []msg{{"visitor", w.visitor, time.Second}, {"assistant", "", 2 * time.Second}})
			}
			for range 2 { // handed off, then nobody came
				add("closed", true, []msg{{"visitor", w.visitor, time.Second}, {"assistant", "", 2 * time.Second}})
			}
			// Outside the period, and another workspace's inside it.
			add("closed", false, []msg{{"visitor", w.visitor, time.Second}})
			cs[len(cs)-1].CreatedAt = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
			insert(t, s, w.ws, cs, ms)
			other := newWorld(t, s)
			insert(t, s, other.ws, []store.Conversation{{ID: uuid.NewString(), SiteID: other.site, VisitorID: other.visitor, Status: "closed", CreatedAt: base}},
				nil)

			// The same answers twice: first from the messages (nothing is
			// computed yet: as for open conversations), then from
			// conversation_stats once the catch-up has run; the whole
			// reports must be equal.
			first := map[string]report.Report{}
			for _, phase := range []string{"messages", "conversation_stats"} {
				if phase == "conversation_stats" {
					// The 95 ended ones of this workspace and the other's; the
					// 20 open ones are read from their messages still.
					if n := refreshAll(t, s); n != 96 {
						t.Errorf("catch-up computed %d conversations, want 96", n)
					}
				}
				same := func(key string, rep report.Report) {
					if phase == "messages" {
						first[key] = rep
					} else if !reflect.DeepEqual(first[key], rep) {
						t.Errorf("%s: from conversation_stats\n%+v\nfrom messages\n%+v", key, rep, first[key])
					}
				}
				src := s.Workspace(w.ws)
				for _, tc := range []struct {
					tz    string
					days  map[string]int
					hours map[int]int
				}{
					{"America/New_York", map[string]int{"2026-03-10": 80, "2026-03-11": 20, "2026-03-12": 14},
						map[int]int{16: 10, 23: 10, 0: 10, 1: 10, 2: 0, 8: 14}},
					{"Asia/Tokyo", map[string]int{"2026-03-10": 0, "2026-03-11": 100, "2026-03-12": 14},
						map[int]int{5: 10, 14: 10, 15: 0, 21: 14}},
				} {
					loc, err := time.LoadLocation(tc.tz)
					if err != nil {
						t.Fatal(err)
					}
					rep, err := report.Build(ctx, src, report.Query{From: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC),
						To: time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC), Location: loc})
					if err != nil {
						t.Fatal(err)
					}
					same(tc.tz, rep)
					tot := rep.Totals
					want := report.Metrics{Conversations: 114,
						// The ranks of a permutation of 1..100 minutes.
						FirstResponse: report.Durations{Count: 100, Median: 50 * 60, P90: 90 * 60},
						// 100 replies of 30 s, then those 100: rank 180 is 80 minutes.
						Response:   report.Durations{Count: 200, Median: 30, P90: 80 * 60},
						Resolution: report.Durations{Count: 91, Median: 7200, P90: 7200},
						QueueWait:  report.Durations{Count: 100, Median: 50, P90: 90},
						Missed:     10, Rated: 40, CsatAverage: 4.25, CsatPositive: 0.75, Assisted: 6, Deflected: 4, DeflectionRate: 0.67}
					if tot != want {
						t.Errorf("%s totals:\n got %+v\nwant %+v", tc.tz, tot, want)
					}
					for _, d := range rep.Days {
						if n, ok := tc.days[d.Key]; !ok || d.Conversations != n {
							t.Errorf("%s: day %s has %d conversations, want %d", tc.tz, d.Key, d.Conversations, n)
						}
					}
					if len(rep.Days) != 3 {
						t.Errorf("%s: %d days, want 3", tc.tz, len(rep.Days))
					}
					for h, n := range tc.hours {
						if rep.Hours[h] != n {
							t.Errorf("%s: hour %d has %d, want %d", tc.tz, h, rep.Hours[h], n)
						}
					}
					// Agents: Ann has the odd minutes (1, 3, …, 99), Bob the even.
					byKey := map[string]report.Row{}
					for _, r := range rep.Agents {
						byKey[r.Key] = r
					}
					if a := byKey[w.agentA].FirstResponse; a != (report.Durations{Count: 50, Median: 49 * 60, P90: 89 * 60}) {
						t.Errorf("%s: Ann's first response %+v", tc.tz, a)
					}
					if b := byKey[w.agentB].FirstResponse; b != (report.Durations{Count: 50, Median: 50 * 60, P90: 90 * 60}) {
						t.Errorf("%s: Bob's first response %+v", tc.tz, b)
					}
					if len(rep.Sites) != 2 || rep.Sites[0].Key != w.site || rep.Sites[0].Conversations != 100 || rep.Sites[1].Missed != 10 {
						t.Errorf("%s: sites %+v", tc.tz, rep.Sites)
					}
					if len(rep.Teams) != 2 || rep.Teams[0].Conversations != 50 || rep.Teams[1].Conversations != 50 {
						t.Errorf("%s: teams %+v", tc.tz, rep.Teams)
					}
				}
				// Tokyo's 2026-03-11 alone holds all 100 first responses; New
				// York's holds i = 80..99 only.
				ny, _ := time.LoadLocation("America/New_York")
				day := time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)
				rep, err := report.Build(ctx, src, report.Query{From: day, To: day, Location: ny})
				if err != nil {
					t.Fatal(err)
				}
				same("New York day", rep)
				if rep.Totals.Conversations != 20 || rep.Totals.FirstResponse.Count != 20 {
					t.Errorf("New York 2026-03-11: %+v", rep.Totals)
				}
				// A filter by agent.
				tokyo, _ := time.LoadLocation("Asia/Tokyo")
				rep, err = report.Build(ctx, src, report.Query{From: day.AddDate(0, 0, -1), To: day.AddDate(0, 0, 1), Location: tokyo, AgentID: w.agentB})
				if err != nil {
					t.Fatal(err)
				}
				same("Bob only", rep)
				if rep.Totals.Conversations != 50 || rep.Totals.FirstResponse != (report.Durations{Count: 50, Median: 3000, P90: 5400}) {
					t.Errorf("Bob only: %+v", rep.Totals)
				}
				var buf bytes.Buffer
				if err := report.WriteCSV(&buf, rep); err != nil {
					t.Fatal(err)
				}
				recs, err := csv.NewReader(&buf).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				// Header, total, 3 days, 1 site, 2 teams, 1 agent.
				if len(recs) != 9 || recs[1][0] != "total" || recs[1][3] != "50" || recs[1][4] != "3000" {
					t.Errorf("csv: %q", recs)
				}
			}
			// A message after the figures were computed (a reopened chat, an
			// emailed reply) makes them stale: the report reads that
			// conversation's messages until the catch-up computes it again.
			missed := cs[100] // nobody answered it
			db := s.Gorm()
			if err := db.Create(&store.Message{WorkspaceID: w.ws, ConversationID: missed.ID, Seq: 2, ClientID: "late", AuthorKind: "agent",
				AuthorID: w.agentA, Body: "x", CreatedAt: missed.CreatedAt.Add(time.Minute)}).Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Model(&store.Conversation{}).Where("id = ?", missed.ID).Update("last_seq", 2).Error; err != nil {
				t.Fatal(err)
			}
			period := report.Query{From: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC), Location: time.UTC}
			for _, phase := range []string{"stale", "recomputed"} {
				if phase == "recomputed" {
					if n := refreshAll(t, s); n != 1 {
						t.Errorf("catch-up recomputed %d conversations, want 1", n)
					}
				}
				rep, err := report.Build(ctx, s.Workspace(w.ws), period)
				if err != nil {
					t.Fatal(err)
				}
				if rep.Totals.Missed != 9 || rep.Totals.Response.Count != 201 {
					t.Errorf("%s: missed %d, responses %d; want 9, 201", phase, rep.Totals.Missed, rep.Totals.Response.Count)
				}
			}
		})
	}
}

// refreshAll runs the catch-up until it has nothing left and returns how
// many conversations it computed.
func refreshAll(t testing.TB, s *store.Store) int {
	t.Helper()
	total := 0
	for {
		n, err := s.RefreshConversationStats(context.Background(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

func TestReportPeriodChecked(t *testing.T) {
	d := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	for _, q := range []report.Query{
		{From: d, To: d.AddDate(0, 0, -1), Location: time.UTC},
		{From: d, To: d.AddDate(0, 0, report.MaxDays), Location: time.UTC},
		{From: d, To: d},
	} {
		if err := q.Validate(); err == nil {
			t.Errorf("%+v: no error", q)
		}
	}
	if err := (report.Query{From: d, To: d.AddDate(0, 0, report.MaxDays-1), Location: time.UTC}).Validate(); err != nil {
		t.Error(err)
	}
}
