package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
	"github.com/parleychat/parley/pkg/relay/relaytest"
	"github.com/parleychat/parley/pkg/relaynode"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// newRTCServer is a test server with an in-process relay on loopback.
// close shuts it down in the order Run does: drain, relay, HTTP.
func newRTCServer(t testing.TB, st *store.Store, args ...string) (ts *testServer, close func()) {
	t.Helper()
	return newRTCServerWith(t, st, nil, args...)
}

// newRTCServerWith is newRTCServer with the relay's configuration changed
// by tweak (e.g. short ICE timeouts), when not nil.
func newRTCServerWith(t testing.TB, st *store.Store, tweak func(*relay.Config), args ...string) (ts *testServer, close func()) {
	t.Helper()
	ts = &testServer{st: st}
	ts.Server = httptest.NewUnstartedServer(nil)
	args = append([]string{"-addr", ts.Listener.Addr().String(), "-admin-password", adminPassword, "-data-dir", t.TempDir()}, args...)
	cfg, err := config.Load(args, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.RTCLoopback {
		t.Fatalf("a server on %s must offer loopback candidates by default", cfg.PublicURL)
	}
	ctx := context.Background()
	if _, err := bootstrap(ctx, st, cfg); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rc := relaynode.PionConfig(cfg)
	rc.LogLevel = "disabled"
	if tweak != nil {
		tweak(&rc)
	}
	rel, err := relay.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	return ts, serveRTC(t, ts, cfg, log, Deps{Relay: rel}, func() { rel.Close() })
}

// serveRTC starts ts on cfg with the peers of deps (its Relay or RelayPool;
// the rest is filled in here) and returns its close, also run at cleanup,
// which shuts down in the order Run does: drain, closePeers, HTTP.
func serveRTC(t testing.TB, ts *testServer, cfg config.Config, log *slog.Logger, deps Deps, closePeers func()) (close func()) {
	t.Helper()
	b := bus.NewMemory()
	deps.Store, deps.Bus, deps.Logger, deps.ICE = ts.st, b, log, ICEConfig(cfg)
	deps.Conv = conversation.New(conversation.Options{Store: ts.st, Bus: b, Logger: log})
	deps.Tokens = auth.NewTokenSigner([]byte("0123456789abcdef0123456789abcdef"))
	ts.srv = New(cfg, deps)
	ts.Config.Handler = ts.srv.Handler()
	ts.Start()
	var err error
	if ts.site, err = ts.st.FirstSite(context.Background()); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	close = func() {
		once.Do(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ts.srv.Shutdown(sctx)
			closePeers()
			ts.Close()
			deps.Conv.Stop() // the routing ticks and the snooze timer
			b.Close()
		})
	}
	t.Cleanup(close)
	return close
}

// frameIn is a frame a test client received, and what carried it.
type frameIn struct {
	via  string
	typ  string
	data []byte
}

// rtcClient plays a browser: a WebSocket and, after negotiate, a Pion peer
// connection whose "chat" data channel carries chat frames, as the widget
// does it.
type rtcClient struct {
	t   testing.TB
	ws  *websocket.Conn
	wmu sync.Mutex

	mu   sync.Mutex
	pc   *webrtc.PeerConnection
	chat *webrtc.DataChannel

	opened  chan struct{}
	stopped chan string
	in      chan frameIn
	wsDone  chan struct{}
	// silent: do not answer offers (a browser that never gets through);
	// they go to offers instead, for a test to answer with reanswer.
	silent bool
	offers chan protocol.RTCOffer
}

func dialRTC(t testing.TB, url string, h http.Header) *rtcClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &rtcClient{t: t, ws: ws, opened: make(chan struct{}), stopped: make(chan string, 4), in: make(chan frameIn, 8192), wsDone: make(chan struct{}),
		offers: make(chan protocol.RTCOffer, 16)}
	go c.readWS()
	t.Cleanup(c.close)
	return c
}

func (c *rtcClient) close() {
	c.mu.Lock()
	pc := c.pc
	c.mu.Unlock()
	if pc != nil {
		pc.Close()
	}
	c.ws.Close()
	<-c.wsDone
}

