package service

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

const adminPassword = "correct horse battery staple"

type testServer struct {
	*httptest.Server
	srv  *Server
	st   *store.Store
	site store.Site
}

func newTestServer(t *testing.T, st *store.Store) *testServer {
	return newTestServerWith(t, st, nil, ratelimit.Rules{})
}

// newTestServerWith starts a test server with a rate limiter and extra
// configuration flags (args).
func newTestServerWith(t *testing.T, st *store.Store, limiter ratelimit.Limiter, rules ratelimit.Rules, args ...string) *testServer {
	t.Helper()
	return newTestNode(t, st, bus.NewMemory(), limiter, rules, args...)
}

// newTestNode starts a server on bus b: several nodes of one fleet share
// the store and the bus.
func newTestNode(t *testing.T, st *store.Store, b bus.Bus, limiter ratelimit.Limiter, rules ratelimit.Rules, args ...string) *testServer {
	t.Helper()
	ts := &testServer{st: st}
	ts.Server = httptest.NewUnstartedServer(nil)
	cfg, err := config.Load(append([]string{"-addr", ts.Listener.Addr().String(), "-admin-password", adminPassword, "-data-dir", t.TempDir()}, args...), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := bootstrap(ctx, st, cfg); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	conv := conversation.New(conversation.Options{Store: st, Bus: b, Logger: log})
	t.Cleanup(conv.Stop) // the routing ticks and the snooze timer
	ts.srv = New(cfg, Deps{Store: st, Bus: b, Conv: conv,
		Tokens: auth.NewTokenSigner([]byte("0123456789abcdef0123456789abcdef")), Logger: log, Limiter: limiter, Rules: rules})
	ts.Listener = ts.srv.ServeOn(ts.Config, ts.Listener)
	ts.Start()
	t.Cleanup(ts.Close)
	if ts.site, err = st.FirstSite(ctx); err != nil {
		t.Fatal(err)
	}
	return ts
}

func eachServer(t *testing.T, f func(t *testing.T, ts *testServer)) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) { f(t, newTestServer(t, st)) })
	}
}

func (ts *testServer) origin() string { return ts.URL }

func (ts *testServer) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(ts.URL, "http") + path
}

// visitorToken opens a widget session as the widget frame would.
func (ts *testServer) visitorToken(t *testing.T) string {
	t.Helper()
	body, _ := json.Marshal(widgetSessionReq{SiteID: ts.site.ID, Locale: "en-US"})
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
	return out.Token
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func dial(t *testing.T, url string, h http.Header) *client {
	t.Helper()
	ws, res, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		code := 0
		if res != nil {
			code = res.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, code)
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}
}

func (ts *testServer) visitor(t *testing.T) *client {
	return dial(t, ts.wsURL("/ws/visitor?token="+ts.visitorToken(t)), http.Header{"Origin": {ts.origin()}})
}

// agent signs in and opens the agent socket.
func (ts *testServer) agent(t *testing.T) (*client, *http.Client) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	res, err := hc.Do(loginRequest(ts.URL, "admin@parley.local", adminPassword))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login: %v %v", err, res)
	}
	res.Body.Close()
	h := http.Header{"Origin": {ts.origin()}}
	for _, c := range jar.Cookies(res.Request.URL) {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	return dial(t, ts.wsURL("/ws/agent"), h), hc
}

// loginRequest is the sign-in the agent app at base sends: JSON, from its
// own origin.
func loginRequest(base, email, password string) *http.Request {
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, _ := http.NewRequest("POST", base+"/api/auth/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	return req
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) raw(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next reads frames until one of type typ arrives, and decodes it into v.
func (c *client) next(typ string, v any) {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", typ, err)
		}
		var env protocol.Envelope
		json.Unmarshal(data, &env)
		if env.Type == typ {
			if v != nil {
				json.Unmarshal(data, v)
			}
			return
		}
	}
}

func (c *client) hello(resume map[string]int64) protocol.Welcome {
	c.send(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: 1, Resume: resume})
	var w protocol.Welcome
	c.next(protocol.TypeWelcome, &w)
	return w
}

func (c *client) start() protocol.ConversationInfo {
	c.send(protocol.Start{Envelope: protocol.Envelope{Type: protocol.TypeStart, Ref: "s"}})
	var f protocol.Conversation
	for f.Ref != "s" { // skip broadcasts; the answer carries our ref
		c.next(protocol.TypeConversation, &f)
	}
	return f.Conversation
}

