package service

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
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

// Admins set the retention periods (bad ones refused); the purge deletes a
// conversation closed before them, with its attachment's file, and audits
// it.
func TestRetentionSettingsAndPurgeAudit(t *testing.T) {
	st := storetest.SQLite(t)
	ts := newTestServer(t, st)
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	al := admin.newAgent(t, "Al", nil)
	var e struct{ Code string }
	if code := al.call(t, "PUT", "/api/workspace/retention", map[string]any{"messages_days": 1}, &e); code != http.StatusForbidden {
		t.Fatalf("an agent sets retention: %d", code)
	}
	if code := admin.call(t, "PUT", "/api/workspace/retention", map[string]any{"messages_days": -1}, &e); code != 400 || e.Code != "invalid" {
		t.Fatalf("negative: %d %q", code, e.Code)
	}
	var r struct{ Retention retentionJSON }
	if code := admin.call(t, "PUT", "/api/workspace/retention", map[string]any{"messages_days": 30, "page_views_days": 7}, &r); code != 200 {
		t.Fatalf("set: %d", code)
	}
	r.Retention = retentionJSON{}
	if code := admin.call(t, "GET", "/api/workspace/retention", nil, &r); code != 200 || r.Retention != (retentionJSON{30, 7}) {
		t.Fatalf("get: %d %+v", code, r)
	}

	_, s := ts.session(t, widgetSessionReq{})
	vc := dial(t, ts.wsURL("/ws/visitor?token="+s.Token), http.Header{"Origin": {ts.origin()}})
	vc.hello(nil)
	conv := vc.start()
	vc.sendMsg(conv.ID, "m1", "old news")
	ctx := context.Background()
	// A file of the conversation: its bytes go with its row.
	code, up := upload(t, http.DefaultClient, ts.URL+"/api/widget/conversations/"+conv.ID+"/attachments", s.Token, "", "f1", "photo.png", pngBytes)
	if code != http.StatusOK {
		t.Fatalf("upload: %d %+v", code, up)
	}
	var key string
	st.Gorm().Raw("SELECT blob_key FROM attachments WHERE conversation_id = ?", conv.ID).Scan(&key)
	if _, err := ts.srv.blobs.Get(ctx, key); err != nil {
		t.Fatalf("the file before the purge: %v", err)
	}
	if err := st.Workspace(ts.site.WorkspaceID).CloseConversation(ctx, conv.ID, store.Require{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Gorm().Exec("UPDATE conversations SET closed_at = ? WHERE id = ?", time.Now().Add(-31*24*time.Hour), conv.ID)
	purgeOnce(ctx, st, ts.srv.blobs, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now().UTC())
	if _, err := st.Workspace(ts.site.WorkspaceID).Conversation(ctx, conv.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the old conversation is still there: %v", err)
	}
	if _, err := ts.srv.blobs.Get(ctx, key); err == nil {
		t.Fatal("the purged conversation's file is still stored")
	}
	var audit struct{ Entries []auditJSON }
	admin.call(t, "GET", "/api/audit", nil, &audit)
	var purged, changed bool
	for _, a := range audit.Entries {
		purged = purged || (a.Action == "retention_purged" && a.Detail == "conversations=1 page_views=0 files=1")
		changed = changed || (a.Action == "retention_changed" && a.Detail == "messages_days=30 page_views_days=7")
	}
	if !purged || !changed {
		t.Fatalf("audit %+v", audit.Entries)
	}
}
