package service

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
	"github.com/parleychat/parley/pkg/webhook"
)

// receiver is a webhook endpoint on 127.0.0.1 that checks every request's
// signature and answers 500 to the first failFirst requests.
type receiver struct {
	*httptest.Server
	mu        sync.Mutex
	secret    string
	failFirst int
	got       []received
}

type received struct {
	at       time.Time
	delivery string
	event    eventJSON
	body     []byte
	verified error
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	r := &receiver{failFirst: failFirst}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		got := received{at: time.Now(), delivery: req.Header.Get(webhook.HeaderDelivery), body: body,
			verified: webhook.Verify(r.secret, req.Header.Get(webhook.HeaderTimestamp), req.Header.Get(webhook.HeaderSignature), body, time.Now())}
		json.Unmarshal(body, &got.event)
		r.got = append(r.got, got)
		if len(r.got) <= r.failFirst {
			http.Error(w, "not now", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// startWebhooks runs the server's delivery worker until the returned stop.
func startWebhooks(t *testing.T, ts *testServer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ts.srv.runWebhooks(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return sync.OnceFunc(stop)
}

func waitWithin(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func createWebhook(t *testing.T, admin *session, url string, events ...string) webhookJSON {
	t.Helper()
	var out struct{ Webhook webhookJSON }
	if code := admin.call(t, "POST", "/api/webhooks", map[string]any{"url": url, "events": events}, &out); code != http.StatusCreated {
		t.Fatalf("create webhook: %d", code)
	}
	if len(out.Webhook.Secret) < 20 {
		t.Fatalf("webhook secret %q not shown at creation", out.Webhook.Secret)
	}
	return out.Webhook
}

func deliveryLog(t *testing.T, admin *session, hook string) []deliveryJSON {
	t.Helper()
	var out struct{ Deliveries []deliveryJSON }
	if code := admin.call(t, "GET", "/api/webhooks/"+hook+"/deliveries", nil, &out); code != 200 {
		t.Fatalf("delivery log: %d", code)
	}
	return out.Deliveries
}

var webhookArgs = []string{"-webhook-allow-private", "-webhook-retry-base", "1s"}

// A receiver that fails twice then succeeds gets the event on the third
// attempt, with the server restarted (a new Server on the same store)
// after the first: the retry was queued in the store, not in memory. Then
// an admin replays the delivery from the log.
func TestWebhookRetriesSurviveARestartAndReplay(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			rcv := newReceiver(t, 2)
			first := newTestServerWith(t, st, nil, ratelimit.Rules{}, webhookArgs...)
			stopFirst := startWebhooks(t, first)
			admin := first.signIn(t, "admin@parley.local", adminPassword)
			hook := createWebhook(t, admin, rcv.URL+"/parley", "conversation.started")
			rcv.mu.Lock()
			rcv.secret = hook.Secret
			rcv.mu.Unlock()

			v := first.visitor(t)
			v.hello(nil)
			conv := v.start()
			waitWithin(t, "the first attempt to be recorded", 10*time.Second, func() bool {
				log := deliveryLog(t, admin, hook.ID)
				return len(log) == 1 && log[0].Attempts == 1
			})
			stopFirst()
			stopped := time.Now()
			log := deliveryLog(t, admin, hook.ID)
			if d := log[0]; d.Status != store.DeliveryPending || d.ResponseStatus != 500 || d.NextAttemptAt == nil || d.LastError == "" {
				t.Fatalf("after a failed attempt: %+v", d)
			}

			second := newTestServerWith(t, st, nil, ratelimit.Rules{}, webhookArgs...)
			startWebhooks(t, second)
			admin = second.signIn(t, "admin@parley.local", adminPassword)
			waitWithin(t, "delivery after the restart", 20*time.Second, func() bool {
				log := deliveryLog(t, admin, hook.ID)
				return log[0].Status == store.DeliveryDelivered
			})
			log = deliveryLog(t, admin, hook.ID)
			if d := log[0]; d.Attempts != 3 || d.ResponseStatus != 200 || d.DeliveredAt == nil {
				t.Fatalf("delivered: %+v, want 3 attempts ending in 200", d)
			}
			got := rcv.requests()
			if len(got) != 3 {
				t.Fatalf("receiver got %d requests, want 3", len(got))
			}
			for i, r := range got {
				if r.verified != nil || r.delivery != log[0].ID || !bytes.Equal(r.body, got[0].body) ||
					r.event.Type != "conversation.started" || r.event.Data.Conversation == nil || r.event.Data.Conversation.ID != conv.ID {
					t.Fatalf("request %d: %+v (signature: %v)", i+1, r.event, r.verified)
				}
			}
			if !got[1].at.After(stopped) || got[2].at.Sub(got[1].at) < time.Second {
				t.Fatalf("attempt 2 at %v (first server stopped at %v), attempt 3 %v later: want the retries after the restart, backing off",
					got[1].at, stopped, got[2].at.Sub(got[1].at))
			}

			// Replay from the log: a new delivery of the same event.
			var replay struct{ Delivery deliveryJSON }
			if code := admin.call(t, "POST", "/api/webhook-deliveries/"+log[0].ID+"/replay", nil, &replay); code != http.StatusCreated || replay.Delivery.ReplayOf != log[0].ID {
				t.Fatalf("replay: %d %+v", code, replay.Delivery)
			}
			waitWithin(t, "the replay", 10*time.Second, func() bool { return len(rcv.requests()) == 4 })
			r := rcv.requests()[3]
			if r.verified != nil || r.delivery != replay.Delivery.ID || r.event.ID != got[0].event.ID {
				t.Fatalf("replayed request: delivery %s event %s (signature %v), want delivery %s of event %s",
					r.delivery, r.event.ID, r.verified, replay.Delivery.ID, got[0].event.ID)
			}
			waitWithin(t, "the replay in the log", 5*time.Second, func() bool {
				log := deliveryLog(t, admin, hook.ID)
				return len(log) == 2 && log[0].ID == replay.Delivery.ID && log[0].Status == store.DeliveryDelivered
			})
		})
	}
}

// Every conversation event reaches a webhook subscribed to it, from the
// code paths that already make them happen; payloads are sealed at rest.
func TestWebhookEventsOfAConversation(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			rcv := newReceiver(t, 0)
			ts := newTestServerWith(t, st, nil, ratelimit.Rules{}, webhookArgs...)
			startWebhooks(t, ts)
			admin := ts.signIn(t, "admin@parley.local", adminPassword)
			hook := createWebhook(t, admin, rcv.URL, "conversation.started", "conversation.assigned", "conversation.closed",
				"message.created", "contact.created", "csat.received")
			rcv.mu.Lock()
			rcv.secret = hook.Secret
			rcv.mu.Unlock()
			token, _ := newAPIToken(t, admin, "crm", "write")

			v := ts.visitor(t)
			v.hello(nil)
			conv := v.start()
			v.sendMsg(conv.ID, "m1", "where is my parcel?")
			apiCall(t, ts, token, "POST", "/api/v1/conversations/"+conv.ID+"/messages", map[string]string{"agent_id": admin.id, "body": "on its way"})
			apiCall(t, ts, token, "POST", "/api/v1/conversations/"+conv.ID+"/close", map[string]string{"agent_id": admin.id})

			// An offline message leaves a contact.
			body, _ := json.Marshal(map[string]string{"token": ts.visitorToken(t), "client_id": uuid.NewString(), "name": "Ada", "email": "ada@example.com", "message": "call me"})
			req, _ := http.NewRequest("POST", ts.URL+"/api/widget/offline", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", ts.origin())
			if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
				t.Fatalf("offline form: %v %v", err, res)
			}

			want := []string{"conversation.started", "message.created", "conversation.assigned", "message.created", "conversation.closed",
				"conversation.started", "contact.created", "message.created"}
			var types []string
			waitWithin(t, "every event", 10*time.Second, func() bool {
				types = types[:0]
				for _, r := range rcv.requests() {
					types = append(types, r.event.Type)
				}
				return len(types) >= len(want)
			})
			slices.Sort(types)
			slices.Sort(want)
			if !slices.Equal(types, want) {
				t.Fatalf("events %v, want %v", types, want)
			}
			for _, r := range rcv.requests() {
				if r.verified != nil {
					t.Fatalf("%s: signature %v", r.event.Type, r.verified)
				}
				switch r.event.Type {
				case "conversation.assigned":
					if r.event.Data.AgentID != admin.id {
						t.Errorf("assigned to %q, want the admin", r.event.Data.AgentID)
					}
				case "contact.created":
					if c := r.event.Data.Contact; c == nil || c.Email != "ada@example.com" || c.Name != "Ada" {
						t.Errorf("contact %+v", c)
					}
				case "message.created":
					if m := r.event.Data.Message; m == nil || (m.Body != "where is my parcel?" && m.Body != "on its way" && m.Body != "call me") {
						t.Errorf("message %+v", m)
					}
				}
			}
			var raw []string
			st.Gorm().Raw("SELECT payload FROM webhook_deliveries").Scan(&raw)
			for _, p := range raw {
				if bytes.Contains([]byte(p), []byte("parcel")) || bytes.Contains([]byte(p), []byte("ada@example.com")) {
					t.Fatalf("a payload is stored in the clear: %s", p)
				}
			}
		})
	}
}

// Webhook URLs: http(s) only, and no private targets unless allowed.
func TestWebhookURLsRefused(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	for _, u := range []string{"http://127.0.0.1:9/x", "http://10.0.0.1/x", "file:///etc/passwd", "https://u:p@example.com/"} {
		var e struct{ Code string }
		if code := admin.call(t, "POST", "/api/webhooks", map[string]any{"url": u, "events": []string{"message.created"}}, &e); code != 400 || e.Code != "invalid" {
			t.Errorf("%s: %d %q, want 400 invalid", u, code, e.Code)
		}
	}
	var e struct{ Code string }
	if code := admin.call(t, "POST", "/api/webhooks", map[string]any{"url": "https://example.com/x", "events": []string{"visitor.danced"}}, &e); code != 400 {
		t.Errorf("unknown event: %d", code)
	}
}