func (c *rtcClient) readWS() {
	defer close(c.wsDone)
	relaytest.ReadFrames(c.ws, func(typ string, data []byte) {
		switch typ {
		case protocol.TypeRTCOffer:
			o := relaytest.Offer(data)
			if !c.silent {
				c.answer(o)
				break
			}
			select {
			case c.offers <- o:
			default:
			}
		case protocol.TypeRTCCandidate:
			c.mu.Lock()
			pc := c.pc
			c.mu.Unlock()
			relaytest.AddCandidate(pc, data)
		case protocol.TypeRTCStop:
			var s protocol.RTCStop
			json.Unmarshal(data, &s)
			select {
			case c.stopped <- s.Reason:
			default:
			}
		default:
			c.in <- frameIn{via: transportWebSocket, typ: typ, data: data}
		}
	})
}

// answer does what the widget does with rtc_offer.
func (c *rtcClient) answer(o protocol.RTCOffer) {
	pc, err := relaytest.NewPeer()
	if err != nil {
		c.t.Errorf("browser peer: %v", err)
		return
	}
	c.mu.Lock()
	old := c.pc
	c.pc = pc
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
	err = relaytest.Answer(pc, o, relaytest.Handlers{
		Send: c.send,
		OnOpen: func(dc *webrtc.DataChannel) {
			c.mu.Lock()
			c.chat = dc
			c.mu.Unlock()
			select {
			case <-c.opened:
			default:
				close(c.opened)
			}
		},
		OnMessage: func(data []byte) {
			var env protocol.Envelope
			json.Unmarshal(data, &env)
			c.in <- frameIn{via: transportDataChannel, typ: env.Type, data: data}
		},
		// Typing comes on the unordered signals channel: a data channel too.
		OnSignal: func(data []byte) {
			var env protocol.Envelope
			json.Unmarshal(data, &env)
			c.in <- frameIn{via: transportDataChannel, typ: env.Type, data: data}
		},
	})
	if err != nil {
		c.t.Errorf("answer the offer: %v", err)
	}
}

func (c *rtcClient) send(v any) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Logf("ws write: %v", err)
	}
}

// sendDC sends a frame on the data channel.
func (c *rtcClient) sendDC(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	c.rawDC(string(b))
}

func (c *rtcClient) rawDC(s string) {
	c.t.Helper()
	c.mu.Lock()
	dc := c.chat
	c.mu.Unlock()
	if dc == nil {
		c.t.Fatal("no data channel")
	}
	if err := dc.SendText(s); err != nil {
		c.t.Fatalf("data channel send: %v", err)
	}
}

// next returns the next frame of type typ (others are skipped).
func (c *rtcClient) next(typ string) frameIn {
	c.t.Helper()
	return nextFrame(c.t, c.in, typ, "", "")
}

// frameWait bounds a wait for an expected frame. Generous: under -race on
// a loaded 2-core machine a call's renegotiation through a standalone relay
// has been seen to take over 10 s; a missing frame still fails the test.
const frameWait = 20 * time.Second * raceSlowdown

// nextFrame returns the next frame a test client received on in of type typ
// and, unless ref is "", with that ref; others are skipped. It fails the test
// (naming the client by tag, if any) when none comes within frameWait.
func nextFrame(t testing.TB, in <-chan frameIn, typ, ref, tag string) frameIn {
	t.Helper()
	timeout := time.After(frameWait)
	for {
		select {
		case f := <-in:
			if f.typ != typ {
				continue
			}
			if ref == "" {
				return f
			}
			var env protocol.Envelope
			json.Unmarshal(f.data, &env)
			if env.Ref == ref {
				return f
			}
		case <-timeout:
			if tag != "" {
				tag += ": "
			}
			t.Fatalf("%sno %s frame (ref %q) in %v", tag, typ, ref, frameWait)
		}
	}
}

func (c *rtcClient) hello() {
	c.t.Helper()
	c.send(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: 1})
	c.next(protocol.TypeWelcome)
}

