package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/relaynode"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

const testRelaySecret = "relay-secret-0123456789abcdef0123456789"

// newRemoteRTCServer is a test server whose peers live on standalone
// relays (relaynode.Pool with an in-process registry).
func newRemoteRTCServer(t *testing.T, st *store.Store) (ts *testServer, pool *relaynode.Pool, close func()) {
	t.Helper()
	return newRemoteRTCServerWith(t, st, Deps{})
}

// newRemoteRTCServerWith is newRemoteRTCServer with deps' other fields
// (e.g. a rate limiter and its rules).
func newRemoteRTCServerWith(t *testing.T, st *store.Store, deps Deps) (ts *testServer, pool *relaynode.Pool, close func()) {
	t.Helper()
	ts = &testServer{st: st}
	ts.Server = httptest.NewUnstartedServer(nil)
	cfg, err := config.Load([]string{"-addr", ts.Listener.Addr().String(), "-admin-password", adminPassword,
		"-data-dir", t.TempDir(), "-relay-secret", testRelaySecret}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := bootstrap(ctx, st, cfg); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if rel, err := NewRelay(cfg, log); rel != nil || err != nil {
		t.Fatalf("with a relay secret signaling must not run its own relay: %v %v", rel, err)
	}
	pool = NewRelayPool(cfg, nil, log)
	deps.RelayPool = pool
	return ts, pool, serveRTC(t, ts, cfg, log, deps, func() { pool.Close() })
}

// testRelay is a standalone relay node served in the test process.
type testRelay struct {
	id   string
	url  string
	stop func() // drains, as on SIGTERM
}

// startRelay starts a relay that forwards chat frames to signaling, or,
// with chat, commits them itself.
func startRelay(t *testing.T, id, signalingURL string, chat *relaynode.Chat) *testRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startRelayOn(t, id, signalingURL, chat, ln)
}

// startRelayOn is startRelay serving on ln.
func startRelayOn(t *testing.T, id, signalingURL string, chat *relaynode.Chat, ln net.Listener) *testRelay {
	t.Helper()
	cfg, err := config.LoadRelay([]string{"-id", id, "-addr", ln.Addr().String(), "-signaling-urls", signalingURL,
		"-secret", testRelaySecret, "-heartbeat", "200ms", "-shutdown-grace", "2s"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	node, err := relaynode.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), chat)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Serve(ctx, ln) }()
	var once sync.Once
	r := &testRelay{id: id, url: cfg.ControlURL, stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("relay %s: %v", id, err)
			}
		})
	}}
	t.Cleanup(r.stop)
	return r
}

func waitRelays(t *testing.T, pool *relaynode.Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		live, _ := pool.Registry().Live(context.Background())
		if len(live) == n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not %d live relays after 10s", n)
}

// waitOpen waits until the conversation is assigned (open).
func waitOpen(t *testing.T, hc *http.Client, base, conv string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		res, err := hc.Get(base + "/api/conversations")
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Conversations []protocol.ConversationInfo }
		json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		for _, c := range out.Conversations {
			if c.ID == conv && c.Status == protocol.ConversationOpen {
				return
			}
		}
	}
	t.Fatalf("conversation %s not assigned within 10s", conv)
}

// Chat through standalone relays: both sides get data channels on relays
// registered by heartbeat, messages are stored once and acked over the
// channel; a second peer for the same conversation lands on the same
// relay; a draining relay sends its clients back to the WebSocket (nothing
// lost) and they renegotiate on the other relay.
func TestChatThroughStandaloneRelays(t *testing.T) {
	t.Run("forwarding", func(t *testing.T) { chatThroughStandaloneRelays(t, false) })
	t.Run("committing", func(t *testing.T) { chatThroughStandaloneRelays(t, true) })
}

