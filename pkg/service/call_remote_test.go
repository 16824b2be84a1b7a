package service

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
	"github.com/parleychat/parley/pkg/relay/relaytest"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// callClient plays a browser in a call: a WebSocket and one Pion peer
// connection that answers every offer of the relay (the first and the
// renegotiations), attaches its microphone (audio) or screen (video) once
// call_state asks it to send, and counts the packets it receives by tag.
type callClient struct {
	t   *testing.T
	ws  *websocket.Conn
	wmu sync.Mutex
	tag string // payload prefix of what this client sends

	mu       sync.Mutex
	pc       *webrtc.PeerConnection
	chat     *webrtc.DataChannel
	want     map[webrtc.RTPCodecType]bool // kinds call_state asked us to send
	tracks   map[webrtc.RTPCodecType]*webrtc.TrackLocalStaticRTP
	attached map[webrtc.RTPCodecType]bool
	received map[string]int

	got     chan struct{} // a packet arrived (coalesced)
	ended   chan struct{} // a remote track's reads ended (one per track)
	opened  chan struct{}
	stopped chan string
	in      chan frameIn
	readers sync.WaitGroup // remote track readers
	wsDone  chan struct{}
}

func newCallClient(t *testing.T, url string, h http.Header, tag string) *callClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &callClient{t: t, ws: ws, tag: tag, want: map[webrtc.RTPCodecType]bool{}, attached: map[webrtc.RTPCodecType]bool{},
		tracks: map[webrtc.RTPCodecType]*webrtc.TrackLocalStaticRTP{}, received: map[string]int{},
		got: make(chan struct{}, 1), ended: make(chan struct{}, 8), opened: make(chan struct{}), stopped: make(chan string, 4),
		in: make(chan frameIn, 1024), wsDone: make(chan struct{})}
	for kind, capability := range map[webrtc.RTPCodecType]webrtc.RTPCodecCapability{
		webrtc.RTPCodecTypeAudio: {MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		webrtc.RTPCodecTypeVideo: {MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
	} {
		if c.tracks[kind], err = webrtc.NewTrackLocalStaticRTP(capability, kind.String(), tag); err != nil {
			t.Fatal(err)
		}
	}
	go c.readWS()
	t.Cleanup(c.close)
	return c
}

func (ts *testServer) callAgent(t *testing.T) (*callClient, *http.Client) {
	ag, hc := ts.agent(t) // signs in; its own socket is not used further
	ag.ws.Close()
	h := http.Header{"Origin": {ts.origin()}}
	u, _ := http.NewRequest("GET", ts.URL, nil)
	for _, ck := range hc.Jar.Cookies(u.URL) {
		h.Add("Cookie", ck.Name+"="+ck.Value)
	}
	return newCallClient(t, ts.wsURL("/ws/agent"), h, "agent"), hc
}

func (ts *testServer) callVisitor(t *testing.T) *callClient {
	return newCallClient(t, ts.wsURL("/ws/visitor?token="+ts.visitorToken(t)), http.Header{"Origin": {ts.origin()}}, "visitor")
}

func (c *callClient) close() {
	c.mu.Lock()
	pc := c.pc
	c.mu.Unlock()
	if pc != nil {
		pc.Close()
	}
	c.ws.Close()
	<-c.wsDone
	c.readers.Wait()
}

func (c *callClient) send(v any) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Logf("ws write: %v", err)
	}
}

func (c *callClient) readWS() {
	defer close(c.wsDone)
	relaytest.ReadFrames(c.ws, func(typ string, data []byte) {
		switch typ {
		case protocol.TypeRTCOffer:
			c.answer(relaytest.Offer(data).SDP)
			return
		case protocol.TypeRTCCandidate:
			c.mu.Lock()
			pc := c.pc
			c.mu.Unlock()
			relaytest.AddCandidate(pc, data)
			return
		case protocol.TypeRTCStop:
			// As the widget does: drop the peer, chat goes on over the WebSocket.
			var s protocol.RTCStop
			json.Unmarshal(data, &s)
			c.mu.Lock()
			pc := c.pc
			c.pc, c.chat = nil, nil
			c.mu.Unlock()
			if pc != nil {
				pc.Close()
			}
			c.stopped <- s.Reason
			return
		case protocol.TypeCallState:
			// call_state comes before the offer that carries the call's
			// transceivers: the offer's answer attaches what is asked for.
			var cs protocol.CallState
			json.Unmarshal(data, &cs)
			if cs.State == protocol.CallActive && len(cs.Send) > 0 {
				kind := webrtc.RTPCodecTypeAudio
				if cs.Kind == protocol.CallScreen {
					kind = webrtc.RTPCodecTypeVideo
				}
				c.mu.Lock()
				c.want[kind] = true
				c.mu.Unlock()
			}
		}
		c.in <- frameIn{via: transportWebSocket, typ: typ, data: data}
	})
}

