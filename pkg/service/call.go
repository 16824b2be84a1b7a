package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
	"github.com/parleychat/parley/pkg/relaynode"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/turn"
)

// Calls: a conversation's chat upgraded to a voice call or a screen share,
// through the relay peers the two sides already have (rtc.go).
//
//	caller  → call{action:start, kind}   server checks both sides have an
//	                                      open relay peer, rings the callee's
//	callee  ← call_state{ringing, incoming}      connections (timeout: missed)
//	callee  → call{action:accept}        relay.Peer.Connect adds the call's
//	both    ← call_state{active, send}   transceivers; the relay offers
//	both    ← rtc_offer → rtc_answer     again and the browsers attach
//	                                     their microphone (or screen) to the
//	                                     mids in send
//	either  → call{action:hangup}        transceivers stopped, offer again
//	both    ← call_state{ended, reason}
//
// Only the relay offers, so renegotiation cannot collide; an offer made
// while the previous one awaits its answer waits for it (rtcLink.again).
// The data channel and the chat go on throughout. Every outcome is a
// system message in the conversation (stored, seq'd, archived like any
// message). The two peers must be on one relay: the in-process one, or
// the same standalone relay (relaynode.Connect drives it over the control
// link; relay picking by conversation puts both sides there). Peers on
// two different standalone relays cannot be joined: the call answers
// call_unavailable and says so (moving a peer would cut its data channel
// mid-chat, which calls promise not to do).
//
// In a fleet the two sides may be connected to two signaling nodes: the
// caller's node runs the call and the callee's node mirrors it for its own
// clients, over the bus (call_fleet.go).

// callRingTimeout is how long a call rings before it counts as missed,
// when the configuration does not say (PARLEY_CALL_RING_TIMEOUT).
const callRingTimeout = 30 * time.Second

// callRecordTimeout bounds the store write of a call's system message.
const callRecordTimeout = 5 * time.Second

// callBook holds the calls of this node's connections: per conversation
// at most one of each kind (a screen share may run beside a voice call).
type callBook struct {
	mu     sync.Mutex
	byConv map[callKey]*call
	node   string     // this node's id in call messages (call_fleet.go)
	queues callQueues // call messages from other nodes, by call
}

type callKey struct{ conv, kind string }

func (k *call) key() callKey { return callKey{k.conv, k.kind} }

// find returns the conversation's call that id and kind (either may be
// empty) name; ambiguous when they fit both of its calls.
func (b *callBook) find(conv, id, kind string) (found *call, ambiguous bool) {
	for _, kd := range []string{protocol.CallVoice, protocol.CallScreen} {
		k := b.byConv[callKey{conv, kd}]
		if k == nil || (id != "" && k.id != id) || (kind != "" && k.kind != kind) {
			continue
		}
		if found != nil {
			return nil, true
		}
		found = k
	}
	return found, false
}

// call is one call; its fields are guarded by callBook.mu. On its home
// node (the caller's) home is empty; another node's mirror of it
// (call_fleet.go) has home set, from nil, and only this node's rung and to.
type call struct {
	id, conv, workspace, kind string
	caller                    protocol.Author
	callee                    protocol.Author
	from                      *conn   // the caller's connection
	to                        *conn   // the connection that accepted, if on this node
	rung                      []*conn // the callee's connections it rang on this node
	state                     string
	expires                   time.Time
	timer                     *time.Timer
	media                     relaynode.Call
	started                   time.Time
	muted                     map[string]bool

	// The home's view of other nodes: those that rang (remote), and the
	// accepter when it is on one of them.
	remote         map[string]bool
	probe          chan struct{} // closed when another node first rang
	probeOnce      sync.Once
	whyNot         []string // why other nodes rang none
	acceptor       string   // a remote accept under way
	toNode, toConn string
	toRef          relaynode.PeerRef
	toRefAck       string // the remote accept's ref, for its call_state
	home           string // a mirror's home node
	send           []string
	mediaID        string // a mirror's call id on the relay
}

func callLabel(kind string) string {
	if kind == protocol.CallScreen {
		return "Screen share"
	}
	return "Voice call"
}

// callError answers a call frame with an error frame.
func (c *conn) callError(ref, code, msg string) {
	c.reply(protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError, Ref: ref}, Code: code, Message: msg})
}

