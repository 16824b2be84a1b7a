package service

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// The dashboard's webhook controls: a test event reaches the receiver
// signed and its answer's start is in the log; rotating the secret signs
// the next deliveries with the new one (shown once); a paused webhook
// gets no events; all of it is for admins only and audited.
func TestWebhookTestEventRotateAndPause(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			rcv := newReceiver(t, 1) // the first request gets 500 "not now"
			ts := newTestServerWith(t, st, nil, ratelimit.Rules{}, webhookArgs...)
			startWebhooks(t, ts)
			admin := ts.signIn(t, "admin@parley.local", adminPassword)
			hook := createWebhook(t, admin, rcv.URL, "conversation.started")
			rcv.mu.Lock()
			rcv.secret = hook.Secret
			rcv.mu.Unlock()

			agent := admin.newAgent(t, "Eve", nil)
			for _, r := range []struct{ method, path string }{{"PATCH", "/api/webhooks/" + hook.ID}, {"POST", "/api/webhooks/" + hook.ID + "/secret"},
				{"POST", "/api/webhooks/" + hook.ID + "/test"}, {"GET", "/api/webhooks"}, {"GET", "/api/tokens"}} {
				if code := agent.call(t, r.method, r.path, map[string]any{"enabled": false}, nil); code != http.StatusForbidden {
					t.Errorf("agent %s %s: %d, want 403", r.method, r.path, code)
				}
			}

			var sent struct{ Delivery deliveryJSON }
			if code := admin.call(t, "POST", "/api/webhooks/"+hook.ID+"/test", nil, &sent); code != http.StatusCreated || sent.Delivery.Event != eventTest {
				t.Fatalf("test event: %d %+v", code, sent.Delivery)
			}
			waitWithin(t, "the test event's first (failed) attempt", 10*time.Second, func() bool {
				log := deliveryLog(t, admin, hook.ID)
				return len(log) == 1 && log[0].Attempts >= 1
			})
			if d := deliveryLog(t, admin, hook.ID)[0]; d.Attempts == 1 && (d.ResponseStatus != 500 || !strings.Contains(d.ResponseExcerpt, "not now")) {
				t.Fatalf("failed attempt logged as %+v, want 500 with the receiver's answer", d)
			}
			waitWithin(t, "the test event delivered on retry", 20*time.Second, func() bool {
				return deliveryLog(t, admin, hook.ID)[0].Status == store.DeliveryDelivered
			})
			if r := rcv.requests(); len(r) != 2 || r[1].verified != nil || r[1].event.Type != eventTest {
				t.Fatalf("receiver got %d requests, last %+v (signature %v)", len(r), r[len(r)-1].event, r[len(r)-1].verified)
			}

			var rotated struct{ Webhook webhookJSON }
			if code := admin.call(t, "POST", "/api/webhooks/"+hook.ID+"/secret", nil, &rotated); code != 200 ||
				len(rotated.Webhook.Secret) < 20 || rotated.Webhook.Secret == hook.Secret {
				t.Fatalf("rotate: %d, new secret %q (old %q)", code, rotated.Webhook.Secret, hook.Secret)
			}
			var list struct{ Webhooks []webhookJSON }
			admin.call(t, "GET", "/api/webhooks", nil, &list)
			if len(list.Webhooks) != 1 || list.Webhooks[0].Secret != "" || !list.Webhooks[0].Enabled {
				t.Fatalf("list after rotation: %+v (the secret is shown once only)", list.Webhooks)
			}
			rcv.mu.Lock()
			rcv.secret = rotated.Webhook.Secret
			rcv.mu.Unlock()

			var paused struct{ Webhook webhookJSON }
			if code := admin.call(t, "PATCH", "/api/webhooks/"+hook.ID, map[string]any{"enabled": false}, &paused); code != 200 || paused.Webhook.Enabled {
				t.Fatalf("pause: %d %+v", code, paused.Webhook)
			}
			if code := admin.call(t, "PATCH", "/api/webhooks/"+hook.ID, map[string]any{}, nil); code != 400 {
				t.Fatalf("PATCH without enabled: %d, want 400", code)
			}
			v := ts.visitor(t)
			v.hello(nil)
			v.start()
			// A test event still goes to a paused webhook (the admin asked),
			// signed with the new secret; the conversation started while
			// paused is not in the log.
			admin.call(t, "POST", "/api/webhooks/"+hook.ID+"/test", nil, nil)
			waitWithin(t, "the second test event", 10*time.Second, func() bool { return len(rcv.requests()) == 3 })
			if r := rcv.requests()[2]; r.verified != nil || r.event.Type != eventTest {
				t.Fatalf("after rotation: %s, signature %v", r.event.Type, r.verified)
			}
			for _, d := range deliveryLog(t, admin, hook.ID) {
				if d.Event == "conversation.started" {
					t.Fatal("a paused webhook got a delivery")
				}
			}

			var audit struct {
				Entries []struct{ Action string }
			}
			admin.call(t, "GET", "/api/audit", nil, &audit)
			seen := map[string]bool{}
			for _, e := range audit.Entries {
				seen[e.Action] = true
			}
			for _, a := range []string{"webhook.test", "webhook.rotate_secret", "webhook.disable"} {
				if !seen[a] {
					t.Errorf("audit log lacks %s", a)
				}
			}
		})
	}
}

