package report_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/report"
	"github.com/parleychat/parley/pkg/report/reporttest"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// TestReportScale generates a year of chats (PARLEY_REPORT_CONVERSATIONS,
// default 2,000; `make bench-reports` uses 100,000) with ten messages each,
// runs the catch-up that computes and counts them (timed), and times a
// report over the whole year, one month and one agent's month, first
// reading every conversation's figures (the path before the buckets),
// then from the buckets.
// It logs the timings and checks the counts; speed is for the benchmark
// run to show, not for a loaded test machine to fail on.
func TestReportScale(t *testing.T) {
	n := 2000
	if v := os.Getenv("PARLEY_REPORT_CONVERSATIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	for name, s := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t, s)
			start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			began := time.Now()
			sum, msgs, err := reporttest.Seed(ctx, s, reporttest.History{Workspace: w.ws, Visitor: w.visitor, Sites: []string{w.site},
				Agents: []string{w.agentA, w.agentB}, Start: start, Days: 365, Conversations: n, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: generated %d conversations, %d messages in %v", name, sum, msgs, time.Since(began).Round(time.Millisecond))
			src := s.Workspace(w.ws)
			t0 := time.Now()
			counted := refreshAll(t, s)
			t.Logf("%s: catch-up computed and counted %d conversations in %v", name, counted, time.Since(t0).Round(time.Millisecond))
			for _, phase := range []struct {
				name string
				src  report.Source
			}{{"every conversation's figures", everyConversation{src}}, {"buckets", src}} {
				for _, q := range []struct {
					what     string
					from, to time.Time
					agent    string
				}{
					{"year", start, start.AddDate(0, 0, 364), ""},
					{"month", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC), ""},
					{"agent's month", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC), w.agentB},
				} {
					t0 := time.Now()
					rep, err := report.Build(ctx, phase.src, report.Query{From: q.from, To: q.to, Location: time.UTC, AgentID: q.agent})
					if err != nil {
						t.Fatal(err)
					}
					took := time.Since(t0)
					t.Logf("%s: report over a %s from %s: %d conversations, %d replies in %v", name, q.what, phase.name, rep.Totals.Conversations,
						rep.Totals.Response.Count, took.Round(time.Millisecond))
					if q.what == "year" && (rep.Totals.Conversations != n || rep.Totals.Response.Count != 5*n) {
						t.Errorf("year: %d conversations, %d replies; want %d, %d", rep.Totals.Conversations, rep.Totals.Response.Count, n, 5*n)
					}
				}
			}
		})
	}
}
