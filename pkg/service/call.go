package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/pkg/call"
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
	byConv map[callKey]*liveCall
	node   string     // this node's id in call messages (call_fleet.go)
	queues callQueues // call messages from other nodes, by call
}

// endLocked ends k and forgets it if it is still this book's call of its
// conversation; wasActive tells whether it had been answered. ok is false
// when k was replaced or had already ended. b.mu must be held.
func (b *callBook) endLocked(k *liveCall) (wasActive, ok bool) {
	if b.byConv[k.key()] != k {
		return false, false
	}
	if wasActive, ok = k.End(); !ok {
		return false, false
	}
	delete(b.byConv, k.key())
	k.timer.Stop()
	return wasActive, true
}

type callKey struct{ conv, kind string }

func (k *liveCall) key() callKey { return callKey{k.Conv, k.Kind} }

// find returns the conversation's call that id and kind (either may be
// empty) name; ambiguous when they fit both of its calls.
func (b *callBook) find(conv, id, kind string) (found *liveCall, ambiguous bool) {
	for _, kd := range []string{protocol.CallVoice, protocol.CallScreen} {
		k := b.byConv[callKey{conv, kd}]
		if k == nil || (id != "" && k.ID != id) || (kind != "" && k.Kind != kind) {
			continue
		}
		if found != nil {
			return nil, true
		}
		found = k
	}
	return found, false
}

