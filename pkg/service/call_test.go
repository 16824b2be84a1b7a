package service

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// callPair is an agent and a visitor whose conversation is assigned to
// the agent, both with open data channels to the relay.
func callPair(t *testing.T, ts *testServer) (ag, v *rtcClient, hc *http.Client, conv, visitorName string) {
	t.Helper()
	ag, hc = ts.rtcAgent(t)
	ag.hello()
	ag.negotiate()
	v = ts.rtcVisitor(t, ts.visitorToken(t))
	v.send(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: 1})
	var w protocol.Welcome
	_ = json.Unmarshal(v.next(protocol.TypeWelcome).data, &w)
	v.negotiate()
	info := v.start()
	for info.Status != protocol.ConversationOpen {
		var cf protocol.Conversation
		_ = json.Unmarshal(v.next(protocol.TypeConversation).data, &cf)
		info = cf.Conversation
	}
	return ag, v, hc, info.ID, w.Self.Name
}

func callAction(conv, action, kind string) protocol.Call {
	return protocol.Call{Envelope: protocol.Envelope{Type: protocol.TypeCall, Ref: "call-" + action}, Conversation: conv, Action: action, Kind: kind}
}

func (c *rtcClient) callState(state string) protocol.CallState {
	c.t.Helper()
	for {
		var cs protocol.CallState
		_ = json.Unmarshal(c.next(protocol.TypeCallState).data, &cs)
		if cs.State == state {
			return cs
		}
	}
}

func (c *rtcClient) errorFrame() protocol.Error {
	c.t.Helper()
	var e protocol.Error
	_ = json.Unmarshal(c.next(protocol.TypeError).data, &e)
	return e
}

// systemBodies returns the conversation's stored system messages.
func systemBodies(t *testing.T, hc *http.Client, url, conv string) []string {
	t.Helper()
	res, err := hc.Get(url + "/api/conversations/" + conv + "/messages")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("messages: %v %v", err, res)
	}
	defer res.Body.Close()
	var out struct{ Messages []protocol.Message }
	_ = json.NewDecoder(res.Body).Decode(&out)
	var bodies []string
	for _, m := range out.Messages {
		if m.Author.Kind == protocol.AuthorSystem && (strings.HasPrefix(m.Body, "Voice call") || strings.HasPrefix(m.Body, "Screen share")) {
			bodies = append(bodies, m.Body)
		}
	}
	return bodies
}

// waitSystem waits until the conversation's call records are want.
func waitSystem(t *testing.T, hc *http.Client, url, conv string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := systemBodies(t, hc, url, conv)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("call records %q, want %q", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The call protocol without media: ring, decline, ring out unanswered,
// accept (call_state names the mids each side sends on and the relay
// offers again), mute, hang up; each outcome is in the history, and the
// chat keeps working.
func TestCallRingDeclineMissAcceptHangUp(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) { testCallFlow(t, st) })
	}
}