// An admin edits a webhook: the next delivery goes to the new URL, for the
// newly chosen events, signed with the same secret, and the webhook stays
// on; the new URL is checked as on creation (a server that refuses private
// addresses refuses them here too); the edit is audited.
func TestWebhookEdit(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			before, after := newReceiver(t, 0), newReceiver(t, 0)
			ts := newTestServerWith(t, st, nil, ratelimit.Rules{}, webhookArgs...)
			startWebhooks(t, ts)
			admin := ts.signIn(t, "admin@parley.local", adminPassword)
			hook := createWebhook(t, admin, before.URL, "message.created")
			after.mu.Lock()
			after.secret = hook.Secret
			after.mu.Unlock()

			path := "/api/webhooks/" + hook.ID
			for _, bad := range []map[string]any{
				{},
				{"url": "ftp://hooks.example.com/parley"},
				{"url": "https://user:secret@hooks.example.com/parley"},
				{"events": []string{}},
				{"events": []string{"conversation.started", "conversation.exploded"}},
			} {
				if code := admin.call(t, "PATCH", path, bad, nil); code != http.StatusBadRequest {
					t.Errorf("PATCH %v: %d, want 400", bad, code)
				}
			}

			var edited struct{ Webhook webhookJSON }
			code := admin.call(t, "PATCH", path, map[string]any{"url": after.URL + "/v2", "events": []string{"conversation.started", "conversation.started"}}, &edited)
			if w := edited.Webhook; code != 200 || w.URL != after.URL+"/v2" || !slices.Equal(w.Events, []string{"conversation.started"}) || !w.Enabled || w.Secret != "" {
				t.Fatalf("edit: %d %+v", code, w)
			}
			var list struct{ Webhooks []webhookJSON }
			admin.call(t, "GET", "/api/webhooks", nil, &list)
			if len(list.Webhooks) != 1 || list.Webhooks[0].URL != after.URL+"/v2" || !slices.Equal(list.Webhooks[0].Events, []string{"conversation.started"}) {
				t.Fatalf("list after the edit: %+v", list.Webhooks)
			}

			// conversation.started was not subscribed before the edit: it
			// reaches the new URL, signed with the webhook's secret.
			v := ts.visitor(t)
			v.hello(nil)
			v.start()
			waitWithin(t, "conversation.started at the new URL", 10*time.Second, func() bool { return len(after.requests()) == 1 })
			if r := after.requests()[0]; r.verified != nil || r.event.Type != "conversation.started" {
				t.Fatalf("the new URL got %s (signature %v)", r.event.Type, r.verified)
			}
			if n := len(before.requests()); n != 0 {
				t.Fatalf("the old URL got %d requests", n)
			}

			// Creation's rules, on a server that keeps webhooks off private
			// and loopback addresses (the default).
			strict := newTestServer(t, st).signIn(t, "admin@parley.local", adminPassword)
			for _, u := range []string{"http://127.0.0.1:8080/parley", "http://10.1.2.3/parley", "http://[::1]/parley", "http://169.254.169.254/latest"} {
				if code := strict.call(t, "PATCH", path, map[string]any{"url": u}, nil); code != http.StatusBadRequest {
					t.Errorf("edit to %s: %d, want 400", u, code)
				}
			}
			if code := strict.call(t, "PATCH", path, map[string]any{"url": "https://hooks.example.com/parley"}, &edited); code != 200 ||
				edited.Webhook.URL != "https://hooks.example.com/parley" || !slices.Equal(edited.Webhook.Events, []string{"conversation.started"}) {
				t.Fatalf("edit of the URL alone: %d %+v (the events stay)", code, edited.Webhook)
			}

			var audit struct {
				Entries []struct{ Action, Target, Detail string }
			}
			admin.call(t, "GET", "/api/audit", nil, &audit)
			edits := 0
			for _, e := range audit.Entries {
				if e.Action == "webhook.edit" && e.Target == hook.ID {
					edits++
				}
			}
			if edits != 2 {
				t.Fatalf("audit log has %d webhook.edit entries, want 2: %+v", edits, audit.Entries)
			}
		})
	}
}

// The tokens list names the admin who made each token.
func TestTokenListNamesItsMaker(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	_, id := newAPIToken(t, admin, "crm", "read")
	var out struct{ Tokens []tokenJSON }
	if code := admin.call(t, "GET", "/api/tokens", nil, &out); code != 200 || len(out.Tokens) != 1 {
		t.Fatalf("list: %d %+v", code, out.Tokens)
	}
	if tk := out.Tokens[0]; tk.ID != id || tk.CreatedBy == "" || tk.CreatedByName == "" || tk.Secret != "" {
		t.Fatalf("token listed as %+v", tk)
	}
}