// answer applies an offer of the relay on the client's one peer
// connection (made at the first offer) and answers it.
func (c *callClient) answer(sdp string) {
	c.mu.Lock()
	pc := c.pc
	c.mu.Unlock()
	if pc == nil {
		var err error
		if pc, err = c.newPeer(); err != nil {
			c.t.Errorf("browser peer: %v", err)
			return
		}
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		c.t.Errorf("%s: set offer: %v", c.tag, err)
		return
	}
	c.mu.Lock()
	for kind := range c.want {
		if !c.attached[kind] {
			if _, err := pc.AddTrack(c.tracks[kind]); err != nil {
				c.t.Errorf("%s: attach %s: %v", c.tag, kind, err)
			}
			c.attached[kind] = true
		}
	}
	c.mu.Unlock()
	ans, err := pc.CreateAnswer(nil)
	if err == nil {
		err = pc.SetLocalDescription(ans)
	}
	if err != nil {
		c.t.Errorf("%s: answer: %v", c.tag, err)
		return
	}
	c.send(protocol.RTCAnswer{Envelope: protocol.Envelope{Type: protocol.TypeRTCAnswer}, SDP: ans.SDP})
}

func (c *callClient) newPeer() (*webrtc.PeerConnection, error) {
	se := relaytest.SettingEngine()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{})).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	relaytest.Trickle(pc, c.send)
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() != relay.ChannelChat {
			return
		}
		dc.OnOpen(func() {
			c.mu.Lock()
			c.chat = dc
			c.mu.Unlock()
			select {
			case <-c.opened:
			default:
				close(c.opened)
			}
		})
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			var env protocol.Envelope
			json.Unmarshal(m.Data, &env)
			c.in <- frameIn{via: transportDataChannel, typ: env.Type, data: append([]byte(nil), m.Data...)}
		})
	})
	c.readers.Add(1) // released by OnConnectionStateChange(closed)
	var release sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateClosed {
			release.Do(c.readers.Done)
		}
	})
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.readers.Add(1)
		defer c.readers.Done()
		defer func() { c.ended <- struct{}{} }()
		for {
			pkt, _, err := remote.ReadRTP()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.received[string(bytes.SplitN(pkt.Payload, []byte{'#'}, 2)[0])]++
			c.mu.Unlock()
			select {
			case c.got <- struct{}{}:
			default:
			}
		}
	})
	c.mu.Lock()
	c.pc = pc
	c.mu.Unlock()
	return pc, nil
}

func (c *callClient) next(typ string) frameIn {
	c.t.Helper()
	return nextFrame(c.t, c.in, typ, "", c.tag)
}

// callState waits for a call_state frame in state; an error frame about a
// call (call_unavailable, say) fails the test at once with its message.
func (c *callClient) callState(state string) protocol.CallState {
	c.t.Helper()
	timeout := time.After(frameWait)
	for {
		select {
		case f := <-c.in:
			switch f.typ {
			case protocol.TypeCallState:
				var cs protocol.CallState
				json.Unmarshal(f.data, &cs)
				if cs.State == state {
					return cs
				}
			case protocol.TypeError:
				var e protocol.Error
				json.Unmarshal(f.data, &e)
				if strings.HasPrefix(e.Code, "call") {
					c.t.Fatalf("%s: waiting for call_state %s, got error %s: %s", c.tag, state, e.Code, e.Message)
				}
			}
		case <-timeout:
			c.t.Fatalf("%s: no call_state %s in %v", c.tag, state, frameWait)
		}
	}
}

func (c *callClient) hello() protocol.Welcome {
	c.t.Helper()
	c.send(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: 1})
	var w protocol.Welcome
	json.Unmarshal(c.next(protocol.TypeWelcome).data, &w)
	return w
}

