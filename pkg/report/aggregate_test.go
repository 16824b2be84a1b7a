package report_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/parleychat/parley/pkg/report"
	"github.com/parleychat/parley/pkg/report/reporttest"
	"github.com/parleychat/parley/pkg/report/tally"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// everyConversation is the per-conversation path: no buckets, every
// conversation of the period read and counted as it is now.
type everyConversation struct{ *store.Scoped }

func (everyConversation) ReportBuckets(context.Context, store.ReportFilter, func(tally.Entry) error) error {
	return nil
}

func (e everyConversation) ReportConversations(ctx context.Context, f store.ReportFilter, fn func(store.ReportConversation) error) error {
	f.Unsettled = false
	return e.Scoped.ReportConversations(ctx, f, fn)
}

// TestBucketsMatchConversations: on a generated history with two sites,
// three teams, two agents, missed, assistant and rated chats and
// conversions, the report from the buckets equals the report from every
// conversation, whole and filtered by site, team and agent, in UTC, New
// York and Tokyo: before the catch-up counted anything, after it, after
// conversations were reopened, rated, moved to another team and given a
// message after closing, after they were counted again, and after a
// visitor's deletion.
func TestBucketsMatchConversations(t *testing.T) {
	for name, s := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t, s)
			start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
			h := reporttest.History{Workspace: w.ws, Visitor: w.visitor, Sites: []string{w.site, w.site2}, Agents: []string{w.agentA, w.agentB},
				Teams: []string{"", "sales", "support"}, Start: start, Days: 28, Conversations: 1500, Realistic: true, Seed: 3}
			if _, _, err := reporttest.Seed(ctx, s, h); err != nil {
				t.Fatal(err)
			}
			// A second visitor's chats, deleted at the end.
			other := uuid.NewString()
			if _, err := s.Workspace(w.ws).CreateVisitor(ctx, store.Visitor{ID: other, SiteID: w.site, Name: "W"}); err != nil {
				t.Fatal(err)
			}
			h.Visitor, h.Conversations, h.Seed = other, 200, 4
			if _, _, err := reporttest.Seed(ctx, s, h); err != nil {
				t.Fatal(err)
			}
			sc := s.Workspace(w.ws)
			compare := func(phase string) {
				t.Helper()
				for _, zone := range []string{"UTC", "America/New_York", "Asia/Tokyo"} {
					loc, err := time.LoadLocation(zone)
					if err != nil {
						t.Fatal(err)
					}
					for _, q := range []report.Query{
						{From: start, To: start.AddDate(0, 0, 27), Location: loc},
						{From: start.AddDate(0, 0, 3), To: start.AddDate(0, 0, 9), Location: loc, Team: "sales"},
						{From: start, To: start.AddDate(0, 0, 27), Location: loc, AgentID: w.agentB},
						{From: start, To: start.AddDate(0, 0, 27), Location: loc, SiteID: w.site2, Team: "support"},
					} {
						got, err := report.Build(ctx, sc, q)
						if err != nil {
							t.Fatal(err)
						}
						want, err := report.Build(ctx, everyConversation{sc}, q)
						if err != nil {
							t.Fatal(err)
						}
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("%s, %s %+v: buckets\n%+v\nconversations\n%+v", phase, zone, q, got.Totals, want.Totals)
						}
						if zone == "UTC" && q.Team == "" && q.AgentID == "" && q.SiteID == "" && got.Totals.Conversations != 1700 {
							t.Fatalf("%s: %d conversations", phase, got.Totals.Conversations)
						}
					}
				}
			}
			compare("nothing counted yet")
			if n := refreshAll(t, s); n != 1700 {
				t.Fatalf("the catch-up counted %d", n)
			}
			var dirty int64
			if err := s.Gorm().Raw("SELECT COUNT(*) FROM conversations WHERE workspace_id = ? AND report_dirty", w.ws).Scan(&dirty).Error; err != nil || dirty != 0 {
				t.Fatalf("%d dirty after the catch-up (%v)", dirty, err)
			}
			compare("counted")

			var ids []string
			if err := s.Gorm().Model(&store.Conversation{}).Where("workspace_id = ? AND visitor_id = ? AND status = ?", w.ws, w.visitor, "closed").
				Order("created_at").Limit(40).Pluck("id", &ids).Error; err != nil {
				t.Fatal(err)
			}
			conv := func(id ...string) *gorm.DB { return s.Gorm().Model(&store.Conversation{}).Where("id IN ?", id) }
			for i, id := range ids {
				var err error
				switch i % 4 {
				case 0: // reopened, by a message
					err = conv(id).Updates(map[string]any{"status": "open", "closed_at": nil, "last_seq": 99}).Error
					if err == nil {
						err = s.Gorm().Create(&store.Message{WorkspaceID: w.ws, ConversationID: id, Seq: 99, ClientID: "late", AuthorKind: "agent",
							AuthorID: w.agentA, Body: "x", CreatedAt: start.AddDate(0, 0, 27)}).Error
					}
				case 1: // rated after closing
					err = conv(id).Update("csat_rating", 1).Error
				case 2: // moved to another team
					err = conv(id).Update("team", "support").Error
				case 3: // a visitor's message after closing (an emailed reply)
					err = conv(id).Update("last_seq", 99).Error
					if err == nil {
						err = s.Gorm().Create(&store.Message{WorkspaceID: w.ws, ConversationID: id, Seq: 99, ClientID: "mail", AuthorKind: "visitor",
							AuthorID: w.visitor, Body: "x", CreatedAt: start.AddDate(0, 0, 27)}).Error
					}
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			compare("changed after counting")
			if n := refreshAll(t, s); n != 30 { // the reopened ones stay live
				t.Fatalf("the catch-up counted %d again, want 30", n)
			}
			compare("counted again")
			if _, err := sc.ComputeConversationStats(ctx, ids...); err != nil {
				t.Fatal(err)
			}
			compare("computed twice")
			if err := conv(ids...).Updates(map[string]any{"status": "closed", "closed_at": start.AddDate(0, 0, 27)}).Error; err != nil {
				t.Fatal(err)
			}
			// The statement sets every one's status (the trigger does not look
			// whether it changed), so all 40 are counted again, harmlessly.
			if n := refreshAll(t, s); n != 40 {
				t.Fatalf("the catch-up counted %d reclosed, want 40", n)
			}
			compare("reclosed")
			if _, err := sc.DeleteVisitor(ctx, other); err != nil {
				t.Fatal(err)
			}
			var left int64
			if err := s.Gorm().Raw("SELECT COALESCE(SUM(conversations), 0) FROM report_buckets WHERE workspace_id = ?", w.ws).Scan(&left).Error; err != nil || left != 1500 {
				t.Fatalf("buckets hold %d conversations after the deletion (%v), want 1500", left, err)
			}
		})
	}
}
