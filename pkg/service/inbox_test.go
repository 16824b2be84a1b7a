package service

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

type inboxReply struct {
	Conversations []inboxItem `json:"conversations"`
	NextCursor    string      `json:"next_cursor"`
}

// inboxHas lists a view with filters and reports whether conv is in it.
func (s *session) inboxHas(t *testing.T, query url.Values, conv string) bool {
	t.Helper()
	var out inboxReply
	if code := s.call(t, "GET", "/api/inbox?"+query.Encode(), nil, &out); code != http.StatusOK {
		t.Fatalf("inbox %s: %d", query.Encode(), code)
	}
	for _, c := range out.Conversations {
		if c.ID == conv {
			return true
		}
	}
	return false
}

func waitUntil(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The inbox through its API: views by role, states (pending, reopened by
// the visitor, snoozed and back on time by the server's timer, resolved),
// tags as a filter, counts.
func TestInboxAPI(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		agent := admin.newAgent(t, "Ana", map[string]any{"role": "agent"})
		v := ts.visitor(t)
		v.hello(nil)
		conv := v.start()
		v.sendMsg(conv.ID, "m1", "hello?")
		q := func(kv ...string) url.Values {
			out := url.Values{}
			for i := 0; i < len(kv); i += 2 {
				out.Set(kv[i], kv[i+1])
			}
			return out
		}

		if !agent.inboxHas(t, q("view", "unassigned", "status", "open"), conv.ID) {
			t.Fatal("a queued conversation is not in the unassigned view")
		}
		if agent.inboxHas(t, q("view", "mine"), conv.ID) {
			t.Fatal("a queued conversation is in the agent's own view")
		}
		var e struct{ Code string }
		if code := agent.call(t, "GET", "/api/inbox?view=all", nil, &e); code != http.StatusForbidden || e.Code != "forbidden" {
			t.Fatalf("an agent opens the all view: %d %q", code, e.Code)
		}
		for _, bad := range []string{"view=every", "view=all&status=lost", "view=all&cursor=zz", "view=all&limit=1000", "view=all&from=yesterday"} {
			if code := admin.call(t, "GET", "/api/inbox?"+bad, nil, &e); code != http.StatusBadRequest || e.Code != "invalid" {
				t.Errorf("%s: %d %q, want 400 invalid", bad, code, e.Code)
			}
		}

		// Pending: waiting on the visitor. An agent who does not own it
		// cannot; the visitor writing opens it again.
		state := func(s *session, st string, until *time.Time) int {
			return s.call(t, "POST", "/api/conversations/"+conv.ID+"/state", map[string]any{"state": st, "until": until}, &e)
		}
		if code := state(admin, "pending", nil); code != http.StatusNoContent {
			t.Fatalf("pending: %d %q", code, e.Code)
		}
		if !admin.inboxHas(t, q("view", "all", "status", "pending"), conv.ID) || admin.inboxHas(t, q("view", "all", "status", "open"), conv.ID) {
			t.Fatal("the pending conversation is not (only) in pending")
		}
		v.sendMsg(conv.ID, "m2", "still here")
		if !admin.inboxHas(t, q("view", "all", "status", "open"), conv.ID) {
			t.Fatal("the visitor's message did not reopen the pending conversation")
		}

		// Snoozed for a second: back by itself.
		past := time.Now().Add(-time.Minute)
		if code := state(admin, "snoozed", &past); code != http.StatusBadRequest {
			t.Fatalf("snoozed into the past: %d", code)
		}
		until := time.Now().Add(time.Second)
		if code := state(admin, "snoozed", &until); code != http.StatusNoContent {
			t.Fatalf("snooze: %d %q", code, e.Code)
		}
		if !admin.inboxHas(t, q("view", "all", "status", "snoozed"), conv.ID) {
			t.Fatal("the snoozed conversation is not in snoozed")
		}
		waitUntil(t, "the snoozed conversation comes back", 10*time.Second, func() bool {
			return admin.inboxHas(t, q("view", "all", "status", "open"), conv.ID)
		})
		if time.Now().Before(until) {
			t.Fatal("the snoozed conversation came back early")
		}

		// Tags: supervisors and admins make them, anyone tags.
		var tag struct{ Tag tagJSON }
		if code := agent.call(t, "POST", "/api/tags", map[string]string{"name": "billing"}, nil); code != http.StatusForbidden {
			t.Fatalf("an agent creates a tag: %d", code)
		}
		if code := admin.call(t, "POST", "/api/tags", map[string]string{"name": "  billing  ", "color": "#ff8800"}, &tag); code != http.StatusCreated || tag.Tag.Name != "billing" {
			t.Fatalf("create tag: %d %+v", code, tag)
		}
		if code := admin.call(t, "POST", "/api/tags", map[string]string{"name": "Billing"}, &e); code != http.StatusConflict {
			t.Fatalf("a second billing: %d", code)
		}
		var tags struct{ Tags []tagJSON }
		if code := agent.call(t, "PUT", "/api/conversations/"+conv.ID+"/tags", map[string]any{"tags": []string{tag.Tag.ID}}, &tags); code != http.StatusOK || len(tags.Tags) != 1 {
			t.Fatalf("tag: %d %+v", code, tags)
		}
		if code := agent.call(t, "PUT", "/api/conversations/"+conv.ID+"/tags", map[string]any{"tags": []string{"no-such-tag"}}, &e); code != http.StatusBadRequest {
			t.Fatalf("an unknown tag: %d", code)
		}
		if !agent.inboxHas(t, q("view", "unassigned", "tag", tag.Tag.ID), conv.ID) {
			t.Fatal("the tag filter misses the tagged conversation")
		}
		var counts struct{ Counts map[string]int64 }
		if code := agent.call(t, "GET", "/api/inbox/counts?status=open&tag="+tag.Tag.ID, nil, &counts); code != http.StatusOK ||
			counts.Counts["unassigned"] != 1 || counts.Counts["mine"] != 0 {
			t.Fatalf("agent's counts: %d %v", code, counts.Counts)
		}
		if _, ok := counts.Counts["all"]; ok {
			t.Fatal("an agent is counted the all view")
		}

		// Resolved: closed; no longer snoozable.
		if code := state(admin, "resolved", nil); code != http.StatusNoContent {
			t.Fatalf("resolve: %d %q", code, e.Code)
		}
		if !admin.inboxHas(t, q("view", "all", "status", "resolved"), conv.ID) {
			t.Fatal("the resolved conversation is not in resolved")
		}
		if code := state(admin, "pending", nil); code != http.StatusConflict || e.Code != "closed" {
			t.Fatalf("a resolved conversation set pending: %d %q", code, e.Code)
		}
		if code := admin.call(t, "DELETE", "/api/tags/"+tag.Tag.ID, nil, nil); code != http.StatusNoContent {
			t.Fatalf("delete tag: %d", code)
		}
		if code := agent.call(t, "GET", "/api/conversations/"+conv.ID+"/tags", nil, &tags); code != http.StatusOK || len(tags.Tags) != 0 {
			t.Fatalf("tags after the tag was deleted: %d %+v", code, tags)
		}
	})
}