func (c *callClient) negotiate() {
	c.t.Helper()
	c.send(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}})
	select {
	case <-c.opened:
	case r := <-c.stopped:
		c.t.Fatalf("%s: rtc_stop instead of a data channel: %s", c.tag, r)
	case <-time.After(10 * time.Second):
		c.t.Fatalf("%s: data channel not open in 10s", c.tag)
	}
}

// sendDC sends a chat frame on the data channel.
func (c *callClient) sendDC(v any) {
	c.t.Helper()
	c.mu.Lock()
	dc := c.chat
	c.mu.Unlock()
	b, _ := json.Marshal(v)
	if dc == nil || dc.SendText(string(b)) != nil {
		c.t.Fatalf("%s: no data channel to send on", c.tag)
	}
}

// sendMedia writes "<tag>-<kind>#n" packets of kind every 10 ms until stop.
func (c *callClient) sendMedia(kind webrtc.RTPCodecType, stop <-chan struct{}, wg *sync.WaitGroup) {
	pt := uint8(111)
	if kind == webrtc.RTPCodecTypeVideo {
		pt = 96
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			_ = c.tracks[kind].WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * 960},
				Payload: []byte(c.tag + "-" + kind.String() + "#" + string(rune('a'+seq%26)))})
		}
	}()
}

func (c *callClient) count(tag string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.received[tag]
}

// waitCount waits until at least n packets tagged tag arrived.
func (c *callClient) waitCount(tag string, n int) {
	c.t.Helper()
	deadline := time.After(15 * time.Second)
	for c.count(tag) < n {
		select {
		case <-c.got:
		case <-deadline:
			c.t.Fatalf("%s: only %d of %d %q packets arrived within 15s", c.tag, c.count(tag), n, tag)
		}
	}
}