// negotiate asks for a data channel and waits until it is open.
func (c *rtcClient) negotiate() {
	c.t.Helper()
	c.send(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}})
	select {
	case <-c.opened:
	case r := <-c.stopped:
		c.t.Fatalf("rtc_stop instead of a data channel: %s", r)
	case <-time.After(10 * time.Second * raceSlowdown):
		c.t.Fatal("data channel not open in time")
	}
}

func (c *rtcClient) start() protocol.ConversationInfo {
	c.t.Helper()
	c.send(protocol.Start{Envelope: protocol.Envelope{Type: protocol.TypeStart, Ref: "s"}})
	timeout := time.After(frameWait)
	for {
		select {
		case f := <-c.in:
			switch f.typ {
			case protocol.TypeConversation:
				var cf protocol.Conversation
				json.Unmarshal(f.data, &cf)
				if cf.Ref == "s" {
					return cf.Conversation
				}
			case protocol.TypeError:
				var e protocol.Error
				json.Unmarshal(f.data, &e)
				if e.Ref == "s" {
					c.t.Fatalf("start refused: %s: %s", e.Code, e.Message)
				}
			}
		case <-timeout:
			c.t.Fatalf("no answer to start in %v", frameWait)
		}
	}
}

func sendFrame(conv, id, body string) protocol.Send {
	return protocol.Send{Envelope: protocol.Envelope{Type: protocol.TypeSend, Ref: id}, ClientID: id, Conversation: conv, Body: body}
}

func (ts *testServer) rtcVisitor(t testing.TB, token string) *rtcClient {
	return dialRTC(t, ts.wsURL("/ws/visitor?token="+token), http.Header{"Origin": {ts.origin()}})
}

func (ts *testServer) rtcAgent(t *testing.T) (*rtcClient, *http.Client) {
	ag, hc := ts.agent(t) // signs in; its own socket is not used further
	ag.ws.Close()
	h := http.Header{"Origin": {ts.origin()}}
	u, _ := http.NewRequest("GET", ts.URL, nil)
	for _, ck := range hc.Jar.Cookies(u.URL) {
		h.Add("Cookie", ck.Name+"="+ck.Value)
	}
	return dialRTC(t, ts.wsURL("/ws/agent"), h), hc
}

func storedBodies(t *testing.T, hc *http.Client, url, conv string) []string {
	t.Helper()
	res, err := hc.Get(url + "/api/conversations/" + conv + "/messages")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("messages: %v %v", err, res)
	}
	defer res.Body.Close()
	var out struct{ Messages []protocol.Message }
	json.NewDecoder(res.Body).Decode(&out)
	var bodies []string
	for i, m := range out.Messages {
		if m.Seq != int64(i+1) {
			t.Fatalf("stored seqs not 1..n: %d at %d", m.Seq, i)
		}
		if m.Author.Kind != protocol.AuthorSystem {
			bodies = append(bodies, m.Body)
		}
	}
	return bodies
}

// metric reads one sample of the server's /metrics.
func metric(t testing.TB, url, series string) float64 {
	t.Helper()
	v, err := relaytest.Metric(url, series)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// noLeaks checks, after every other cleanup (store, server, clients), that
// no goroutine the test started is left.
func noLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore, idleWorkers) })
}

// idleWorkers are pool goroutines waiting for their next task (pkg/worker);
// they end by themselves after the pool's idle time. One running a task has
// the task on top of its stack and still counts.
var idleWorkers = goleak.IgnoreTopFunction("github.com/parleychat/parley/pkg/worker.(*Pool).run")