// mediaPeer returns the connection's relay link and peer while its data
// channel is open (peers are made with PeerOptions.Media: any can carry a
// call).
func (c *conn) mediaPeer() (*rtcLink, relaynode.Peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.rtc
	if l == nil || !l.open {
		return nil, nil
	}
	return l, l.peer
}

// handleCall serves a call frame (from the connection's reader).
func (c *conn) handleCall(ctx context.Context, f *protocol.Call) {
	if err := c.srv.conv.CanSee(ctx, c.p, f.Conversation); err != nil {
		c.reply(errorFrame(err, f.Ref))
		return
	}
	book := &c.srv.calls
	if f.Action == protocol.CallStart {
		book.mu.Lock()
		busy := book.byConv[callKey{f.Conversation, f.Kind}] != nil
		book.mu.Unlock()
		if busy {
			c.callError(f.Ref, protocol.CodeInvalid, "a "+strings.ToLower(callLabel(f.Kind))+" is already under way in this conversation")
			return
		}
		c.startCall(ctx, f)
		return
	}
	book.mu.Lock()
	k, ambiguous := book.find(f.Conversation, f.ID, f.Kind)
	book.mu.Unlock()
	if ambiguous {
		c.callError(f.Ref, protocol.CodeInvalid, "this conversation has a voice call and a screen share: name one with id")
		return
	}
	if k == nil {
		c.callError(f.Ref, protocol.CodeNotFound, "no such call is under way in this conversation")
		return
	}
	if k.home != "" {
		c.forwardCall(k, f) // call_fleet.go
		return
	}
	switch f.Action {
	case protocol.CallAccept:
		c.acceptCall(k, f.Ref)
	case protocol.CallDecline:
		if !c.srv.calls.rang(k, c) {
			c.callError(f.Ref, protocol.CodeForbidden, "only the person being called can decline")
			return
		}
		c.srv.endCall(k, protocol.CallReasonDeclined, c)
	case protocol.CallHangUp:
		book.mu.Lock()
		state, from, to := k.state, k.from, k.to
		book.mu.Unlock()
		switch {
		case state == protocol.CallRinging && c == from:
			c.srv.endCall(k, protocol.CallReasonCancelled, c)
		case state == protocol.CallRinging && c.srv.calls.rang(k, c):
			c.srv.endCall(k, protocol.CallReasonDeclined, c)
		case state == protocol.CallActive && (c == from || c == to):
			c.srv.endCall(k, protocol.CallReasonHungUp, c)
		default:
			c.callError(f.Ref, protocol.CodeForbidden, "this connection is not in the call")
		}
	case protocol.CallMute, protocol.CallUnmute:
		book.mu.Lock()
		in := k.state == protocol.CallActive && (c == k.from || c == k.to)
		if in {
			k.muted[c.p.ID] = f.Action == protocol.CallMute
		}
		book.mu.Unlock()
		if !in {
			c.callError(f.Ref, protocol.CodeForbidden, "this connection is not in an active call")
			return
		}
		c.srv.announceCall(k, "")
	}
}

