package service

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// An admin exports a visitor's data as a JSON file (opened: the message,
// the page view, the note), then deletes the visitor: the visitor's live
// socket closes, the export answers 404, and both acts are audited with
// the visitor's id only. Agents may do neither.
func TestVisitorExportAndDelete(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		al := admin.newAgent(t, "Al", nil)
		_, s := ts.session(t, widgetSessionReq{})
		vc := dial(t, ts.wsURL("/ws/visitor?token="+s.Token), http.Header{"Origin": {ts.origin()}})
		vc.hello(nil)
		conv := vc.start()
		vc.sendMsg(conv.ID, "m1", "my card ends 4242")
		if code := admin.call(t, "PUT", "/api/sites/"+ts.site.ID+"/proactive", map[string]any{"page_trail": true}, nil); code != 200 {
			t.Fatalf("trail on: %d", code)
		}
		view := map[string]any{"id": "view-0001", "url": "https://shop.example/boots", "title": "Boots", "started_at": time.Now().UTC().Format(time.RFC3339Nano)}
		if code := ts.activityPost(t, "/api/widget/pages", map[string]any{"token": s.Token, "views": []any{view}}, nil); code != 200 {
			t.Fatalf("page: %d", code)
		}
		if code := admin.call(t, "POST", "/api/conversations/"+conv.ID+"/notes", map[string]any{"body": "asked for a refund"}, nil); code != 201 && code != 200 {
			t.Fatalf("note: %d", code)
		}

		path := "/api/visitors/" + s.Visitor.ID
		var e struct{ Code string }
		if code := al.call(t, "GET", path+"/export", nil, &e); code != http.StatusForbidden {
			t.Fatalf("an agent exports: %d %q", code, e.Code)
		}
		if code := al.call(t, "DELETE", path, nil, &e); code != http.StatusForbidden {
			t.Fatalf("an agent deletes: %d %q", code, e.Code)
		}

		req, _ := http.NewRequest("GET", ts.URL+path+"/export", nil)
		req.Header.Set("Origin", ts.origin())
		res, err := admin.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ex exportJSON
		json.NewDecoder(res.Body).Decode(&ex)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment;") {
			t.Fatalf("export: %d %q", res.StatusCode, res.Header.Get("Content-Disposition"))
		}
		if ex.Visitor.ID != s.Visitor.ID || len(ex.PageViews) != 1 || ex.PageViews[0].URL != "https://shop.example/boots" ||
			len(ex.Conversations) != 1 || len(ex.Conversations[0].Messages) == 0 || len(ex.Conversations[0].Notes) != 1 ||
			ex.Conversations[0].Notes[0].Body != "asked for a refund" {
			t.Fatalf("export %+v", ex)
		}
		found := false
		for _, m := range ex.Conversations[0].Messages {
			found = found || m.Body == "my card ends 4242"
		}
		if !found {
			t.Fatalf("the visitor's message is not in the export (opened): %+v", ex.Conversations[0].Messages)
		}

		var del struct{ Deleted map[string]int64 }
		if code := admin.call(t, "DELETE", path, nil, &del); code != 200 || del.Deleted["visitors"] != 1 || del.Deleted["messages"] == 0 {
			t.Fatalf("delete: %d %+v", code, del)
		}
		vc.expectClosed("the deleted visitor's socket")
		if code := admin.call(t, "GET", path+"/export", nil, &e); code != http.StatusNotFound || e.Code != "not_found" {
			t.Fatalf("export after delete: %d %q", code, e.Code)
		}
		if code := admin.call(t, "DELETE", path, nil, &e); code != http.StatusNotFound {
			t.Fatalf("delete again: %d", code)
		}
		var audit struct{ Entries []auditJSON }
		admin.call(t, "GET", "/api/audit", nil, &audit)
		seen := map[string]bool{}
		for _, a := range audit.Entries {
			if a.Action == "visitor_exported" || a.Action == "visitor_deleted" {
				if a.Target != s.Visitor.ID || a.Detail != "" {
					t.Fatalf("audit entry %+v: the visitor's id only", a)
				}
				seen[a.Action] = true
			}
		}
		if !seen["visitor_exported"] || !seen["visitor_deleted"] {
			t.Fatalf("audit %+v", audit.Entries)
		}
	})
}