// A visitor and an agent chat over data channels: every message is
// stored once, in order, acked over the channel it came on, and delivered
// to the other side over its channel. No goroutine outlives the server.
func TestChatOverDataChannel(t *testing.T) {
	noLeaks(t)
	st := storetest.SQLite(t)
	ts, shutdown := newRTCServer(t, st)
	ag, hc := ts.rtcAgent(t)
	ag.hello()
	ag.negotiate()
	v := ts.rtcVisitor(t, ts.visitorToken(t))
	v.hello()
	v.negotiate()
	// The browser side may see the channel open a moment before the
	// server's open callback counts it.
	waitFor(t, "one visitor counted on a data channel", func() bool {
		return metric(t, ts.URL, `parley_connections{kind="visitor",transport="datachannel"}`) == 1
	})
	conv := v.start()

	const n = 30
	var want []string
	for i := range n {
		body := fmt.Sprintf("visitor message %d", i)
		want = append(want, body)
		v.sendDC(sendFrame(conv.ID, fmt.Sprintf("v%d", i), body))
	}
	var last int64
	for i := range n {
		f := v.next(protocol.TypeAck)
		var a protocol.Ack
		json.Unmarshal(f.data, &a)
		if f.via != transportDataChannel || a.ClientID != fmt.Sprintf("v%d", i) || a.Seq <= last {
			t.Fatalf("ack %d: %+v over %s (last seq %d)", i, a, f.via, last)
		}
		last = a.Seq
	}
	var got []string
	for len(got) < n {
		f := ag.next(protocol.TypeMessage)
		var m protocol.Message
		json.Unmarshal(f.data, &m)
		if m.Author.Kind != protocol.AuthorVisitor {
			continue
		}
		if f.via != transportDataChannel {
			t.Fatalf("agent got a message over %s", f.via)
		}
		got = append(got, m.Body)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("agent got %v", got)
	}
	// A resend (lost ack) is acked with the original seq, not stored again.
	v.sendDC(sendFrame(conv.ID, "v0", "visitor message 0"))
	var again protocol.Ack
	json.Unmarshal(v.next(protocol.TypeAck).data, &again)
	ag.sendDC(sendFrame(conv.ID, "a1", "agent reply"))
	for {
		f := v.next(protocol.TypeMessage)
		var m protocol.Message
		json.Unmarshal(f.data, &m)
		if m.Body == "agent reply" {
			if f.via != transportDataChannel {
				t.Fatalf("visitor got the reply over %s", f.via)
			}
			break
		}
	}
	if stored := storedBodies(t, hc, ts.URL, conv.ID); strings.Join(stored, "|") != strings.Join(append(want, "agent reply"), "|") {
		t.Fatalf("stored %v", stored)
	}
	if got := metric(t, ts.URL, `parley_transport_frames_total{direction="in",transport="datachannel",type="send"}`); got != n+2 {
		t.Fatalf("sends counted on the data channel: %v, want %d", got, n+2)
	}

	v.close()
	ag.close()
	shutdown()
}