// startCall checks who may call whom and rings the other side.
func (c *conn) startCall(ctx context.Context, f *protocol.Call) {
	sc := c.srv.store.Workspace(c.p.WorkspaceID)
	cv, err := sc.Conversation(ctx, f.Conversation)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = conversation.ErrNotFound
		}
		c.reply(errorFrame(err, f.Ref))
		return
	}
	if cv.Status != protocol.ConversationOpen || cv.AgentID == nil {
		c.callError(f.Ref, protocol.CodeInvalid, "calls are possible once an agent has joined the chat")
		return
	}
	callee := protocol.Author{Kind: protocol.AuthorVisitor, ID: cv.VisitorID, Name: "the visitor"}
	switch c.p.Kind {
	case protocol.AuthorAgent:
		if *cv.AgentID != c.p.ID {
			c.callError(f.Ref, protocol.CodeForbidden, "only the conversation's agent can call its visitor")
			return
		}
	case protocol.AuthorVisitor:
		agent, err := sc.Agent(ctx, *cv.AgentID)
		if err != nil {
			c.reply(errorFrame(err, f.Ref))
			return
		}
		callee = protocol.Author{Kind: protocol.AuthorAgent, ID: agent.ID, Name: agent.Name}
		if f.Kind == protocol.CallVoice {
			site, err := sc.Site(ctx, cv.SiteID)
			if err != nil {
				c.reply(errorFrame(err, f.Ref))
				return
			}
			if !site.VisitorCalls {
				c.callError(f.Ref, protocol.CodeForbidden, "this site does not let visitors start voice calls; the agent can call you")
				return
			}
		}
	}
	_, mine := c.mediaPeer()
	if mine == nil {
		c.callError(f.Ref, protocol.CodeCallUnavailable, "calls aren't possible on this network: this device has no WebRTC connection to the relay")
		return
	}
	rung, elsewhere := c.srv.callableConns(c.p.WorkspaceID, callee, mine)
	if len(rung) > 0 {
		if n := rung[0].p.Name; n != "" {
			callee.Name = n // the visitor's name as its connection knows it
		}
	}
	caller := callAuthor(c)
	ring := c.srv.cfg.CallRingTimeout
	if ring <= 0 { // a Config not made by config.Load
		ring = callRingTimeout
	}
	k := &call{id: randomToken()[:16], conv: cv.ID, workspace: c.p.WorkspaceID, kind: f.Kind, caller: caller, callee: callee,
		from: c, rung: rung, state: protocol.CallRinging, expires: time.Now().Add(ring), muted: map[string]bool{},
		remote: map[string]bool{}, probe: make(chan struct{})}
	book := &c.srv.calls
	book.mu.Lock()
	if book.byConv == nil {
		book.byConv = make(map[callKey]*call)
	}
	if book.byConv[k.key()] != nil {
		book.mu.Unlock()
		c.callError(f.Ref, protocol.CodeInvalid, "a "+strings.ToLower(callLabel(f.Kind))+" is already under way in this conversation")
		return
	}
	book.byConv[k.key()] = k
	k.timer = time.AfterFunc(ring, func() { c.srv.endCall(k, protocol.CallReasonMissed, nil) })
	book.mu.Unlock()

	// The callee's connections on other nodes ring too (call_fleet.go);
	// when none rang here, wait for one of them to say it rang.
	ref, _ := relaynode.RefOf(mine)
	c.srv.publishCall(callMsg{Op: opRing, Call: k.id, Conv: k.conv, Workspace: k.workspace, Kind: k.kind,
		Caller: &caller, Callee: &callee, Expires: k.expires, CallerPeer: ref})
	if len(rung) == 0 {
		t := time.NewTimer(c.srv.callProbeWait())
		select {
		case <-k.probe:
		case <-t.C:
		}
		t.Stop()
	}
	book.mu.Lock()
	ringing := len(k.rung) > 0 || len(k.remote) > 0
	why := k.whyNot
	if !ringing && book.byConv[k.key()] == k {
		delete(book.byConv, k.key())
		k.state = protocol.CallEnded
		k.timer.Stop()
	}
	announce := ringing && k.state == protocol.CallRinging // not answered already
	book.mu.Unlock()
	if !ringing {
		c.callError(f.Ref, protocol.CodeCallUnavailable, unavailableMessage(elsewhere, why))
		return
	}
	if announce {
		c.srv.announceCall(k, f.Ref)
	}
}

// unavailableMessage says why a call rang nowhere: elsewhere (a connection
// of this node on another relay) and the other nodes' reasons.
func unavailableMessage(elsewhere bool, why []string) string {
	switch {
	case slices.Contains(why, whyInProcess):
		return "calls aren't possible right now: the other side is connected to another Parley server, and calls between servers need standalone relays (PARLEY_RELAY_SECRET); the chat goes on"
	case elsewhere || slices.Contains(why, whyElsewhere):
		return "calls aren't possible right now: the other side is connected to a different relay; try again after reconnecting"
	case slices.Contains(why, whyBusy):
		return "calls aren't possible right now: the other side is already in a call in this conversation"
	}
	return "calls aren't possible right now: the other side has no WebRTC connection to the relay (not connected, or their network blocks it)"
}

// callAuthor is the connection's participant as calls name it.
func callAuthor(c *conn) protocol.Author {
	a := c.p.Author()
	if a.Kind == protocol.AuthorVisitor && a.Name == "" {
		a.Name = "the visitor"
	}
	return a
}

// connectFailure is what call_unavailable says when the relay could not
// join the two peers.
func connectFailure(err error) string {
	if errors.Is(err, relaynode.ErrOtherRelay) {
		return "calls aren't possible right now: the two sides are connected to different relays; try again after reconnecting"
	}
	return "the relay could not set up the call"
}

