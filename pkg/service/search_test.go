package service

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// An agent searches the workspace's messages: the one message holding
// every word is found among many, with its conversation (to open it) and
// seq (to scroll to), a snippet and the visitor's name; a note is found
// too; a bad query is a 400 with a code. (Another workspace finds none
// of it: TestCrossWorkspaceAccessIsNotFound.)
func TestSearchAPI(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		v := ts.visitor(t)
		v.hello(nil)
		conv := v.start()
		for i := range 20 {
			v.sendMsg(conv.ID, fmt.Sprint("m", i), fmt.Sprintf("question %d about delivery times", i))
		}
		v.sendMsg(conv.ID, "needle", "The parcel tracking number ZX-4471 shows nothing since Tuesday, please help")
		if code := admin.call(t, "POST", "/api/conversations/"+conv.ID+"/notes", map[string]any{"body": "Courier claims the parcel was returned"}, nil); code != 201 && code != 200 {
			t.Fatalf("note: %d", code)
		}
		for {
			n, err := ts.st.IndexMessages(ctx, 100, time.Now().Add(time.Minute), 0)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		var res struct {
			Words         []string
			Messages      []searchHitJSON
			Notes         []searchHitJSON
			Conversations []struct{ ID string }
		}
		if code := admin.call(t, "GET", "/api/search?q="+url.QueryEscape("parcel zx 4471"), nil, &res); code != 200 {
			t.Fatalf("search: %d", code)
		}
		if len(res.Messages) != 1 || res.Messages[0].Conversation != conv.ID || res.Messages[0].Seq != 21 ||
			!strings.Contains(res.Messages[0].Snippet, "ZX-4471") || res.Messages[0].AuthorKind != "visitor" {
			t.Fatalf("messages %+v", res.Messages)
		}
		if len(res.Notes) != 0 || len(res.Conversations) != 1 || res.Conversations[0].ID != conv.ID {
			t.Fatalf("notes %+v conversations %+v", res.Notes, res.Conversations)
		}
		if code := admin.call(t, "GET", "/api/search?q=parcel", nil, &res); code != 200 || len(res.Messages) != 1 || len(res.Notes) != 1 ||
			res.Notes[0].AuthorName == "" {
			t.Fatalf("parcel: %d %+v %+v", code, res.Messages, res.Notes)
		}
		if code := admin.call(t, "GET", "/api/search?q=delivery&limit=5", nil, &res); code != 200 || len(res.Messages) != 5 || res.Messages[0].Seq != 20 {
			t.Fatalf("delivery: %d %+v", code, res.Messages)
		}

		for _, bad := range []string{"", "%20%20", "!!!", strings.Repeat("a", 201), "x&limit=0", "x&limit=51", "x&before=z"} {
			var e struct{ Error, Code string }
			if code := admin.call(t, "GET", "/api/search?q="+bad, nil, &e); code != http.StatusBadRequest || e.Code == "" || e.Error == "" {
				t.Fatalf("q=%q: %d %+v", bad, code, e)
			}
		}
	})
}