// Twenty conversations negotiate and chat at once.
func TestManyConversationsOverDataChannel(t *testing.T) {
	noLeaks(t)
	st := storetest.SQLite(t)
	ts, shutdown := newRTCServer(t, st)
	_, hc := ts.agent(t)
	const convs, msgs = 20, 10
	var wg sync.WaitGroup
	ids := make([]string, convs)
	clients := make([]*rtcClient, convs)
	for i := range convs {
		clients[i] = ts.rtcVisitor(t, ts.visitorToken(t))
	}
	errs := make(chan string, convs)
	for i := range convs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := clients[i]
			v.hello()
			v.send(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}})
			select {
			case <-v.opened:
			case <-time.After(15 * time.Second * raceSlowdown):
				errs <- fmt.Sprintf("conversation %d: no data channel", i)
				return
			}
			conv := v.start()
			ids[i] = conv.ID
			for j := range msgs {
				v.sendDC(sendFrame(conv.ID, fmt.Sprintf("c%d-%d", i, j), fmt.Sprintf("%d-%d", i, j)))
			}
			for j := range msgs {
				f := v.next(protocol.TypeAck)
				var a protocol.Ack
				json.Unmarshal(f.data, &a)
				if a.ClientID != fmt.Sprintf("c%d-%d", i, j) || f.via != transportDataChannel {
					errs <- fmt.Sprintf("conversation %d: ack %+v over %s", i, a, f.via)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if t.Failed() {
		return
	}
	for i, id := range ids {
		stored := storedBodies(t, hc, ts.URL, id)
		if len(stored) != msgs {
			t.Fatalf("conversation %d stored %d messages", i, len(stored))
		}
		for j, b := range stored {
			if b != fmt.Sprintf("%d-%d", i, j) {
				t.Fatalf("conversation %d stored %v", i, stored)
			}
		}
	}
	for _, c := range clients {
		c.close()
	}
	shutdown()
}

// Bad input on the negotiation or the data channel gets an error frame;
// the channel, the connection and everyone else carry on.
func TestDataChannelBadInput(t *testing.T) {
	st := storetest.SQLite(t)
	ts, _ := newRTCServer(t, st)
	dataChannelBadInput(t, ts)
}

// dataChannelBadInput is TestDataChannelBadInput on any relay (in process
// or standalone).
func dataChannelBadInput(t *testing.T, ts *testServer) {
	bystander := ts.rtcVisitor(t, ts.visitorToken(t))
	bystander.hello()
	bystander.negotiate()
	bconv := bystander.start()

	v := ts.rtcVisitor(t, ts.visitorToken(t))
	v.hello()
	// Before any rtc_start there is nothing to answer: ignored quietly.
	v.send(protocol.RTCAnswer{Envelope: protocol.Envelope{Type: protocol.TypeRTCAnswer}, SDP: "v=0"})
	v.negotiate()
	conv := v.start()

	expectErr := func(code, via string) protocol.Error {
		t.Helper()
		f := v.next(protocol.TypeError)
		var e protocol.Error
		json.Unmarshal(f.data, &e)
		if e.Code != code || f.via != via {
			t.Fatalf("error %+v over %s, want %s over %s", e, f.via, code, via)
		}
		return e
	}
	v.send(protocol.RTCCandidate{Envelope: protocol.Envelope{Type: protocol.TypeRTCCandidate, Ref: "c1"}, Candidate: "candidate:garbage here"})
	if e := expectErr(protocol.CodeInvalid, transportWebSocket); e.Ref != "c1" || !strings.Contains(e.Message, "candidate") {
		t.Fatalf("bad candidate: %+v", e)
	}
	v.rawDC(`{not json`)
	expectErr(protocol.CodeBadJSON, transportDataChannel)
	v.rawDC(`{"type":"launch_missiles","ref":"r9"}`)
	expectErr(protocol.CodeUnknownType, transportDataChannel)
	v.rawDC(`{"type":"hello","v":1}`)
	expectErr(protocol.CodeInvalid, transportDataChannel)
	v.rawDC(`{"type":"send","client_id":"x","conversation":"` + conv.ID + `","body":"` + strings.Repeat("b", protocol.MaxBodyBytes+1) + `"}`)
	expectErr(protocol.CodeTooBig, transportDataChannel)
	// The largest frame, of bytes JSON must escape (six times longer on a
	// standalone relay's control link): an error for this client only.
	v.rawDC(strings.Repeat("\x01", protocol.MaxFrameBytes-64))
	expectErr(protocol.CodeBadJSON, transportDataChannel)
	// A frame over protocol.MaxFrameBytes cannot even be sent: the relay
	// announces that as the channel's max-message-size, and browsers (and
	// Pion) refuse to send more.
	v.mu.Lock()
	err := v.chat.SendText(`{"type":"ping","pad":"` + strings.Repeat("p", protocol.MaxFrameBytes) + `"}`)
	v.mu.Unlock()
	if err == nil {
		t.Fatal("an oversize data channel message was accepted for sending")
	}

	// The channel still works.
	v.sendDC(sendFrame(conv.ID, "ok", "still here"))
	if f := v.next(protocol.TypeAck); f.via != transportDataChannel {
		t.Fatalf("ack over %s", f.via)
	}
	// A malformed answer to a new offer is refused; the old channel is
	// replaced only by a good one.
	v.silent = true
	v.send(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}})
	time.Sleep(200 * time.Millisecond) // the offer arrives (and is not answered)
	v.send(protocol.RTCAnswer{Envelope: protocol.Envelope{Type: protocol.TypeRTCAnswer, Ref: "a1"}, SDP: "v=0\r\nthis is not SDP"})
	if e := expectErr(protocol.CodeInvalid, transportWebSocket); e.Ref != "a1" || !strings.Contains(e.Message, "SDP") {
		t.Fatalf("bad answer: %+v", e)
	}
	// The WebSocket carries on meanwhile.
	v.send(sendFrame(conv.ID, "ws1", "over the websocket"))
	if f := v.next(protocol.TypeAck); f.via != transportWebSocket {
		t.Fatalf("ack over %s", f.via)
	}

	bystander.sendDC(sendFrame(bconv.ID, "b1", "unaffected"))
	if f := bystander.next(protocol.TypeAck); f.via != transportDataChannel {
		t.Fatalf("bystander ack over %s", f.via)
	}
}