func testCallFlow(t *testing.T, st *store.Store) {
	noLeaks(t)
	// An unanswered call rings for PARLEY_CALL_RING_TIMEOUT.
	ts, shutdown := newRTCServer(t, st, "-call-ring-timeout", "1s")
	ag, v, hc, conv, name := callPair(t, ts)

	// Declined.
	ag.send(callAction(conv, protocol.CallStart, protocol.CallVoice))
	if cs := ag.callState(protocol.CallRinging); cs.Incoming || cs.Ref != "call-start" || cs.Kind != protocol.CallVoice {
		t.Fatalf("caller's ringing state: %+v", cs)
	}
	ring := v.callState(protocol.CallRinging)
	if !ring.Incoming || ring.Caller.Kind != protocol.AuthorAgent || ring.ExpiresAt == nil {
		t.Fatalf("callee's ringing state: %+v", ring)
	}
	v.send(callAction(conv, protocol.CallDecline, ""))
	for _, c := range []*rtcClient{ag, v} {
		if cs := c.callState(protocol.CallEnded); cs.Reason != protocol.CallReasonDeclined || cs.By == nil || cs.By.Kind != protocol.AuthorVisitor {
			t.Fatalf("declined call ended as %+v", cs)
		}
	}

	// Not answered.
	v.send(callAction(conv, protocol.CallStart, protocol.CallScreen)) // a visitor may share its screen
	ag.callState(protocol.CallRinging)
	for _, c := range []*rtcClient{ag, v} {
		if cs := c.callState(protocol.CallEnded); cs.Reason != protocol.CallReasonMissed {
			t.Fatalf("unanswered call ended as %+v", cs)
		}
	}

	// A visitor may not start a voice call unless the site allows it.
	v.send(callAction(conv, protocol.CallStart, protocol.CallVoice))
	if e := v.errorFrame(); e.Code != protocol.CodeForbidden || e.Ref != "call-start" {
		t.Fatalf("visitor voice call on a site without visitor calls: %+v", e)
	}

	// Accepted, muted, hung up. The test clients do not renegotiate: the
	// media path is tested with real browsers (e2e/call.test.mjs) and Pion
	// clients (pkg/relay).
	ag.silent, v.silent = true, true
	ag.send(callAction(conv, protocol.CallStart, protocol.CallVoice))
	v.callState(protocol.CallRinging)
	v.send(callAction(conv, protocol.CallAccept, ""))
	for _, c := range []*rtcClient{ag, v} {
		cs := c.callState(protocol.CallActive)
		if len(cs.Send) != 1 || cs.StartedAt == nil {
			t.Fatalf("active call state %+v: want one mid to send the microphone on", cs)
		}
	}
	v.send(callAction(conv, protocol.CallMute, ""))
	if cs := ag.callState(protocol.CallActive); len(cs.Muted) != 1 {
		t.Fatalf("after the visitor muted: %+v", cs)
	}
	// A screen share may ring beside the voice call; an action must then
	// say which call it means.
	v.send(callAction(conv, protocol.CallStart, protocol.CallScreen))
	if cs := ag.callState(protocol.CallRinging); cs.Kind != protocol.CallScreen || !cs.Incoming {
		t.Fatalf("screen share beside the call: %+v", cs)
	}
	ag.send(callAction(conv, protocol.CallDecline, ""))
	if e := ag.errorFrame(); e.Code != protocol.CodeInvalid || !strings.Contains(e.Message, "name one") {
		t.Fatalf("an ambiguous decline: %+v", e)
	}
	ag.send(callAction(conv, protocol.CallDecline, protocol.CallScreen))
	if cs := v.callState(protocol.CallEnded); cs.Kind != protocol.CallScreen || cs.Reason != protocol.CallReasonDeclined {
		t.Fatalf("the declined share: %+v", cs)
	}
	if cs := ag.callState(protocol.CallEnded); cs.Kind != protocol.CallScreen {
		t.Fatalf("the agent's view of the declined share: %+v", cs)
	}
	ag.send(callAction(conv, protocol.CallHangUp, ""))
	for _, c := range []*rtcClient{ag, v} {
		if cs := c.callState(protocol.CallEnded); cs.Reason != protocol.CallReasonHungUp || cs.By == nil || cs.By.Kind != protocol.AuthorAgent {
			t.Fatalf("hung-up call ended as %+v", cs)
		}
	}
	ag.send(callAction(conv, protocol.CallHangUp, ""))
	if e := ag.errorFrame(); e.Code != protocol.CodeNotFound {
		t.Fatalf("hang-up without a call: %+v", e)
	}

	waitSystem(t, hc, ts.URL, conv,
		"Voice call from Admin declined",
		"Screen share from "+name+" not answered",
		"Voice call started: Admin called "+name,
		"Screen share from "+name+" declined",
		"Voice call ended by Admin after 0:00",
	)
	// Chat goes on after all that.
	v.sendDC(sendFrame(conv, "after-calls", "still here"))
	v.next(protocol.TypeAck)

	v.close()
	ag.close()
	shutdown()
}