// waitRecords waits until the conversation's call records start with the
// given prefixes, in order.
func waitRecords(t *testing.T, hc *http.Client, url, conv string, prefixes ...string) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := systemBodies(t, hc, url, conv)
		ok := len(got) == len(prefixes)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.HasPrefix(got[i], prefixes[i])
		}
		if ok {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("call records %q, want %q…", got, prefixes)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startConversation has the visitor start a chat and waits until the
// agent has it.
func startConversation(t *testing.T, v *callClient) string {
	t.Helper()
	v.send(protocol.Start{Envelope: protocol.Envelope{Type: protocol.TypeStart, Ref: "s"}})
	for {
		var cf protocol.Conversation
		json.Unmarshal(v.next(protocol.TypeConversation).data, &cf)
		if cf.Conversation.Status == protocol.ConversationOpen {
			return cf.Conversation.ID
		}
	}
}

// callSides connects an agent and a visitor with data channels and an
// open conversation between them.
func callSides(t *testing.T, ts *testServer) (ag *callClient, hc *http.Client, v *callClient, conv, visitorName string) {
	t.Helper()
	ag, hc = ts.callAgent(t)
	ag.hello()
	ag.negotiate()
	v = ts.callVisitor(t)
	visitorName = v.hello().Self.Name
	conv = startConversation(t, v)
	v.negotiate()
	// A browser's channel opens before the relay's report of it reaches
	// signaling: a call placed in between finds nobody to ring.
	ts.waitMediaPeers(t, 2)
	return ag, hc, v, conv, visitorName
}

// voiceCall has the agent call the visitor, who answers; it returns once
// each hears the other (stop ends the microphones).
func voiceCall(t *testing.T, ag, v *callClient, conv string) (stop func()) {
	t.Helper()
	ag.send(callAction(conv, protocol.CallStart, protocol.CallVoice))
	ag.callState(protocol.CallRinging)
	v.callState(protocol.CallRinging)
	accepted := time.Now()
	v.send(callAction(conv, protocol.CallAccept, ""))
	for _, c := range []*callClient{ag, v} {
		if cs := c.callState(protocol.CallActive); len(cs.Send) != 1 {
			t.Fatalf("%s: active voice call %+v: want one mid to send on", c.tag, cs)
		}
	}
	active := time.Since(accepted)
	done := make(chan struct{})
	var senders sync.WaitGroup
	ag.sendMedia(webrtc.RTPCodecTypeAudio, done, &senders)
	v.sendMedia(webrtc.RTPCodecTypeAudio, done, &senders)
	stop = sync.OnceFunc(func() { close(done); senders.Wait() })
	v.waitCount("agent-audio", 20)
	ag.waitCount("visitor-audio", 20)
	if ag.count("agent-audio") != 0 || v.count("visitor-audio") != 0 {
		t.Fatal("a participant heard itself")
	}
	t.Logf("accept → both active %v; → both heard 20 packets %v", active.Round(time.Millisecond), time.Since(accepted).Round(time.Millisecond))
	return stop
}

// A voice call and a screen share through a standalone relay, as through
// the in-process one: media goes from each browser to the other through
// the relay (call control over the control link, the renegotiation offers
// as the usual offer message), chat goes on during the call, hang-up ends
// the tracks; when the relay drains during a share the call is recorded
// as dropped and chat goes on over the WebSocket. No goroutine leaks.
func TestCallThroughStandaloneRelay(t *testing.T) {
	noLeaks(t)
	st := storetest.SQLite(t)
	ts, pool, shutdown := newRemoteRTCServer(t, st)
	r := startRelay(t, "relay-calls", ts.URL, nil)
	waitRelays(t, pool, 1)

	ag, hc, v, conv, name := callSides(t, ts)
	stopMedia := voiceCall(t, ag, v, conv)
	defer stopMedia()
	if calls := metric(t, r.url, "parley_relay_calls"); calls != 1 {
		t.Fatalf("parley_relay_calls %v during the call", calls)
	}
	// What the relay forwarded, asked over the control link.
	ts.srv.calls.mu.Lock()
	k := ts.srv.calls.byConv[callKey{conv, protocol.CallVoice}]
	ts.srv.calls.mu.Unlock()
	legs, err := k.media.Stats(context.Background())
	if err != nil || len(legs) != 2 {
		t.Fatalf("call stats from the relay: %+v %v", legs, err)
	}
	for _, l := range legs {
		if l.Kind != "audio" || l.Packets == 0 || l.Bytes == 0 {
			t.Fatalf("leg %+v: want audio forwarded", l)
		}
	}

	// Chat goes on during the call, over the data channel.
	v.sendDC(sendFrame(conv, "during", "can you hear me?"))
	if f := v.next(protocol.TypeAck); f.via != transportDataChannel {
		t.Fatalf("ack during the call over %s", f.via)
	}

	// Hang up: both sides' tracks end once renegotiated.
	v.send(callAction(conv, protocol.CallHangUp, ""))
	for _, c := range []*callClient{ag, v} {
		if cs := c.callState(protocol.CallEnded); cs.Reason != protocol.CallReasonHungUp {
			t.Fatalf("%s: hung-up call ended as %+v", c.tag, cs)
		}
		select {
		case <-c.ended:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the remote track did not end after hang-up", c.tag)
		}
	}
	if calls := metric(t, r.url, "parley_relay_calls"); calls != 0 {
		t.Fatalf("parley_relay_calls %v after hang-up", calls)
	}
	stopMedia()

	// Screen share from the visitor; the relay drains meanwhile.
	v.send(callAction(conv, protocol.CallStart, protocol.CallScreen))
	ag.callState(protocol.CallRinging)
	ag.send(callAction(conv, protocol.CallAccept, ""))
	if cs := v.callState(protocol.CallActive); len(cs.Send) != 1 {
		t.Fatalf("sharer's active state %+v: want one mid to send the screen on", cs)
	}
	if cs := ag.callState(protocol.CallActive); len(cs.Send) != 0 {
		t.Fatalf("viewer's active state %+v: the viewer sends nothing", cs)
	}
	stop2 := make(chan struct{})
	var sharing sync.WaitGroup
	v.sendMedia(webrtc.RTPCodecTypeVideo, stop2, &sharing)
	ag.waitCount("visitor-video", 10)
	r.stop()
	for _, c := range []*callClient{ag, v} {
		if cs := c.callState(protocol.CallEnded); cs.Reason != protocol.CallReasonDropped {
			t.Fatalf("%s: the share on a drained relay ended as %+v", c.tag, cs)
		}
		select {
		case <-c.stopped:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no rtc_stop after the relay drained", c.tag)
		}
	}
	close(stop2)
	sharing.Wait()
	// Chat goes on over the WebSocket.
	v.send(sendFrame(conv, "after", "still here"))
	if f := v.next(protocol.TypeAck); f.via != transportWebSocket {
		t.Fatalf("ack after the relay left over %s", f.via)
	}
	waitRecords(t, hc, ts.URL, conv,
		"Voice call started: Admin called "+name,
		"Voice call ended by "+name+" after 0:",
		"Screen share started: "+name+" called Admin",
		"Screen share dropped (connection lost) after 0:",
	)
	v.close()
	ag.close()
	shutdown()
}

// Peers on two different relays cannot be joined: the call is refused
// with call_unavailable saying why, and nothing rings or is recorded.
func TestCallAcrossRelaysUnavailable(t *testing.T) {
	noLeaks(t)
	st := storetest.SQLite(t)
	ts, pool, shutdown := newRemoteRTCServer(t, st)
	r1 := startRelay(t, "relay-a", ts.URL, nil)
	r2 := startRelay(t, "relay-b", ts.URL, nil)
	waitRelays(t, pool, 2)

	// The agent has no conversation yet: its peer goes to the least loaded
	// relay; the visitor's then to the other one.
	ag, hc := ts.callAgent(t)
	ag.hello()
	ag.negotiate()
	v := ts.callVisitor(t)
	v.hello()
	conv := startConversation(t, v)
	v.negotiate()
	if a, b := metric(t, r1.url, "parley_relay_peers"), metric(t, r2.url, "parley_relay_peers"); a != 1 || b != 1 {
		t.Fatalf("peers per relay %v and %v: want one each", a, b)
	}

	ag.send(callAction(conv, protocol.CallStart, protocol.CallVoice))
	var e protocol.Error
	json.Unmarshal(ag.next(protocol.TypeError).data, &e)
	if e.Code != protocol.CodeCallUnavailable || !strings.Contains(e.Message, "different relay") {
		t.Fatalf("a call across relays: %+v", e)
	}
	if got := systemBodies(t, hc, ts.URL, conv); len(got) != 0 {
		t.Fatalf("a call that never rang was recorded: %q", got)
	}
	// Chat is not affected.
	v.sendDC(sendFrame(conv, "m", "hello"))
	if f := v.next(protocol.TypeAck); f.via != transportDataChannel {
		t.Fatalf("ack over %s", f.via)
	}
	v.close()
	ag.close()
	shutdown()
}

// cuttableListener hands out connections it can cut all at once: to
// signaling the relay then looks like a process killed with -9 (its
// control link breaks without a close frame).
type cuttableListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *cuttableListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *cuttableListener) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