// A data channel that dies mid-chat: the server says rtc_stop, chat goes
// on over the WebSocket, resent sends are stored once. A channel that does
// not open in time is given up the same way.
func TestDataChannelFallback(t *testing.T) {
	st := storetest.SQLite(t)
	ts, _ := newRTCServer(t, st, "-rtc-timeout", "1s")
	ag, hc := ts.rtcAgent(t)
	ag.hello()
	ag.negotiate()
	v := ts.rtcVisitor(t, ts.visitorToken(t))
	v.hello()
	v.negotiate()
	conv := v.start()
	v.sendDC(sendFrame(conv.ID, "m1", "one"))
	v.next(protocol.TypeAck)

	// The browser closes its peer connection.
	v.mu.Lock()
	v.pc.Close()
	v.mu.Unlock()
	select {
	case r := <-v.stopped:
		t.Logf("rtc_stop: %s", r)
	case <-time.After(10 * time.Second):
		t.Fatal("no rtc_stop after the browser closed its peer")
	}
	// The client resends what it had in flight over the WebSocket.
	v.send(sendFrame(conv.ID, "m1", "one"))
	v.send(sendFrame(conv.ID, "m2", "two"))
	for _, id := range []string{"m1", "m2"} {
		f := v.next(protocol.TypeAck)
		var a protocol.Ack
		json.Unmarshal(f.data, &a)
		if a.ClientID != id || f.via != transportWebSocket {
			t.Fatalf("ack %+v over %s", a, f.via)
		}
	}
	// The agent, still on its data channel, replies; the visitor gets it
	// over the WebSocket.
	ag.sendDC(sendFrame(conv.ID, "r1", "reply"))
	for {
		f := v.next(protocol.TypeMessage)
		var m protocol.Message
		json.Unmarshal(f.data, &m)
		if m.Body == "reply" {
			if f.via != transportWebSocket {
				t.Fatalf("reply over %s", f.via)
			}
			break
		}
	}
	if stored := storedBodies(t, hc, ts.URL, conv.ID); strings.Join(stored, "|") != "one|two|reply" {
		t.Fatalf("stored %v", stored)
	}
	if got := metric(t, ts.URL, `parley_connections{kind="visitor",transport="websocket"}`); got != 1 {
		t.Fatalf("visitor counted on the websocket again: %v", got)
	}

	// A browser that never answers: rtc_stop after the timeout.
	w := ts.rtcVisitor(t, ts.visitorToken(t))
	w.silent = true
	w.hello()
	w.send(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}})
	select {
	case r := <-w.stopped:
		if !strings.Contains(r, "not open") {
			t.Fatalf("rtc_stop reason %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no rtc_stop after the timeout")
	}
}