func (c *client) sendMsg(conv, id, body string) protocol.Ack {
	c.send(protocol.Send{Envelope: protocol.Envelope{Type: protocol.TypeSend, Ref: id}, ClientID: id, Conversation: conv, Body: body})
	var a protocol.Ack
	c.next(protocol.TypeAck, &a)
	return a
}

func (c *client) expectError(code string) protocol.Error {
	c.t.Helper()
	var e protocol.Error
	c.next(protocol.TypeError, &e)
	if e.Code != code {
		c.t.Fatalf("error code %q (%s), want %q", e.Code, e.Message, code)
	}
	return e
}

func (c *client) ping() {
	c.t.Helper()
	c.send(protocol.Ping{Envelope: protocol.Envelope{Type: protocol.TypePing, Ref: "p"}})
	c.next(protocol.TypePong, nil)
}

func TestVisitorAndAgentChat(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		ag, _ := ts.agent(t)
		ag.hello(nil)
		v := ts.visitor(t)
		v.hello(nil)
		conv := v.start()
		if conv.Status != protocol.ConversationOpen || conv.AgentName == "" {
			t.Fatalf("with an online agent the conversation opens at once: %+v", conv)
		}
		ack := v.sendMsg(conv.ID, "m1", "Hello, do you ship to Norway?")
		var got protocol.Message
		for got.Seq != ack.Seq {
			ag.next(protocol.TypeMessage, &got)
		}
		if got.Body != "Hello, do you ship to Norway?" || got.Author.Kind != protocol.AuthorVisitor {
			t.Fatalf("agent got %+v", got)
		}
		reply := ag.sendMsg(conv.ID, "r1", "Yes, in 3 days.")
		var m protocol.Message
		for m.Seq != reply.Seq {
			v.next(protocol.TypeMessage, &m)
		}
		if m.Body != "Yes, in 3 days." || m.Author.Kind != protocol.AuthorAgent {
			t.Fatalf("visitor got %+v", m)
		}
		// A resend is acked with the original seq.
		if again := v.sendMsg(conv.ID, "m1", "Hello, do you ship to Norway?"); again.Seq != ack.Seq {
			t.Fatalf("resend seq %d, want %d", again.Seq, ack.Seq)
		}
	})
}

func TestResumeAfterReconnect(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		token := ts.visitorToken(t)
		url := ts.wsURL("/ws/visitor?token=" + token)
		h := http.Header{"Origin": {ts.origin()}}
		v := dial(t, url, h)
		v.hello(nil)
		conv := v.start()
		first := v.sendMsg(conv.ID, "a", "one")
		v.ws.Close()

		ag, _ := ts.agent(t)
		ag.hello(nil)
		for i, body := range []string{"two", "three", "four"} {
			ag.sendMsg(conv.ID, "agent-"+string(rune('a'+i)), body)
		}
		v2 := dial(t, url, h)
		v2.hello(map[string]int64{conv.ID: first.Seq})
		var bodies []string
		var last int64 = first.Seq
		for {
			var raw json.RawMessage
			v2.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, data, err := v2.ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			raw = data
			var env protocol.Envelope
			json.Unmarshal(raw, &env)
			if env.Type == protocol.TypeSynced {
				break
			}
			if env.Type == protocol.TypeMessage {
				var m protocol.Message
				json.Unmarshal(raw, &m)
				if m.Seq != last+1 {
					t.Fatalf("resume out of order: seq %d after %d", m.Seq, last)
				}
				last = m.Seq
				if m.Author.Kind == protocol.AuthorAgent {
					bodies = append(bodies, m.Body)
				}
			}
		}
		if strings.Join(bodies, ",") != "two,three,four" {
			t.Fatalf("resumed %v", bodies)
		}
	})
}