// A relay that dies during a call (its control link breaks): the call
// ends as dropped for both sides, the history says so, and chat goes on
// over the WebSocket.
func TestCallDroppedWhenRelayDies(t *testing.T) {
	noLeaks(t)
	st := storetest.SQLite(t)
	ts, pool, shutdown := newRemoteRTCServer(t, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cut := &cuttableListener{Listener: ln}
	r := startRelayOn(t, "relay-dies", ts.URL, nil, cut)
	waitRelays(t, pool, 1)
	ag, hc, v, conv, name := callSides(t, ts)
	stopMedia := voiceCall(t, ag, v, conv)
	defer stopMedia()

	cut.cut()
	for _, c := range []*callClient{ag, v} {
		if cs := c.callState(protocol.CallEnded); cs.Reason != protocol.CallReasonDropped {
			t.Fatalf("%s: the call on a dead relay ended as %+v", c.tag, cs)
		}
		select {
		case <-c.stopped:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no rtc_stop after the relay died", c.tag)
		}
	}
	stopMedia()
	v.send(sendFrame(conv, "after", "are you still there?"))
	if f := v.next(protocol.TypeAck); f.via != transportWebSocket {
		t.Fatalf("ack after the relay died over %s", f.via)
	}
	for {
		f := ag.next(protocol.TypeMessage)
		var m protocol.Message
		json.Unmarshal(f.data, &m)
		if m.Body != "are you still there?" {
			continue // the call's records
		}
		if f.via != transportWebSocket {
			t.Fatalf("the agent got the message over %s", f.via)
		}
		break
	}
	waitRecords(t, hc, ts.URL, conv,
		"Voice call started: Admin called "+name,
		"Voice call dropped (connection lost) after 0:",
	)
	v.close()
	ag.close()
	shutdown()
	r.stop()
}