// TestDeliveryLatency measures chat delivery (a send on one tab to the
// message on another tab of the same visitor, through the store and the
// bus) over data channels and over WebSockets, same load, same run.
// PARLEY_RTC_LATENCY=1 runs it (50 conversations × 10 msg/s × 20 s);
// PARLEY_RTC_LATENCY_FRAME=typing sends typing frames instead of messages:
// the same path without the store commit, so the transports' own cost
// shows.
func TestDeliveryLatency(t *testing.T) {
	if os.Getenv("PARLEY_RTC_LATENCY") == "" {
		t.Skip("set PARLEY_RTC_LATENCY=1 to measure delivery latency")
	}
	convs, rate, dur := 50, 10, 20*time.Second
	if spec := os.Getenv("PARLEY_RTC_LATENCY"); spec != "1" {
		// conversations x msg/s x duration, e.g. 50x10x20s
		var d string
		if n, _ := fmt.Sscanf(strings.ReplaceAll(spec, "x", " "), "%d %d %s", &convs, &rate, &d); n != 3 {
			t.Fatalf("PARLEY_RTC_LATENCY=%q: want 1 or CONVSxRATExDURATION", spec)
		}
		var err error
		if dur, err = time.ParseDuration(d); err != nil {
			t.Fatal(err)
		}
	}
	for _, via := range []string{transportWebSocket, transportDataChannel} {
		st := storetest.SQLite(t)
		if pg := os.Getenv("PARLEY_TEST_POSTGRES"); pg != "" {
			st = storetest.Postgres(t, pg)
		}
		ts, shutdown := newRTCServer(t, st)
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		for i := range convs {
			token := ts.visitorToken(t)
			a, b := ts.rtcVisitor(t, token), ts.rtcVisitor(t, token)
			a.hello()
			b.hello()
			if via == transportDataChannel {
				a.negotiate()
				b.negotiate()
			}
			conv := a.start()
			b.send(protocol.Resume{Envelope: protocol.Envelope{Type: protocol.TypeResume}, Conversations: map[string]int64{conv.ID: 0}})
			b.next(protocol.TypeSynced)
			wg.Add(2)
			sent := sync.Map{}
			n := int(dur.Seconds()) * rate
			typing := os.Getenv("PARLEY_RTC_LATENCY_FRAME") == "typing"
			sentTimes := make(chan time.Time, n)
			go func() {
				defer wg.Done()
				tick := time.NewTicker(time.Second / time.Duration(rate))
				defer tick.Stop()
				for j := range n {
					<-tick.C
					id := fmt.Sprintf("%d-%d", i, j)
					var f any = sendFrame(conv.ID, id, "latency probe "+id)
					if typing {
						f = protocol.Typing{Envelope: protocol.Envelope{Type: protocol.TypeTyping}, Conversation: conv.ID, On: j%2 == 0}
						sentTimes <- time.Now()
					} else {
						sent.Store(id, time.Now())
					}
					if via == transportDataChannel {
						a.sendDC(f)
					} else {
						a.send(f)
					}
				}
			}()
			go func() {
				defer wg.Done()
				for got := 0; got < n; {
					select {
					case f := <-b.in:
						if typing && f.typ == protocol.TypeTyping {
							d := time.Since(<-sentTimes)
							mu.Lock()
							lat = append(lat, d)
							mu.Unlock()
							got++
							continue
						}
						if f.typ != protocol.TypeMessage {
							continue
						}
						var m protocol.Message
						json.Unmarshal(f.data, &m)
						if at, ok := sent.Load(m.ClientID); ok {
							d := time.Since(at.(time.Time))
							if f.via != via {
								t.Errorf("message over %s in the %s run", f.via, via)
							}
							mu.Lock()
							lat = append(lat, d)
							mu.Unlock()
							got++
						}
					case <-time.After(30 * time.Second):
						t.Errorf("conversation %d: only %d of %d delivered", i, got, n)
						return
					}
				}
			}()
		}
		wg.Wait()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
		var buf bytes.Buffer
		what := "messages"
		if os.Getenv("PARLEY_RTC_LATENCY_FRAME") == "typing" {
			what = "typing frames"
		}
		fmt.Fprintf(&buf, "%s (%s): %d %s, p50 %v, p99 %v, max %v", via, st.Dialect(), len(lat), what, q(0.5), q(0.99), lat[len(lat)-1])
		t.Log(buf.String())
		shutdown()
	}
}