// callableConns lists the participant's connections on this node that
// could take a call from peer caller: an open relay peer on the caller's
// relay. elsewhere: some have one, but on another relay.
func (s *Server) callableConns(workspace string, who protocol.Author, caller relaynode.Peer) (out []*conn, elsewhere bool) {
	candidates := s.participantConns(workspace, who)
	out = candidates[:0]
	for _, c := range candidates {
		switch _, p := c.mediaPeer(); {
		case p == nil:
		case relaynode.SameRelay(caller, p):
			out = append(out, c)
		default:
			elsewhere = true
		}
	}
	return out, elsewhere
}

func (b *callBook) rang(k *call, c *conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Contains(k.rung, c)
}

// acceptCall joins the caller's and this connection's relay peers and
// renegotiates both.
func (c *conn) acceptCall(k *call, ref string) {
	book := &c.srv.calls
	book.mu.Lock()
	ok := k.state == protocol.CallRinging && slices.Contains(k.rung, c)
	from := k.from
	book.mu.Unlock()
	if !ok {
		c.callError(ref, protocol.CodeForbidden, "this call is not ringing here")
		return
	}
	fromLink, fromPeer := from.mediaPeer()
	toLink, toPeer := c.mediaPeer()
	if fromPeer == nil || toPeer == nil {
		c.srv.endCall(k, protocol.CallReasonDropped, nil)
		c.callError(ref, protocol.CodeCallUnavailable, "calls aren't possible on this network: a side lost its WebRTC connection to the relay")
		return
	}
	// For a screen share the caller shares: its peer is the source.
	ctx, cancel := context.WithTimeout(context.Background(), rtcOfferWait)
	media, err := relaynode.Connect(ctx, fromPeer, toPeer, relay.Media(k.kind))
	cancel()
	if err != nil {
		c.log.Warn("call: connect peers", "err", err)
		c.srv.endCall(k, protocol.CallReasonDropped, nil)
		c.callError(ref, protocol.CodeCallUnavailable, connectFailure(err))
		return
	}
	book.mu.Lock()
	if k.state != protocol.CallRinging || book.byConv[k.key()] != k {
		// Ended meanwhile (timeout, cancel, a decline elsewhere).
		book.mu.Unlock()
		_ = media.Close()
		c.callError(ref, protocol.CodeNotFound, "the call has ended")
		return
	}
	k.timer.Stop()
	k.state, k.to, k.media, k.started = protocol.CallActive, c, media, time.Now()
	others := slices.DeleteFunc(slices.Clone(k.rung), func(o *conn) bool { return o == c })
	book.mu.Unlock()

	for _, o := range others {
		o.queueFrame(k.frame(o, protocol.CallEnded, protocol.CallReasonElsewhere, nil), true)
	}
	c.srv.announceCall(k, ref)
	// call_state (with the mids to send on) went first on each WebSocket;
	// the offers follow on the same queue.
	from.renegotiate(fromLink)
	c.renegotiate(toLink)
	c.srv.recordCall(k, k.startedBody(), "started")
}

func (k *call) startedBody() string {
	return fmt.Sprintf("%s started: %s called %s", callLabel(k.kind), k.caller.Name, k.callee.Name)
}

// endCall ends a call for reason (by: the connection that ended it, nil
// for a timeout or a drop), stops its media, renegotiates the peers still
// open, tells every connection involved and records the outcome.
func (s *Server) endCall(k *call, reason string, by *conn) {
	var a *protocol.Author
	if by != nil {
		a = ptr(callAuthor(by))
	}
	s.endCallBy(k, reason, a)
}

// endCallBy is endCall on the call's home for a participant of any node
// (nil: nobody), telling the nodes that mirror it.
func (s *Server) endCallBy(k *call, reason string, byAuthor *protocol.Author) {
	book := &s.calls
	book.mu.Lock()
	if book.byConv[k.key()] != k || k.state == protocol.CallEnded {
		book.mu.Unlock()
		return
	}
	delete(book.byConv, k.key())
	wasActive := k.state == protocol.CallActive
	k.state = protocol.CallEnded
	k.timer.Stop()
	media := k.media
	involved := []*conn{k.from}
	if k.to != nil {
		involved = append(involved, k.to)
	} else {
		involved = append(involved, k.rung...)
	}
	book.mu.Unlock()

	for _, c := range involved {
		c.queueFrame(k.frame(c, protocol.CallEnded, reason, byAuthor), true)
	}
	if media != nil {
		_ = media.Close()
		for _, c := range involved {
			if l, p := c.mediaPeer(); p != nil {
				c.renegotiate(l)
			}
		}
	}
	// Mirrors renegotiate their clients once the media has stopped.
	s.publishState(k, reason, byAuthor)
	s.recordCall(k, k.endBody(reason, wasActive, byAuthor), "end")
}