// liveCall is one call as this node carries it: its rules and state
// (call.Call) and the connections, timer and media that carry it. Its
// fields are guarded by callBook.mu. On its home node (the caller's) home
// is empty; another node's mirror of it (call_fleet.go) has home set, from
// nil, and only this node's rung and to.
type liveCall struct {
	*call.Call
	from  *conn   // the caller's connection
	to    *conn   // the connection that accepted, if on this node
	rung  []*conn // the callee's connections it rang on this node
	timer *time.Timer
	media relaynode.Call

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

// roleOf says what connection c is to the call (callers hold callBook.mu).
// A rung connection stops ringing once the call is answered.
func (k *liveCall) roleOf(c *conn) call.Role {
	switch {
	case c == nil:
		return call.Outsider
	case c == k.from:
		return call.Caller
	case c == k.to:
		return call.Accepter
	case k.State == protocol.CallRinging && slices.Contains(k.rung, c):
		return call.Rung
	}
	return call.Outsider
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
			c.callError(f.Ref, protocol.CodeInvalid, "a "+strings.ToLower(call.Label(f.Kind))+" is already under way in this conversation")
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
	book.mu.Lock()
	out := k.Decide(f.Action, k.roleOf(c))
	if out.Op == call.SetMute {
		k.SetMuted(c.p.ID, out.Muted)
	}
	book.mu.Unlock()
	switch out.Op {
	case call.Refuse:
		c.callError(f.Ref, out.Code, out.Message)
	case call.Connect:
		c.acceptCall(k, f.Ref)
	case call.Finish:
		c.srv.endCall(k, out.Reason, c)
	case call.SetMute:
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
	k := &liveCall{Call: call.New(randomToken()[:16], cv.ID, c.p.WorkspaceID, f.Kind, caller, callee, time.Now().Add(ring)),
		from: c, rung: rung, remote: map[string]bool{}, probe: make(chan struct{})}
	book := &c.srv.calls
	book.mu.Lock()
	if book.byConv == nil {
		book.byConv = make(map[callKey]*liveCall)
	}
	if book.byConv[k.key()] != nil {
		book.mu.Unlock()
		c.callError(f.Ref, protocol.CodeInvalid, "a "+strings.ToLower(call.Label(f.Kind))+" is already under way in this conversation")
		return
	}
	book.byConv[k.key()] = k
	k.timer = time.AfterFunc(ring, func() { c.srv.endCall(k, protocol.CallReasonMissed, nil) })
	book.mu.Unlock()

	// The callee's connections on other nodes ring too (call_fleet.go);
	// when none rang here, wait for one of them to say it rang.
	ref, _ := relaynode.RefOf(mine)
	c.srv.publishCall(callMsg{Op: opRing, Call: k.ID, Conv: k.Conv, Workspace: k.Workspace, Kind: k.Kind,
		Caller: &caller, Callee: &callee, Expires: k.Expires, CallerPeer: ref})
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
		k.End()
		k.timer.Stop()
	}
	announce := ringing && k.State == protocol.CallRinging // not answered already
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

func (b *callBook) rang(k *liveCall, c *conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Contains(k.rung, c)
}

// acceptCall joins the caller's and this connection's relay peers and
// renegotiates both.
func (c *conn) acceptCall(k *liveCall, ref string) {
	book := &c.srv.calls
	book.mu.Lock()
	out := k.Decide(protocol.CallAccept, k.roleOf(c))
	from := k.from
	book.mu.Unlock()
	if out.Op != call.Connect {
		c.callError(ref, out.Code, out.Message)
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
	media, err := relaynode.Connect(ctx, fromPeer, toPeer, relay.Media(k.Kind))
	cancel()
	if err != nil {
		c.log.Warn("call: connect peers", "err", err)
		c.srv.endCall(k, protocol.CallReasonDropped, nil)
		c.callError(ref, protocol.CodeCallUnavailable, connectFailure(err))
		return
	}
	book.mu.Lock()
	if book.byConv[k.key()] != k || !k.Activate(time.Now()) {
		// Ended meanwhile (timeout, cancel, a decline elsewhere).
		book.mu.Unlock()
		_ = media.Close()
		c.callError(ref, protocol.CodeNotFound, "the call has ended")
		return
	}
	k.timer.Stop()
	k.to, k.media = c, media
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
	c.srv.recordCall(k, k.StartedRecord(), "started")
}

// endCall ends a call for reason (by: the connection that ended it, nil
// for a timeout or a drop), stops its media, renegotiates the peers still
// open, tells every connection involved and records the outcome.
func (s *Server) endCall(k *liveCall, reason string, by *conn) {
	var a *protocol.Author
	if by != nil {
		a = ptr(callAuthor(by))
	}
	s.endCallBy(k, reason, a)
}

// endCallBy is endCall on the call's home for a participant of any node
// (nil: nobody), telling the nodes that mirror it.
func (s *Server) endCallBy(k *liveCall, reason string, byAuthor *protocol.Author) {
	book := &s.calls
	book.mu.Lock()
	wasActive, ok := book.endLocked(k)
	if !ok {
		book.mu.Unlock()
		return
	}
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
	s.recordCall(k, k.EndRecord(reason, wasActive, byAuthor, time.Now()), "end")
}

// recordCall stores a system message about the call. Its client id makes
// a retried record store it once.
func (s *Server) recordCall(k *liveCall, body, step string) {
	ctx, cancel := context.WithTimeout(context.Background(), callRecordTimeout)
	defer cancel()
	if err := s.conv.System(ctx, k.Workspace, k.Conv, "sys:call:"+k.ID+":"+step, "", body); err != nil {
		s.log.Warn("call: record in history", "conversation", k.Conv, "err", err)
	}
}

// dropCalls ends the call a connection's closed peer was part of.
func (s *Server) dropCalls(c *conn) {
	book := &s.calls
	book.mu.Lock()
	var hit []*liveCall
	var reasons []string
	var mirrors []*liveCall
	for _, k := range book.byConv {
		role := k.roleOf(c)
		switch {
		case role == call.Outsider:
		case k.home != "":
			mirrors = append(mirrors, k)
		default:
			if role == call.Rung {
				k.rung = slices.DeleteFunc(k.rung, func(o *conn) bool { return o == c })
			}
			if out := k.Dropped(role, len(k.rung) > 0 || len(k.remote) > 0); out.Op == call.Finish {
				hit, reasons = append(hit, k), append(reasons, out.Reason)
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
func (s *Server) announceCall(k *liveCall, ref string) {
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
		frames[i] = k.frame(c, k.State, "", nil)
		if ref != "" && (c == k.from || c == k.to) {
			frames[i].Ref = ref
		}
	}
	// Mirrors ring on their own; they follow the rest.
	tell := k.home == "" && k.State == protocol.CallActive
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
func (k *liveCall) frame(c *conn, state, reason string, by *protocol.Author) protocol.CallState {
	var send []string
	if state == protocol.CallActive {
		if _, p := c.mediaPeer(); p != nil && k.media != nil {
			send = k.media.SendMids(p)
		} else if k.home != "" && c == k.to {
			send = slices.Clone(k.send)
		}
	}
	return k.Frame(state, c != k.from, send, reason, by, time.Now())
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
