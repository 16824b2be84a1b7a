package service

import (
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/report"
	"github.com/parleychat/parley/pkg/store"
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

// TestConversionsInsideAndOutsideTheWindow: a purchase the page tracks
// counts for the visitor's conversation started within the site's window
// (with its agent, and as assisted when the assistant answered in it), not
// for one started before; widening the window takes the older one in. The
// report counts them per agent with the rate over conversations.
func TestConversionsInsideAndOutsideTheWindow(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		ws := ts.st.Workspace(ts.site.WorkspaceID)
		if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID, map[string]any{"conversion_window_hours": 0}, nil); code != 400 {
			t.Fatalf("window 0: %d, want 400", code)
		}
		var site struct{ Site siteJSON }
		if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID, map[string]any{"conversion_window_hours": 24}, &site); code != 200 || site.Site.ConversionWindowHours != 24 {
			t.Fatalf("window 24 h: %d %+v", code, site.Site)
		}
		now := time.Now().UTC()
		visit := func(age time.Duration, assistant bool) (token, conv string) {
			_, s := ts.session(t, widgetSessionReq{})
			c, err := ws.CreateConversation(ctx, store.Conversation{ID: uuid.NewString(), SiteID: ts.site.ID, VisitorID: s.Visitor.ID,
				AgentID: &admin.id, Status: "closed", CreatedAt: now.Add(-age)})
			if err != nil {
				t.Fatal(err)
			}
			if assistant {
				if err := ts.st.Gorm().Create(&store.Message{WorkspaceID: ts.site.WorkspaceID, ConversationID: c.ID, Seq: 1, ClientID: "a1",
					AuthorKind: "assistant", Body: "x", CreatedAt: c.CreatedAt}).Error; err != nil {
					t.Fatal(err)
				}
			}
			return s.Token, c.ID
		}
		buy := func(token string, props map[string]any) (int, string) {
			var e struct{ Code string }
			return ts.activityPost(t, "/api/widget/events", map[string]any{"token": token, "name": "purchase", "props": props}, &e), e.Code
		}
		inside, insideConv := visit(2*time.Hour, true)
		outside, outsideConv := visit(30*time.Hour, false)
		for _, bad := range []map[string]any{{"value": "49"}, {"value": -1}, {"value": 1, "currency": "euro"}} {
			if code, c := buy(inside, bad); code != 400 || c != "invalid" {
				t.Errorf("purchase %v: %d %s, want 400 invalid", bad, code, c)
			}
		}
		if code, _ := buy(inside, map[string]any{"value": 49.5, "currency": "eur"}); code != 204 {
			t.Fatalf("purchase inside the window: %d", code)
		}
		if code, _ := buy(outside, map[string]any{"value": 20, "currency": "EUR"}); code != 204 {
			t.Fatalf("purchase outside the window: %d", code)
		}
		var got []store.Conversion
		ts.st.Gorm().Where("workspace_id = ?", ts.site.WorkspaceID).Order("id").Find(&got)
		if len(got) != 1 || got[0].ConversationID != insideConv || got[0].AgentID != admin.id || !got[0].Assisted || got[0].Value != 49.5 || got[0].Currency != "EUR" {
			t.Fatalf("conversions %+v: want one, for the conversation inside the window", got)
		}
		from := "?from=" + now.AddDate(0, 0, -3).Format(time.DateOnly)
		var rep report.Report
		if code := admin.call(t, "GET", "/api/reports"+from, nil, &rep); code != 200 {
			t.Fatalf("report: %d", code)
		}
		if tot := rep.Totals; tot.Conversions != 1 || tot.ConversionValue != 49.5 || tot.ConversionRate != 0.5 || tot.AssistedConversions != 1 ||
			len(rep.Currencies) != 1 || rep.Currencies[0] != "EUR" || len(rep.Agents) != 1 || rep.Agents[0].Conversions != 1 {
			t.Fatalf("report conversions %+v %v %+v", tot, rep.Currencies, rep.Agents)
		}
		// A wider window takes the older conversation in.
		if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID, map[string]any{"conversion_window_hours": 48}, nil); code != 200 {
			t.Fatalf("window 48 h: %d", code)
		}
		if code, _ := buy(outside, map[string]any{"value": 20, "currency": "EUR"}); code != 204 {
			t.Fatal(code)
		}
		got = nil
		ts.st.Gorm().Where("workspace_id = ? AND conversation_id = ?", ts.site.WorkspaceID, outsideConv).Find(&got)
		if len(got) != 1 || got[0].Assisted {
			t.Fatalf("after widening: %+v", got)
		}
		if admin.call(t, "GET", "/api/reports"+from, nil, &rep); rep.Totals.Conversions != 2 || rep.Totals.ConversionRate != 1 || rep.Totals.ConversionValue != 69.5 {
			t.Fatalf("report after widening: %+v", rep.Totals)
		}
	})
}
