package service

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
)

// visitorOnPage opens a widget session as the widget frame does on a page
// of the customer's site.
func (ts *testServer) visitorOnPage(t *testing.T, page string) (*client, string) {
	t.Helper()
	body, _ := json.Marshal(widgetSessionReq{SiteID: ts.site.ID, Locale: "en-US", Page: page})
	req, _ := http.NewRequest("POST", ts.URL+"/api/widget/session", bytes.NewReader(body))
	req.Header.Set("Origin", ts.origin())
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("widget session: %v %v", err, res)
	}
	defer res.Body.Close()
	var out struct{ Token string }
	json.NewDecoder(res.Body).Decode(&out)
	c := dial(t, ts.wsURL("/ws/visitor?token="+out.Token), http.Header{"Origin": {ts.origin()}})
	c.hello(nil)
	return c, out.Token
}

// widgetPost posts to a widget endpoint as the widget frame does.
func (ts *testServer) widgetPost(t *testing.T, path string, body any, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", ts.URL+path, bytes.NewReader(b))
	req.Header.Set("Origin", ts.origin())
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

// Page rules: the first rule matching the page a conversation starts on
// sets the skill or team it needs; agents read why.
func TestRoutingPageRules(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		admin.socket(t)
		sam := admin.newAgent(t, "Sam", map[string]any{"skills": []string{"sales"}})
		sam.socket(t)
		sue := admin.newAgent(t, "Sue", map[string]any{"skills": []string{"support"}})
		sue.socket(t)
		settings := "/api/sites/" + ts.site.ID + "/routing"
		for _, bad := range []map[string]any{
			{"page_rules": []map[string]string{{"pattern": "/x"}}},                    // no skill or team
			{"page_rules": []map[string]string{{"pattern": "", "skill": "sales"}}},    // no pattern
			{"page_rules": []map[string]string{{"pattern": "/x", "skill": "a,b"}}},    // comma
			{"prechat_choices": []map[string]string{{"label": "", "skill": "sales"}}}, // no label
		} {
			var e struct{ Code, Error string }
			if code := admin.call(t, "PATCH", settings, bad, &e); code != 400 || e.Code != protocol.CodeInvalid || e.Error == "" {
				t.Fatalf("bad rules %v: %d %+v", bad, code, e)
			}
		}
		rules := []map[string]string{{"pattern": "/pricing*", "skill": "sales"}, {"pattern": "/docs/*", "skill": "support"}, {"pattern": "/*", "skill": "support"}}
		var got struct{ Routing siteRoutingJSON }
		if code := admin.call(t, "PATCH", settings, map[string]any{"page_rules": rules}, &got); code != 200 || len(*got.Routing.PageRules) != 3 {
			t.Fatalf("save rules: %d %+v", code, got)
		}
		// A PATCH without page_rules (an older dashboard) keeps them.
		if code := admin.call(t, "PATCH", settings, map[string]any{"mode": "auto"}, &got); code != 200 || len(*got.Routing.PageRules) != 3 {
			t.Fatalf("rules after a PATCH without them: %d %+v", code, got.Routing.PageRules)
		}
		for _, tc := range []struct{ page, agent, skill string }{
			{"https://user:pw@shop.example/pricing/teams?token=secret#top", sam.id, "sales"},
			{"https://shop.example/docs/install", sue.id, "support"},
			{"https://shop.example/pricing", sam.id, "sales"},
			{"https://shop.example/about", sue.id, "support"}, // the catch-all, last
		} {
			v, _ := ts.visitorOnPage(t, tc.page)
			conv := v.start()
			if conv.AgentID != tc.agent || conv.Skill != tc.skill {
				t.Fatalf("page %s: %+v, want skill %s", tc.page, conv, tc.skill)
			}
			var why struct{ Routing struct{ Reasons []string } }
			if code := admin.call(t, "GET", "/api/conversations/"+conv.ID+"/routing", nil, &why); code != 200 || len(why.Routing.Reasons) < 2 {
				t.Fatalf("routing reasons: %d %+v", code, why)
			}
			last := why.Routing.Reasons[len(why.Routing.Reasons)-1]
			if !strings.Contains(last, "page https://shop.example/") || !strings.Contains(last, "matches rule") || !strings.Contains(why.Routing.Reasons[0], "skill "+tc.skill) {
				t.Fatalf("page %s: reasons %q", tc.page, why.Routing.Reasons)
			}
			// Query, fragment and credentials are not kept: they may hold secrets.
			if strings.ContainsAny(last, "?#@") {
				t.Fatalf("page %s kept as %q", tc.page, last)
			}
		}
		if code := admin.call(t, "GET", "/api/conversations/nope/routing", nil, nil); code != 404 {
			t.Fatalf("unknown conversation: %d", code)
		}
	})
}

// Pre-chat choices defined per site: the widget lists their labels, and
// the visitor's choice sets the skill (it wins over a page rule).
func TestRoutingPrechatChoiceSetsTheSkill(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		admin.socket(t)
		bea := admin.newAgent(t, "Bea", map[string]any{"skills": []string{"billing"}})
		bea.socket(t)
		settings := map[string]any{
			"prechat_choices": []map[string]string{{"label": "Billing question", "skill": "billing"}, {"label": "Something else", "team": "general"}},
			"page_rules":      []map[string]string{{"pattern": "/*", "team": "general"}},
		}
		if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID+"/routing", settings, nil); code != 200 {
			t.Fatalf("save choices: %d", code)
		}
		res, err := http.Get(ts.URL + "/api/widget/availability?site=" + ts.site.ID)
		if err != nil {
			t.Fatal(err)
		}
		var av struct{ Choices []string }
		json.NewDecoder(res.Body).Decode(&av)
		res.Body.Close()
		if len(av.Choices) != 2 || av.Choices[0] != "Billing question" {
			t.Fatalf("availability choices %q", av.Choices)
		}
		v, token := ts.visitorOnPage(t, "https://shop.example/cart")
		if code := ts.widgetPost(t, "/api/widget/prechat", map[string]any{"token": token, "choice": "Refunds"}, nil); code != 400 {
			t.Fatalf("unknown choice: %d", code)
		}
		if code := ts.widgetPost(t, "/api/widget/prechat", map[string]any{"token": "bad", "choice": "Billing question"}, nil); code != 401 {
			t.Fatalf("bad token: %d", code)
		}
		if code := ts.widgetPost(t, "/api/widget/prechat", map[string]any{"token": token, "choice": "Billing question"}, nil); code != 200 {
			t.Fatalf("choice: %d", code)
		}
		conv := v.start()
		if conv.AgentID != bea.id || conv.Skill != "billing" || conv.Team != "" {
			t.Fatalf("billing choice: %+v", conv)
		}
		// Choosing again on the started conversation changes what it needs.
		if code := ts.widgetPost(t, "/api/widget/prechat", map[string]any{"token": token, "choice": "Something else"}, nil); code != 200 {
			t.Fatalf("second choice: %d", code)
		}
		c, _ := ts.st.Workspace(ts.site.WorkspaceID).Conversation(t.Context(), conv.ID)
		if c.Skill != "" || c.Team != "general" || !strings.HasPrefix(c.RoutingReason, `pre-chat choice "Something else"`) {
			t.Fatalf("after the second choice: skill %q team %q reason %q", c.Skill, c.Team, c.RoutingReason)
		}
	})
}