// endBody is the record of how a call ended.
func (k *call) endBody(reason string, wasActive bool, byAuthor *protocol.Author) string {
	label := callLabel(k.kind)
	var body string
	switch reason {
	case protocol.CallReasonDeclined:
		body = fmt.Sprintf("%s from %s declined", label, k.caller.Name)
	case protocol.CallReasonMissed:
		body = fmt.Sprintf("%s from %s not answered", label, k.caller.Name)
	case protocol.CallReasonCancelled:
		body = fmt.Sprintf("%s from %s cancelled before an answer", label, k.caller.Name)
	case protocol.CallReasonDropped:
		if !wasActive {
			body = fmt.Sprintf("%s from %s could not connect", label, k.caller.Name)
		} else {
			body = fmt.Sprintf("%s dropped (connection lost) after %s", label, callDuration(time.Since(k.started)))
		}
	default:
		who := "a participant"
		if byAuthor != nil {
			who = byAuthor.Name
		}
		body = fmt.Sprintf("%s ended by %s after %s", label, who, callDuration(time.Since(k.started)))
	}
	return body
}

// callDuration renders a call's length as m:ss (h:mm:ss past an hour).
func callDuration(d time.Duration) string {
	sec := int(d.Round(time.Second) / time.Second)
	if sec >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
	}
	return fmt.Sprintf("%d:%02d", sec/60, sec%60)
}

// recordCall stores a system message about the call. Its client id makes
// a retried record store it once.
func (s *Server) recordCall(k *call, body, step string) {
	ctx, cancel := context.WithTimeout(context.Background(), callRecordTimeout)
	defer cancel()
	if err := s.conv.System(ctx, k.workspace, k.conv, "sys:call:"+k.id+":"+step, "", body); err != nil {
		s.log.Warn("call: record in history", "conversation", k.conv, "err", err)
	}
}

// dropCalls ends the call a connection's closed peer was part of.
func (s *Server) dropCalls(c *conn) {
	book := &s.calls
	book.mu.Lock()
	var hit []*call
	var reasons []string
	var mirrors []*call
	for _, k := range book.byConv {
		switch {
		case k.home != "":
			if k.to == c || (k.state == protocol.CallRinging && slices.Contains(k.rung, c)) {
				mirrors = append(mirrors, k)
			}
		case k.from == c && k.state == protocol.CallRinging:
			hit, reasons = append(hit, k), append(reasons, protocol.CallReasonCancelled)
		case k.from == c || k.to == c:
			hit, reasons = append(hit, k), append(reasons, protocol.CallReasonDropped)
		case k.state == protocol.CallRinging && slices.Contains(k.rung, c):
			k.rung = slices.DeleteFunc(k.rung, func(o *conn) bool { return o == c })
			if len(k.rung) == 0 && len(k.remote) == 0 {
				hit, reasons = append(hit, k), append(reasons, protocol.CallReasonMissed)
			}
		}
	}
	book.mu.Unlock()
	for _, k := range mirrors {
		s.dropMirrored(k, c)
	}
	for i, k := range hit {
		var by *conn
		if reasons[i] == protocol.CallReasonCancelled {
			by = c
		}
		s.endCall(k, reasons[i], by)
	}
}

// announceCall sends the call's current state to the connections in it
// (ref: the frame of the connection that asked, for its answer).
func (s *Server) announceCall(k *call, ref string) {
	s.calls.mu.Lock()
	var targets []*conn
	if k.from != nil {
		targets = append(targets, k.from)
	}
	if k.to != nil {
		targets = append(targets, k.to)
	} else {
		targets = append(targets, k.rung...)
	}
	frames := make([]protocol.CallState, len(targets))
	for i, c := range targets {
		frames[i] = k.frame(c, k.state, "", nil)
		if ref != "" && (c == k.from || c == k.to) {
			frames[i].Ref = ref
		}
	}
	// Mirrors ring on their own; they follow the rest.
	tell := k.home == "" && k.state == protocol.CallActive
	s.calls.mu.Unlock()
	for i, c := range targets {
		c.queueFrame(frames[i], true)
	}
	if tell {
		s.publishState(k, "", nil)
	}
}