// The offer carries the configured STUN server and TURN credentials minted
// for this client (TURN REST scheme: "<expiry>:<visitor id>").
func TestOfferCarriesICEServers(t *testing.T) {
	st := storetest.SQLite(t)
	ts, _ := newRTCServer(t, st, "-stun-urls", "stun:stun.example.com:3478",
		"-turn-urls", "turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349?transport=tcp", "-turn-secret", "s3cret", "-turn-ttl", "1h")
	raw := dial(t, ts.wsURL("/ws/visitor?token="+ts.visitorToken(t)), http.Header{"Origin": {ts.origin()}})
	raw.hello(nil)
	raw.send(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart, Ref: "r"}})
	var o protocol.RTCOffer
	raw.next(protocol.TypeRTCOffer, &o)
	if o.Ref != "r" || !strings.Contains(o.SDP, "m=application") {
		t.Fatalf("offer: ref %q, sdp %q", o.Ref, o.SDP)
	}
	if len(o.ICEServers) != 2 || o.ICEServers[0].URLs[0] != "stun:stun.example.com:3478" || len(o.ICEServers[1].URLs) != 2 {
		t.Fatalf("ice servers %+v", o.ICEServers)
	}
	turnServer := o.ICEServers[1]
	expiry, user, _ := strings.Cut(turnServer.Username, ":")
	var exp int64
	fmt.Sscan(expiry, &exp)
	if left := time.Until(time.Unix(exp, 0)); left < 50*time.Minute || left > 61*time.Minute || user == "" || turnServer.Credential == "" {
		t.Fatalf("turn credentials %+v (expire in %v)", turnServer, left)
	}
	if !strings.Contains(o.SDP, "127.0.0.1") {
		t.Fatalf("the offer has no loopback candidate:\n%s", o.SDP)
	}
}

// A server without a relay says so, and the client stays on the WebSocket.
func TestRTCOffWithoutRelay(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	v := ts.visitor(t)
	v.hello(nil)
	v.send(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}})
	var s protocol.RTCStop
	v.next(protocol.TypeRTCStop, &s)
	if !strings.Contains(s.Reason, "not enabled") {
		t.Fatalf("rtc_stop %+v", s)
	}
	conv := v.start()
	if a := v.sendMsg(conv.ID, "m", "hi"); a.Seq == 0 {
		t.Fatal("no ack")
	}
}

// The WebRTC settings from the environment, and the loopback default.
func TestRTCConfig(t *testing.T) {
	env := map[string]string{
		"PARLEY_PUBLIC_URL": "https://chat.example.com", "PARLEY_RTC_UDP_PORT": "3478", "PARLEY_RTC_TCP_PORT": "3479",
		"PARLEY_RTC_PUBLIC_IPS": "203.0.113.7, 203.0.113.8", "PARLEY_RTC_TIMEOUT": "3s",
		"PARLEY_TURN_URLS": "turn:turn.example.com:3478", "PARLEY_TURN_SECRET": "x",
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	rc := relaynode.PionConfig(cfg)
	if !cfg.RTC || rc.UDPPort != 3478 || rc.TCPPort != 3479 || len(rc.PublicIPs) != 2 || rc.PublicIPs[1] != "203.0.113.8" ||
		rc.IncludeLoopback || len(rc.AllowedIPs) != 0 || cfg.RTCTimeout != 3*time.Second {
		t.Fatalf("relay config %+v from %+v", rc, cfg)
	}
	if err := ICEConfig(cfg).Validate(); err != nil {
		t.Fatal(err)
	}
	local, err := config.Load([]string{"-addr", "127.0.0.1:9999"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if !local.RTCLoopback || strings.Join(local.RTCAllowedIPs, ",") != "127.0.0.0/8,::1" {
		t.Fatalf("a server on loopback offers loopback only: %+v", local)
	}
	off, err := config.Load([]string{"-rtc=false", "-rtc-loopback", "false"}, func(string) string { return "" })
	if err != nil || off.RTC || off.RTCLoopback {
		t.Fatalf("off: %+v %v", off, err)
	}
	for _, bad := range []map[string]string{
		{"PARLEY_RTC": "maybe"}, {"PARLEY_RTC_UDP_PORT": "70000"}, {"PARLEY_RTC_LOOPBACK": "sometimes"}, {"PARLEY_RTC_TIMEOUT": "0s"},
	} {
		if _, err := config.Load(nil, func(k string) string { return bad[k] }); err == nil {
			t.Fatalf("%v accepted", bad)
		}
	}
}