// chatThroughStandaloneRelays runs the test with relays that forward chat
// frames to signaling, or that commit them on the shared store and bus
// (with a conversation service of their own, as a relay process has).
func chatThroughStandaloneRelays(t *testing.T, commit bool) {
	noLeaks(t)
	st := storetest.SQLite(t)
	ts, pool, shutdown := newRemoteRTCServer(t, st)
	var chat *relaynode.Chat
	if commit {
		conv := conversation.New(conversation.Options{Store: st, Bus: ts.srv.bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		t.Cleanup(conv.Stop)
		chat = &relaynode.Chat{Conv: conv, Bus: ts.srv.bus}
	}
	r1 := startRelay(t, "relay-one", ts.URL, chat)
	r2 := startRelay(t, "relay-two", ts.URL, chat)
	waitRelays(t, pool, 2)
	if live := metric(t, ts.URL, "parley_relays_live"); live != 2 {
		t.Fatalf("parley_relays_live %v", live)
	}

	ag, hc := ts.rtcAgent(t)
	ag.hello()
	ag.negotiate()
	token := ts.visitorToken(t)
	v := ts.rtcVisitor(t, token)
	v.hello()
	conv := v.start()
	v.negotiate()
	mine, err := pool.Registry().RelayOf(context.Background(), conv.ID)
	if err != nil || (mine != r1.id && mine != r2.id) {
		t.Fatalf("conversation's relay: %q %v", mine, err)
	}
	serving, other := r1, r2
	if mine == r2.id {
		serving, other = r2, r1
	}

	const n = 10
	var want []string
	for i := range n {
		body := fmt.Sprintf("over the relay %d", i)
		want = append(want, body)
		v.sendDC(sendFrame(conv.ID, fmt.Sprintf("v%d", i), body))
	}
	for i := range n {
		f := v.next(protocol.TypeAck)
		var a protocol.Ack
		json.Unmarshal(f.data, &a)
		if f.via != transportDataChannel || a.ClientID != fmt.Sprintf("v%d", i) {
			t.Fatalf("ack %d: %+v over %s", i, a, f.via)
		}
	}
	for got := 0; got < n; {
		f := ag.next(protocol.TypeMessage)
		var m protocol.Message
		json.Unmarshal(f.data, &m)
		if m.Author.Kind != protocol.AuthorVisitor {
			continue
		}
		if f.via != transportDataChannel || m.Body != want[got] {
			t.Fatalf("agent got %q over %s, want %q", m.Body, f.via, want[got])
		}
		got++
	}
	if in := metric(t, serving.url, `parley_relay_frames_total{direction="in"}`); in < n {
		t.Fatalf("relay %s took %v frames from browsers, want ≥ %d", serving.id, in, n)
	}
	// Who committed the sends: the relay, or signaling behind it.
	relayAcks := metric(t, serving.url, "parley_relay_ack_seconds_count")
	signalingSends := metric(t, ts.URL, `parley_transport_frames_total{direction="in",transport="datachannel",type="send"}`)
	if commit && (relayAcks != n || signalingSends != 0) || !commit && (relayAcks != 0 || signalingSends != n) {
		t.Fatalf("committing=%v: relay acked %v sends, signaling handled %v from data channels", commit, relayAcks, signalingSends)
	}

	// Typing goes the same way (no store, no ack).
	v.sendDC(protocol.Typing{Envelope: protocol.Envelope{Type: protocol.TypeTyping}, Conversation: conv.ID, On: true})
	if f := ag.next(protocol.TypeTyping); f.via != transportDataChannel {
		t.Fatalf("typing reached the agent over %s", f.via)
	}

	// The visitor's second tab joins the same relay: the conversation's.
	before := metric(t, serving.url, "parley_relay_peers")
	v2 := ts.rtcVisitor(t, token)
	v2.hello()
	v2.negotiate()
	if peers := metric(t, serving.url, "parley_relay_peers"); peers != before+1 {
		t.Fatalf("second tab not on the conversation's relay %s (peers %v → %v)", serving.id, before, peers)
	}
	v2.close()
	for deadline := time.Now().Add(10 * time.Second); metric(t, serving.url, "parley_relay_peers") != before; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the closed tab's peer is still on the relay after 10s")
		}
	}
	// An agent's new tab joins the relay of the conversations it serves.
	waitOpen(t, hc, ts.URL, conv.ID)
	ag2, _ := ts.rtcAgent(t)
	ag2.hello()
	ag2.negotiate()
	if peers := metric(t, serving.url, "parley_relay_peers"); peers != before+1 {
		t.Fatalf("agent's second tab not on its conversation's relay %s (peers %v → %v)", serving.id, before, peers)
	}
	ag2.close()

	// The serving relay drains: rtc_stop, chat goes on over the WebSocket.
	serving.stop()
	select {
	case <-v.stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("no rtc_stop after the relay went away")
	}
	v.send(sendFrame(conv.ID, "after", "after the relay left"))
	if f := v.next(protocol.TypeAck); f.via != transportWebSocket {
		t.Fatalf("ack over %s after rtc_stop", f.via)
	}
	// It renegotiates on the other relay.
	v.opened = make(chan struct{})
	v.negotiate()
	if peers := metric(t, other.url, "parley_relay_peers"); peers < 1 {
		t.Fatalf("visitor not renegotiated on %s", other.id)
	}
	v.sendDC(sendFrame(conv.ID, "again", "on the other relay"))
	if f := v.next(protocol.TypeAck); f.via != transportDataChannel {
		t.Fatalf("ack over %s on the other relay", f.via)
	}
	stored := storedBodies(t, hc, ts.URL, conv.ID)
	if strings.Join(stored, "|") != strings.Join(append(want, "after the relay left", "on the other relay"), "|") {
		t.Fatalf("stored %v", stored)
	}
	v.close()
	ag.close()
	shutdown()
	other.stop()
}