// frame renders the call for connection c (whether it is rung, what it
// sends). Callers hold callBook.mu, or the call has ended.
func (k *call) frame(c *conn, state, reason string, by *protocol.Author) protocol.CallState {
	f := protocol.CallState{Envelope: protocol.Envelope{Type: protocol.TypeCallState}, Conversation: k.conv, ID: k.id, Kind: k.kind,
		State: state, Caller: k.caller, Reason: reason, By: by}
	switch state {
	case protocol.CallRinging:
		f.Incoming = c != k.from
		exp := k.expires
		f.ExpiresAt = &exp
	case protocol.CallActive:
		if _, p := c.mediaPeer(); p != nil && k.media != nil {
			f.Send = k.media.SendMids(p)
		} else if k.home != "" && c == k.to {
			f.Send = slices.Clone(k.send)
		}
		started := k.started
		f.StartedAt = &started
		for id, m := range k.muted {
			if m {
				f.Muted = append(f.Muted, id)
			}
		}
		slices.Sort(f.Muted)
	case protocol.CallEnded:
		if !k.started.IsZero() {
			f.DurationSeconds = int(time.Since(k.started).Round(time.Second) / time.Second)
		}
	}
	return f
}

// renegotiate sends the relay's new offer for l (a call's tracks added or
// stopped). Only the relay offers; while an offer awaits its answer the
// next one waits (answered sends it).
func (c *conn) renegotiate(l *rtcLink) {
	c.mu.Lock()
	if c.rtc != l {
		c.mu.Unlock()
		return
	}
	if l.negotiating {
		l.again = true
		c.mu.Unlock()
		return
	}
	l.negotiating = true
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), rtcOfferWait)
	sdp, err := l.peer.Offer(ctx)
	cancel()
	if err != nil {
		c.mu.Lock()
		again := l.again
		l.again, l.negotiating = false, false
		c.mu.Unlock()
		c.log.Debug("call: renegotiation offer failed", "err", err)
		if again {
			c.renegotiate(l) // a later change must not wait for an answer that will not come
		}
		return
	}
	c.queueFrame(protocol.RTCOffer{Envelope: protocol.Envelope{Type: protocol.TypeRTCOffer}, SDP: sdp,
		ICEServers: turn.ICEServers(c.srv.ice, c.p.ID, time.Now())}, true)
}

// answered follows a successful rtc_answer: an offer that waited for it
// goes out now. A waiting ICE restart goes first and alone: its offer
// carries the call's current tracks too.
func (c *conn) answered(l *rtcLink) {
	c.mu.Lock()
	again, by, ref := l.again, l.restartBy, l.restartRef
	l.again, l.negotiating, l.restartBy, l.restartRef = false, false, "", ""
	c.mu.Unlock()
	switch {
	case by != "":
		c.restartRTC(l, ref, by)
	case again:
		c.renegotiate(l)
	}
}

// setSiteCalls sets whether a site's visitors may start voice calls
// (PUT /api/sites/:id/calls {"visitor_calls": bool}).
func (s *Server) setSiteCalls(c *gin.Context) {
	var req struct {
		VisitorCalls *bool `json:"visitor_calls"`
	}
	if !bindJSON(c, &req) {
		return
	}
	if req.VisitorCalls == nil {
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "visitor_calls (true or false) is required")
		return
	}
	ws := agentOf(c).WorkspaceID
	err := s.store.Workspace(ws).SetSiteVisitorCalls(c.Request.Context(), c.Param("id"), *req.VisitorCalls)
	switch {
	case errors.Is(err, store.ErrNotFound):
		apiError(c, http.StatusNotFound, protocol.CodeNotFound, "no such site")
	case err != nil:
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot save the site right now; retry")
	default:
		s.audit(c, ws, "site_calls_updated", c.Param("id"), "visitor_calls="+strconv.FormatBool(*req.VisitorCalls))
		c.JSON(http.StatusOK, gin.H{"visitor_calls": *req.VisitorCalls})
	}
}
