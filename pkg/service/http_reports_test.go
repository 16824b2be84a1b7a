package service

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/report"
)

// TestReportsForTheDashboard: an admin reads today's report (the visitor's
// conversation, the site by name) as JSON and CSV; bad periods and zones
// are refused; a plain agent may not read reports.
func TestReportsForTheDashboard(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		v := ts.visitor(t)
		v.hello(nil)
		conv := v.start()
		v.sendMsg(conv.ID, "m1", "hello")
		today := time.Now().In(time.UTC).Format(time.DateOnly)
		var rep report.Report
		if code := admin.call(t, "GET", "/api/reports?tz=Pacific/Kiritimati&from="+time.Now().AddDate(0, 0, -2).Format(time.DateOnly), nil, &rep); code != 200 {
			t.Fatalf("report: %d", code)
		}
		if rep.Totals.Conversations != 1 || len(rep.Sites) != 1 || rep.Sites[0].Name != ts.site.Name || rep.TimeZone != "Pacific/Kiritimati" {
			t.Fatalf("report %+v", rep)
		}
		// The default period: the last 7 days, in UTC.
		if admin.call(t, "GET", "/api/reports", nil, &rep); rep.To != today || len(rep.Days) != 7 || rep.Totals.Conversations != 1 {
			t.Fatalf("default report: %s..%s, %d days, %d conversations", rep.From, rep.To, len(rep.Days), rep.Totals.Conversations)
		}
		for q, what := range map[string]string{
			"tz=Mars/Olympus":               "unknown zone",
			"tz=Local":                      "the server's zone",
			"from=2026-03-10&to=2026-03-01": "ends before it starts",
			"from=2024-01-01&to=2026-01-01": "over a year",
			"from=yesterday":                "not a date",
		} {
			var e apiErr
			if code := admin.call(t, "GET", "/api/reports?"+q, nil, &e); code != http.StatusBadRequest || e.Code == "" {
				t.Errorf("%s (%s): %d %+v, want 400", q, what, code, e)
			}
		}
		res, err := admin.hc.Get(ts.URL + "/api/reports/csv?to=" + today)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(res.Body).ReadAll()
		res.Body.Close()
		if err != nil || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || len(recs) != 1+1+7+1 || recs[1][3] != "1" {
			t.Fatalf("csv: %v %s %q", err, res.Header.Get("Content-Type"), recs)
		}
		al := admin.newAgent(t, "Al", nil)
		if code := al.call(t, "GET", "/api/reports", nil, nil); code != http.StatusForbidden {
			t.Errorf("a plain agent's report: %d, want 403", code)
		}
	})
}