// Bad frames get an error frame and the connection, and everyone else's,
// keeps working.
func TestBadFrames(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		bystander := ts.visitor(t)
		bystander.hello(nil)
		bconv := bystander.start()

		v := ts.visitor(t)
		v.raw(`{"type":"send","client_id":"x","conversation":"c","body":"early"}`)
		v.expectError(protocol.CodeNoHello)
		v.hello(nil)
		conv := v.start()
		v.raw(`{not json`)
		v.expectError(protocol.CodeBadJSON)
		v.raw(`{"type":"launch_missiles","ref":"r9"}`)
		if e := v.expectError(protocol.CodeUnknownType); e.Ref != "r9" {
			t.Fatalf("ref not echoed: %+v", e)
		}
		v.raw(`{"type":"send","client_id":"x","conversation":"` + conv.ID + `","body":"` + strings.Repeat("b", protocol.MaxBodyBytes+1) + `"}`)
		v.expectError(protocol.CodeTooBig)
		// Another visitor's conversation: not found, not forbidden.
		v.sendMsgExpectError(bconv.ID, protocol.CodeNotFound)
		v.sendMsgExpectError("no-such-conversation", protocol.CodeNotFound)
		v.ping()
		if a := v.sendMsg(conv.ID, "ok", "still here"); a.Seq == 0 {
			t.Fatal("no ack after bad frames")
		}

		// An oversize frame closes only that connection, with 1009.
		v.raw(`{"type":"ping","pad":"` + strings.Repeat("p", protocol.MaxFrameBytes) + `"}`)
		v.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, _, err := v.ws.ReadMessage()
			if err != nil {
				if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
					t.Fatalf("want close 1009, got %v", err)
				}
				break
			}
		}
		bystander.ping()
		if a := bystander.sendMsg(bconv.ID, "b1", "unaffected"); a.Seq == 0 {
			t.Fatal("bystander broken")
		}
	})
}

func (c *client) sendMsgExpectError(conv, code string) {
	c.t.Helper()
	c.send(protocol.Send{Envelope: protocol.Envelope{Type: protocol.TypeSend}, ClientID: "probe", Conversation: conv, Body: "hi"})
	c.expectError(code)
}

func TestRefusedConnections(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	token := ts.visitorToken(t)
	cases := []struct {
		name, url, origin string
		status            int
	}{
		{"no token", "/ws/visitor", ts.origin(), 401},
		{"forged token", "/ws/visitor?token=v1.eyJ3IjoieCJ9.AAAA", ts.origin(), 401},
		{"foreign origin", "/ws/visitor?token=" + token, "https://evil.example", 403},
		{"agent without session", "/ws/agent", ts.origin(), 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, res, err := websocket.DefaultDialer.Dial(ts.wsURL(c.url), http.Header{"Origin": {c.origin}})
			if err == nil || res == nil || res.StatusCode != c.status {
				t.Fatalf("want HTTP %d, got %v %v", c.status, err, res)
			}
			var body struct{ Error, Code string }
			json.NewDecoder(res.Body).Decode(&body)
			if body.Code == "" || body.Error == "" {
				t.Fatalf("error body must be {error, code}: %+v", body)
			}
		})
	}
}

func TestAgentAPI(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	res, _ := http.DefaultClient.Do(loginRequest(ts.URL, "admin@parley.local", "wrong password!"))
	if res.StatusCode != 401 {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	_, hc := ts.agent(t)
	res, _ = hc.Get(ts.URL + "/api/me")
	if res.StatusCode != 200 {
		t.Fatalf("me: %d", res.StatusCode)
	}
	// Logout without the CSRF header is refused, even from the app's origin.
	req, _ := http.NewRequest("POST", ts.URL+"/api/auth/logout", nil)
	req.Header.Set("Origin", ts.origin())
	res, _ = hc.Do(req)
	var e struct{ Code string }
	json.NewDecoder(res.Body).Decode(&e)
	res.Body.Close()
	if res.StatusCode != 403 || e.Code != codeCSRF {
		t.Fatalf("logout without csrf: %d %q", res.StatusCode, e.Code)
	}
	res, _ = hc.Get(ts.URL + "/api/conversations/nope/messages")
	if res.StatusCode != 404 {
		t.Fatalf("missing conversation: %d", res.StatusCode)
	}
	res, _ = http.Get(ts.URL + "/api/me")
	if res.StatusCode != 401 {
		t.Fatalf("me without session: %d", res.StatusCode)
	}
}

// Shutdown finishes in-flight work and closes sockets with 1001.
func TestShutdownClosesWithGoingAway(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	v := ts.visitor(t)
	v.hello(nil)
	conv := v.start()
	v.sendMsg(conv.ID, "before", "hi")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ts.srv.Shutdown(ctx)
	v.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := v.ws.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
				t.Fatalf("want 1001, got %v", err)
			}
			break
		}
	}
	res, _ := http.Get(ts.URL + "/readyz")
	if res.StatusCode != 503 {
		t.Fatalf("readyz while draining: %d", res.StatusCode)
	}
}