// Relays and signaling authenticate each other with the shared secret:
// a heartbeat or a control link without it is refused with a JSON error.
func TestRelaySecretRequired(t *testing.T) {
	st := storetest.SQLite(t)
	ts, pool, _ := newRemoteRTCServer(t, st)
	r := startRelay(t, "relay-auth", ts.URL, nil)
	waitRelays(t, pool, 1)

	for _, h := range []string{"", "Bearer wrong", "Bearer " + testRelaySecret + "x"} {
		req, _ := http.NewRequest("POST", ts.URL+relaynode.HeartbeatPath,
			strings.NewReader(`{"id":"intruder","control_url":"http://127.0.0.1:1","interval_ms":1000}`))
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error, Code string }
		json.NewDecoder(res.Body).Decode(&e)
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || e.Code != "unauthorized" {
			t.Fatalf("heartbeat with %q: %d %+v", h, res.StatusCode, e)
		}
		_, res, err = websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(r.url, "http")+relaynode.ControlPath, http.Header{"Authorization": {h}})
		if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("control link with %q: %v %v", h, err, res)
		}
	}
	// A heartbeat with the secret but a bad body is a 400.
	req, _ := http.NewRequest("POST", ts.URL+relaynode.HeartbeatPath, strings.NewReader(`{"id":""}`))
	req.Header.Set("Authorization", "Bearer "+testRelaySecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad heartbeat body: %d", res.StatusCode)
	}
	if live, _ := pool.Registry().Live(context.Background()); len(live) != 1 || live[0].ID != "relay-auth" {
		t.Fatalf("registry after refused heartbeats: %+v", live)
	}
}

// Bad input through a standalone relay gets the same answers as through
// the in-process one, and leaves the relay's other clients alone.
func TestStandaloneRelayBadInput(t *testing.T) {
	st := storetest.SQLite(t)
	ts, pool, _ := newRemoteRTCServer(t, st)
	startRelay(t, "relay-bad-input", ts.URL, nil)
	waitRelays(t, pool, 1)
	dataChannelBadInput(t, ts)
}

// A relay that commits chat enforces the message limits signaling does:
// over the limit, a send gets rate_limited over the data channel and is
// not stored; the client may resend it later.
func TestStandaloneRelayRateLimits(t *testing.T) {
	st := storetest.SQLite(t)
	ts, pool, _ := newRemoteRTCServer(t, st)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	conv := conversation.New(conversation.Options{Store: st, Bus: ts.srv.bus, Logger: log})
	t.Cleanup(conv.Stop)
	rules := ratelimit.DefaultRules()
	rules.MessagePerVisitor = ratelimit.Rule{Name: "msg:visitor", Limit: ratelimit.Limit{Rate: 2, Burst: 2, Period: time.Hour}}
	startRelay(t, "relay-limits", ts.URL, &relaynode.Chat{Conv: conv, Bus: ts.srv.bus, Limiter: ratelimit.NewMemory(), Rules: rules})
	waitRelays(t, pool, 1)

	v := ts.rtcVisitor(t, ts.visitorToken(t))
	v.hello()
	c := v.start()
	v.negotiate()
	for i := range 3 {
		v.sendDC(sendFrame(c.ID, fmt.Sprintf("m%d", i), "hello"))
	}
	for i := range 2 {
		if f := v.next(protocol.TypeAck); f.via != transportDataChannel {
			t.Fatalf("ack %d over %s", i, f.via)
		}
	}
	f := v.next(protocol.TypeError)
	var e protocol.Error
	json.Unmarshal(f.data, &e)
	if e.Code != protocol.CodeRateLimited || e.Ref != "m2" || !e.Retryable || f.via != transportDataChannel {
		t.Fatalf("third send: %+v over %s", e, f.via)
	}
	_, hc := ts.agent(t)
	if stored := storedBodies(t, hc, ts.URL, c.ID); len(stored) != 2 {
		t.Fatalf("stored %v", stored)
	}
}