// Without a WebRTC connection to the relay a call is refused with
// call_unavailable, which the UI shows as "not possible on this network".
func TestCallNeedsWebRTC(t *testing.T) {
	noLeaks(t)
	st := storetest.SQLite(t)
	ts, shutdown := newRTCServer(t, st)
	ag, hc := ts.rtcAgent(t)
	ag.hello()
	ag.negotiate()
	v := ts.rtcVisitor(t, ts.visitorToken(t)) // stays on the WebSocket
	v.hello()
	info := v.start()
	for info.Status != protocol.ConversationOpen {
		var cf protocol.Conversation
		_ = json.Unmarshal(v.next(protocol.TypeConversation).data, &cf)
		info = cf.Conversation
	}
	ag.send(callAction(info.ID, protocol.CallStart, protocol.CallVoice))
	if e := ag.errorFrame(); e.Code != protocol.CodeCallUnavailable || !strings.Contains(e.Message, "WebRTC") {
		t.Fatalf("call to a visitor without WebRTC: %+v", e)
	}
	v.send(callAction(info.ID, protocol.CallStart, protocol.CallScreen))
	if e := v.errorFrame(); e.Code != protocol.CodeCallUnavailable {
		t.Fatalf("call from a visitor without WebRTC: %+v", e)
	}
	if got := systemBodies(t, hc, ts.URL, info.ID); len(got) != 0 {
		t.Fatalf("a call that never rang was recorded: %q", got)
	}
	v.close()
	ag.close()
	shutdown()
}

// A visitor with two tabs: the call rings in both; answered in one, the
// other stops ringing ("answered on another device").
func TestCallRingsEveryTab(t *testing.T) {
	noLeaks(t)
	st := storetest.SQLite(t)
	ts, shutdown := newRTCServer(t, st)
	ag, _ := ts.rtcAgent(t)
	ag.hello()
	ag.negotiate()
	tok := ts.visitorToken(t)
	tab1, tab2 := ts.rtcVisitor(t, tok), ts.rtcVisitor(t, tok)
	for _, v := range []*rtcClient{tab1, tab2} {
		v.hello()
		v.negotiate()
	}
	info := tab1.start()
	for info.Status != protocol.ConversationOpen {
		var cf protocol.Conversation
		_ = json.Unmarshal(tab1.next(protocol.TypeConversation).data, &cf)
		info = cf.Conversation
	}
	ag.silent, tab1.silent, tab2.silent = true, true, true
	ag.send(callAction(info.ID, protocol.CallStart, protocol.CallVoice))
	for _, v := range []*rtcClient{tab1, tab2} {
		if cs := v.callState(protocol.CallRinging); !cs.Incoming {
			t.Fatalf("a tab's ringing state: %+v", cs)
		}
	}
	tab2.send(callAction(info.ID, protocol.CallAccept, ""))
	if cs := tab1.callState(protocol.CallEnded); cs.Reason != protocol.CallReasonElsewhere {
		t.Fatalf("the other tab: %+v", cs)
	}
	tab2.callState(protocol.CallActive)
	ag.callState(protocol.CallActive)
	tab1.send(callAction(info.ID, protocol.CallHangUp, ""))
	if e := tab1.errorFrame(); e.Code != protocol.CodeForbidden {
		t.Fatalf("hang-up from the tab not in the call: %+v", e)
	}
	tab2.send(callAction(info.ID, protocol.CallHangUp, ""))
	ag.callState(protocol.CallEnded)
	for _, c := range []*rtcClient{tab1, tab2, ag} {
		c.close()
	}
	shutdown()
}

// A peer that closes while an ICE restart is under way (not open at that
// moment) still ends its call: the other side hears it dropped and the
// history says so.
func TestCallEndsWhenPeerClosesDuringICERestart(t *testing.T) {
	ts, _ := newRTCServer(t, storetest.SQLite(t))
	ag, v, hc, conv, name := callPair(t, ts)
	// Neither side answers offers: the restart stays under way.
	ag.silent, v.silent = true, true
	ag.send(callAction(conv, protocol.CallStart, protocol.CallVoice))
	v.callState(protocol.CallRinging)
	v.send(callAction(conv, protocol.CallAccept, ""))
	for _, c := range []*rtcClient{ag, v} {
		c.callState(protocol.CallActive)
	}
	v.send(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}, Restart: true})
	waitFor(t, "the visitor's chat back on the WebSocket for the restart", func() bool {
		return metric(t, ts.URL, `parley_connections{kind="visitor",transport="websocket"}`) == 1
	})
	v.send(protocol.RTCStop{Envelope: protocol.Envelope{Type: protocol.TypeRTCStop}})
	if cs := ag.callState(protocol.CallEnded); cs.Reason != protocol.CallReasonDropped {
		t.Fatalf("call of a peer closed during its restart ended as %+v", cs)
	}
	// The duration depends on the machine's speed; the record's kind does not.
	waitFor(t, "the dropped call in the history", func() bool {
		got := systemBodies(t, hc, ts.URL, conv)
		return len(got) == 2 && got[0] == "Voice call started: Admin called "+name &&
			strings.HasPrefix(got[1], "Voice call dropped (connection lost) after ")
	})
}

// reanswer answers an offer of the relay on the client's current peer
// connection (a renegotiation or an ICE restart), as a browser does.
func (c *rtcClient) reanswer(o protocol.RTCOffer) {
	c.t.Helper()
	c.mu.Lock()
	pc := c.pc
	c.mu.Unlock()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP}); err != nil {
		c.t.Fatalf("set offer: %v", err)
	}
	ans, err := pc.CreateAnswer(nil)
	if err == nil {
		err = pc.SetLocalDescription(ans)
	}
	if err != nil {
		c.t.Fatalf("answer: %v", err)
	}
	c.send(protocol.RTCAnswer{Envelope: protocol.Envelope{Type: protocol.TypeRTCAnswer}, SDP: ans.SDP})
}

func (c *rtcClient) offer() protocol.RTCOffer {
	c.t.Helper()
	return nextOffer(c.t, c.offers)
}

// nextOffer is the next rtc_offer a test client held back on offers; it
// fails the test when none comes in 10s.
func nextOffer(t testing.TB, offers <-chan protocol.RTCOffer) protocol.RTCOffer {
	t.Helper()
	select {
	case o := <-offers:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("no rtc_offer in 10s")
	}
	return protocol.RTCOffer{}
}

// iceUfrag is an SDP's first ICE username fragment: an ICE restart
// changes it.
func iceUfrag(sdp string) string {
	for line := range strings.Lines(sdp) {
		if u, ok := strings.CutPrefix(strings.TrimSpace(line), "a=ice-ufrag:"); ok {
			return u
		}
	}
	return ""
}

// One offer at a time: an ICE restart asked while a call's offer awaits
// its answer goes out after that answer, so the answer meets the offer it
// answers; then the restart completes and chat is back on the channel.
// (Made at once beside the pending offer, the restart offer failed and
// the peer, with its call, was ended.)
func TestICERestartWaitsForTheCallsOffer(t *testing.T) {
	ts, _ := newRTCServer(t, storetest.SQLite(t))
	ag, v, _, conv, _ := callPair(t, ts)
	ag.silent, v.silent = true, true
	ag.send(callAction(conv, protocol.CallStart, protocol.CallVoice))
	v.callState(protocol.CallRinging)
	v.send(callAction(conv, protocol.CallAccept, ""))
	v.callState(protocol.CallActive)
	call := v.offer() // the call's tracks: unanswered for now

	v.send(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}, Restart: true})
	// The server handles a client's frames in turn and answers in order: a
	// restart offer sent at once would be read before this error.
	v.send(callAction(conv, "no-such-action", ""))
	if e := v.errorFrame(); e.Ref != "call-no-such-action" {
		t.Fatalf("probe answered with %+v", e)
	}
	if n := len(v.offers); n != 0 {
		t.Fatalf("%d more offers while the call's offer awaits its answer, want 0", n)
	}
	v.reanswer(call)
	restart := v.offer()
	if iceUfrag(restart.SDP) == "" || iceUfrag(restart.SDP) == iceUfrag(call.SDP) {
		t.Fatalf("offer after the answer is not an ICE restart (ufrag %q, before %q)", iceUfrag(restart.SDP), iceUfrag(call.SDP))
	}
	v.reanswer(restart)
	waitFor(t, "the visitor's chat back on the data channel", func() bool {
		return metric(t, ts.URL, `parley_connections{kind="visitor",transport="datachannel"}`) == 1
	})
	if n := metric(t, ts.URL, `parley_rtc_ice_restarts_total{by="client"}`); n != 1 {
		t.Fatalf("%v ICE restarts, want 1", n)
	}
}
