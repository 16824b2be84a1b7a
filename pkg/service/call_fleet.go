package service

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/call"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
	"github.com/parleychat/parley/pkg/relaynode"
)

// Calls across signaling nodes (a fleet: one bus, one store). The caller's
// node is the call's home: it holds the call, its ring timer and its media
// (relaynode.Call), and writes its records. Each other node with
// connections of the callee keeps a mirror of the call and drives only its
// own clients: it rings them, renegotiates their peers, and forwards what
// they do to the home. Everything travels on one bus topic (callsTopic);
// calls are rare next to messages, so one topic for the fleet costs
// nothing and every node subscribes to it once, for its whole life.
//
//	home   → all   ring {call, caller's peer}    nodes ring the callee's
//	node   → home  rung {n, why}                 connections whose peer is
//	                                              on the caller's relay
//	node   → home  act {accept|decline|hangup|mute|unmute|drop|unrung}
//	home   → all   state {ringing|active|ended, to, send mids, muted}
//	home   → node  error {conn, ref, code, message}  (an act refused)
//
// Media: the two peers must be on one relay. A standalone relay takes both
// nodes' control links, and connect finds a peer on any of its links, so
// the home joins its caller's peer with the callee's peer another node
// drives (relaynode.ConnectTo). The in-process relay of a node serves only
// that node's clients: a call between two nodes each running its own
// in-process relay is refused with call_unavailable saying that such calls
// need standalone relays (PARLEY_RELAY_SECRET).
//
// Failure: the relay tells each link of a call's peers when it ends the
// call because a peer closed (relaynode's call_end), so when a node dies
// mid-call (its links and peers go with it) the other node ends the call
// as dropped and records it; a record's client id makes the home's and the
// mirror's write of the same outcome one message. A mirror whose home went
// silent while ringing gives up after the ring timeout and callMirrorGrace.
// The bus may lose a publication: a lost ring is a call that does not ring
// there (unavailable, or not answered); a lost state leaves the mirror's
// client with a stale call_state until the relay's call_end, the mirror's
// ring fallback or the client's next call action.

// callsTopic carries every call message of the fleet.
var callsTopic = bus.Topic[callMsg]{Name: "calls"}

// callProbeWait bounds how long a caller whose callee has no connection
// on its own node waits for other nodes to say they rang one; only a
// call that rings nowhere waits it out.
func (s *Server) callProbeWait() time.Duration {
	if _, fleet := s.bus.(bus.Checker); fleet || s.cfg.RedisURL != "" {
		return time.Second // a bus round trip between processes
	}
	return 250 * time.Millisecond // nodes in one process (tests)
}

// callMirrorGrace is how long after the ring timeout a mirror waits for
// its home's word before it ends the call itself.
const callMirrorGrace = 5 * time.Second

// Reasons a node rang none of the callee's connections (rung.why).
const (
	whyNoPeer    = "no_peer"    // no open WebRTC connection
	whyElsewhere = "elsewhere"  // on another relay than the caller's
	whyInProcess = "in_process" // on a node's own in-process relay
	whyBusy      = "busy"       // that node has a call of its own there
)

// callMsg is one message on callsTopic.
type callMsg struct {
	Op   string `json:"op"`
	Call string `json:"call"`
	From string `json:"from"`         // sending node
	To   string `json:"to,omitempty"` // receiving node; "" every node
	// ring
	Conv       string            `json:"conv,omitempty"`
	Workspace  string            `json:"ws,omitempty"`
	Kind       string            `json:"kind,omitempty"`
	Caller     *protocol.Author  `json:"caller,omitempty"`
	Callee     *protocol.Author  `json:"callee,omitempty"`
	Expires    time.Time         `json:"expires,omitzero"`
	CallerPeer relaynode.PeerRef `json:"caller_peer,omitzero"`
	// rung
	Rung int    `json:"rung,omitempty"`
	Why  string `json:"why,omitempty"`
	Name string `json:"name,omitempty"` // the callee's name as its connection knows it
	// act, error
	Action string            `json:"action,omitempty"`
	Conn   string            `json:"conn,omitempty"`
	Ref    string            `json:"ref,omitempty"`
	By     *protocol.Author  `json:"by,omitempty"`
	Peer   relaynode.PeerRef `json:"peer,omitzero"`
	// state
	State   string    `json:"state,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Muted   []string  `json:"muted,omitempty"`
	Send    []string  `json:"send,omitempty"`
	Media   string    `json:"media,omitempty"`
	ToNode  string    `json:"to_node,omitempty"`
	ToConn  string    `json:"to_conn,omitempty"`
	// error
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Call message ops and the actions of act.
const (
	opRing   = "ring"
	opRung   = "rung"
	opAct    = "act"
	opState  = "state"
	opError  = "error"
	actDrop  = "drop"   // the accepter's peer or connection is gone
	actUnrng = "unrung" // the node has no rung connection left
)

// callQueues runs each call's bus messages in order, one call's apart
// from another's (a home may wait on its relay), on a goroutine that
// exists only while there is work.
type callQueues struct {
	mu sync.Mutex
	q  map[string][]callMsg
}

// watchCalls gives the node its id for calls and subscribes it to the
// fleet's call messages and its relays' call_end reports.
func (s *Server) watchCalls() {
	s.calls.node = randomToken()[:12]
	bad := func(err error) { s.log.Warn("unreadable call message", "err", err) }
	if _, err := callsTopic.Subscribe(s.bus, s.onCallMsg, bad); err != nil {
		s.log.Error("calls with clients of other nodes will not work", "err", err)
	}
	if s.relayPool != nil {
		s.relayPool.OnCallEnded(s.relayCallEnded)
	}
}

// publishCall sends m on the bus.
func (s *Server) publishCall(m callMsg) {
	m.From = s.calls.node
	ctx, cancel := context.WithTimeout(context.Background(), callRecordTimeout)
	defer cancel()
	if err := callsTopic.Publish(ctx, s.bus, m); err != nil {
		s.log.Warn("call: message to other nodes lost", "op", m.Op, "call", m.Call, "err", err)
	}
}

// onCallMsg runs on the bus's goroutine: it only queues.
func (s *Server) onCallMsg(m callMsg) {
	if m.Call == "" {
		s.log.Warn("call message without a call id", "op", m.Op, "from", m.From)
		return
	}
	if m.From == s.calls.node || (m.To != "" && m.To != s.calls.node) {
		return
	}
	q := &s.calls.queues
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.q == nil {
		q.q = map[string][]callMsg{}
	}
	pending, running := q.q[m.Call]
	q.q[m.Call] = append(pending, m)
	if !running {
		go s.runCallQueue(m.Call)
	}
}

func (s *Server) runCallQueue(id string) {
	q := &s.calls.queues
	for {
		q.mu.Lock()
		pending := q.q[id]
		if len(pending) == 0 {
			delete(q.q, id)
			q.mu.Unlock()
			return
		}
		m := pending[0]
		q.q[id] = pending[1:]
		q.mu.Unlock()
		s.handleCallMsg(m)
	}
}

func (s *Server) handleCallMsg(m callMsg) {
	if m.Op == opRing {
		s.ringHere(m)
		return
	}
	s.calls.mu.Lock()
	k := s.calls.byID(m.Call)
	s.calls.mu.Unlock()
	switch {
	case m.Op == opError:
		if c := s.connByID(m.Conn); c != nil {
			c.callError(m.Ref, m.Code, m.Message)
		}
	case k == nil:
		if m.Op == opRung && m.Rung > 0 {
			// Rang after the caller gave up (the probe ran out): stop it.
			s.publishCall(callMsg{Op: opState, Call: m.Call, To: m.From, State: protocol.CallEnded, Reason: protocol.CallReasonCancelled})
		}
	case k.home == "" && m.Op == opRung:
		s.calls.mu.Lock()
		if m.Rung > 0 {
			if len(k.rung) == 0 && len(k.remote) == 0 && m.Name != "" && k.State == protocol.CallRinging {
				k.Callee.Name = m.Name
			}
			k.remote[m.From] = true
			k.probeOnce.Do(func() { close(k.probe) })
		} else {
			k.whyNot = append(k.whyNot, m.Why)
		}
		s.calls.mu.Unlock()
	case k.home == "" && m.Op == opAct:
		s.remoteAct(k, m)
	case k.home == m.From && m.Op == opState:
		s.applyState(k, m)
	}
}

// byID finds a call by id (holding mu).
func (b *callBook) byID(id string) *liveCall {
	for _, k := range b.byConv {
		if k.ID == id {
			return k
		}
	}
	return nil
}

// connByID finds a live connection of this node.
func (s *Server) connByID(id string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.id == id {
			return c
		}
	}
	return nil
}

// ringHere rings the callee's connections of this node for a call another
// node is home to, and tells the home how many rang (or why none could).
func (s *Server) ringHere(m callMsg) {
	if m.Callee == nil || m.Caller == nil {
		return
	}
	cands := s.participantConns(m.Workspace, *m.Callee)
	if len(cands) == 0 {
		return // not here: other nodes answer
	}
	var rung []*conn
	why := whyNoPeer
	for _, c := range cands {
		_, p := c.mediaPeer()
		if p == nil {
			continue
		}
		ref, remote := relaynode.RefOf(p)
		switch {
		case !remote || m.CallerPeer.Relay == "":
			why = whyInProcess
		case ref.Relay != m.CallerPeer.Relay:
			if why != whyInProcess {
				why = whyElsewhere
			}
		default:
			rung = append(rung, c)
		}
	}
	k := &liveCall{Call: call.New(m.Call, m.Conv, m.Workspace, m.Kind, *m.Caller, *m.Callee, m.Expires), home: m.From, rung: rung}
	book := &s.calls
	book.mu.Lock()
	if len(rung) > 0 && book.byConv[k.key()] != nil {
		rung, why = nil, whyBusy
	}
	if len(rung) > 0 {
		if book.byConv == nil {
			book.byConv = make(map[callKey]*liveCall)
		}
		book.byConv[k.key()] = k
		// The home times the ring; this only covers a home gone silent.
		k.timer = time.AfterFunc(time.Until(m.Expires)+callMirrorGrace, func() {
			s.endMirror(k, protocol.CallReasonMissed, nil, true)
		})
	}
	book.mu.Unlock()
	name := ""
	if len(rung) > 0 {
		name = rung[0].p.Name
	}
	s.publishCall(callMsg{Op: opRung, Call: m.Call, To: m.From, Rung: len(rung), Why: why, Name: name})
	if len(rung) > 0 {
		s.announceCall(k, "")
	}
}

// participantConns lists the participant's connections on this node.
func (s *Server) participantConns(workspace string, who protocol.Author) []*conn {
	// A scan of the node's connections: calls are rare next to messages,
	// and a per-participant index would have to be kept on every connect.
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*conn
	for c := range s.conns {
		if c.p.WorkspaceID == workspace && c.p.Kind == who.Kind && c.p.ID == who.ID {
			out = append(out, c)
		}
	}
	return out
}

// forwardCall sends a client's action on a mirrored call to its home,
// after the checks this node can make.
func (c *conn) forwardCall(k *liveCall, f *protocol.Call) {
	book := &c.srv.calls
	book.mu.Lock()
	out := k.Decide(f.Action, k.roleOf(c))
	book.mu.Unlock()
	if out.Op == call.Refuse {
		c.callError(f.Ref, out.Code, out.Message)
		return
	}
	m := callMsg{Op: opAct, Call: k.ID, To: k.home, Action: f.Action, Conn: c.id, Ref: f.Ref, By: ptr(callAuthor(c))}
	if out.Op == call.Connect {
		_, p := c.mediaPeer()
		ref, ok := relaynode.RefOf(p)
		if !ok {
			c.callError(f.Ref, protocol.CodeCallUnavailable, "calls aren't possible on this network: this device lost its WebRTC connection to the relay")
			return
		}
		m.Peer = ref
	}
	c.srv.publishCall(m)
}

func ptr[T any](v T) *T { return &v }

// remoteRole says what connection conn of node is to the call, as the
// home knows it (callers hold callBook.mu).
func (k *liveCall) remoteRole(node, conn string) call.Role {
	switch {
	case k.toNode == node && k.toConn == conn:
		return call.Accepter
	case k.State == protocol.CallRinging && k.remote[node]:
		return call.Rung
	}
	return call.Outsider
}

// remoteAct applies, at the home, what a client of another node did. Its
// node checked the action against its mirror; a refusal here means the
// call moved on meanwhile.
func (s *Server) remoteAct(k *liveCall, m callMsg) {
	book := &s.calls
	refuse := func(code, msg string) {
		s.publishCall(callMsg{Op: opError, Call: k.ID, To: m.From, Conn: m.Conn, Ref: m.Ref, Code: code, Message: msg})
	}
	book.mu.Lock()
	role := k.remoteRole(m.From, m.Conn)
	var out call.Outcome
	switch m.Action {
	case actDrop:
		out = k.Dropped(role, true)
	case actUnrng:
		delete(k.remote, m.From)
		out = k.Dropped(call.Rung, len(k.rung) > 0 || len(k.remote) > 0)
	default:
		out = k.Decide(m.Action, role)
	}
	if out.Op == call.SetMute && m.By != nil {
		k.SetMuted(m.By.ID, out.Muted)
	}
	book.mu.Unlock()
	switch out.Op {
	case call.Refuse:
		if m.Action == protocol.CallMute || m.Action == protocol.CallUnmute {
			refuse(out.Code, out.Message)
		} else {
			refuse(protocol.CodeNotFound, "the call has ended")
		}
	case call.Connect:
		s.acceptRemote(k, m)
	case call.Finish:
		by := m.By
		if m.Action == actDrop || m.Action == actUnrng {
			by = nil
		}
		s.endCallBy(k, out.Reason, by)
	case call.SetMute:
		s.announceCall(k, "")
	}
}

// acceptRemote joins the caller's peer with the peer of the connection of
// another node that accepted.
func (s *Server) acceptRemote(k *liveCall, m callMsg) {
	book := &s.calls
	book.mu.Lock()
	ok := k.Decide(protocol.CallAccept, k.remoteRole(m.From, m.Conn)).Op == call.Connect && k.acceptor == ""
	from := k.from
	if ok {
		k.acceptor = m.From + "/" + m.Conn // one accept at a time
	}
	book.mu.Unlock()
	refuse := func(code, msg string) {
		s.publishCall(callMsg{Op: opError, Call: k.ID, To: m.From, Conn: m.Conn, Ref: m.Ref, Code: code, Message: msg})
	}
	if !ok {
		refuse(protocol.CodeNotFound, "the call has ended")
		return
	}
	fromLink, fromPeer := from.mediaPeer()
	if fromPeer == nil {
		s.endCallBy(k, protocol.CallReasonDropped, nil)
		refuse(protocol.CodeCallUnavailable, "calls aren't possible on this network: a side lost its WebRTC connection to the relay")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), rtcOfferWait)
	media, err := relaynode.ConnectTo(ctx, fromPeer, m.Peer, relay.Media(k.Kind))
	cancel()
	if err != nil {
		s.log.Warn("call: connect peers across nodes", "err", err)
		s.endCallBy(k, protocol.CallReasonDropped, nil)
		refuse(protocol.CodeCallUnavailable, connectFailure(err))
		return
	}
	book.mu.Lock()
	if book.byConv[k.key()] != k || !k.Activate(time.Now()) {
		book.mu.Unlock()
		_ = media.Close()
		refuse(protocol.CodeNotFound, "the call has ended")
		return
	}
	k.timer.Stop()
	k.media = media
	k.toNode, k.toConn, k.toRef, k.toRefAck = m.From, m.Conn, m.Peer, m.Ref
	others := slices.Clone(k.rung)
	k.rung = nil
	book.mu.Unlock()
	for _, o := range others {
		o.queueFrame(k.frame(o, protocol.CallEnded, protocol.CallReasonElsewhere, nil), true)
	}
	s.announceCall(k, "")
	from.renegotiate(fromLink)
	s.recordCall(k, k.StartedRecord(), "started")
}

// publishState tells the nodes mirroring k its state (holding no lock).
func (s *Server) publishState(k *liveCall, reason string, by *protocol.Author) {
	s.calls.mu.Lock()
	if len(k.remote) == 0 && k.toNode == "" {
		s.calls.mu.Unlock()
		return
	}
	m := callMsg{Op: opState, Call: k.ID, State: k.State, Reason: reason, By: by, Started: k.Started,
		ToNode: k.toNode, ToConn: k.toConn, Ref: k.toRefAck}
	if m.ToNode == "" && k.to != nil {
		m.ToNode = s.calls.node
	}
	k.toRefAck = ""
	if k.State == protocol.CallActive && k.media != nil {
		m.Send = k.media.SendMidsOf(k.toRef)
		m.Media = k.media.ID()
		m.Muted = k.MutedIDs()
	}
	s.calls.mu.Unlock()
	s.publishCall(m)
}

// applyState brings a mirror to its home's state.
func (s *Server) applyState(k *liveCall, m callMsg) {
	if m.State == protocol.CallEnded {
		s.endMirror(k, m.Reason, m.By, false)
		return
	}
	if m.State != protocol.CallActive {
		return
	}
	book := &s.calls
	book.mu.Lock()
	if book.byConv[k.key()] != k {
		book.mu.Unlock()
		return
	}
	var to *conn
	if m.ToNode == s.calls.node {
		for _, c := range k.rung {
			if c.id == m.ToConn {
				to = c
			}
		}
		if k.to != nil && k.to.id == m.ToConn {
			to = k.to
		}
	}
	if to == nil {
		// Answered on another node (or by a connection gone since): this
		// node is out of the call.
		rung := k.rung
		delete(book.byConv, k.key())
		k.End()
		k.timer.Stop()
		book.mu.Unlock()
		for _, o := range rung {
			o.queueFrame(k.frame(o, protocol.CallEnded, protocol.CallReasonElsewhere, nil), true)
		}
		if m.ToNode == s.calls.node {
			s.publishCall(callMsg{Op: opAct, Call: k.ID, To: k.home, Action: actDrop, Conn: m.ToConn})
		}
		return
	}
	first := k.to == nil
	others := slices.DeleteFunc(slices.Clone(k.rung), func(o *conn) bool { return o == to })
	k.timer.Stop()
	// A mirror follows its home's word: the home decided the transition.
	k.State, k.to, k.rung, k.send, k.mediaID, k.Started = protocol.CallActive, to, nil, m.Send, m.Media, m.Started
	k.Muted = map[string]bool{}
	for _, id := range m.Muted {
		k.Muted[id] = true
	}
	f := k.frame(to, protocol.CallActive, "", nil)
	book.mu.Unlock()
	for _, o := range others {
		o.queueFrame(k.frame(o, protocol.CallEnded, protocol.CallReasonElsewhere, nil), true)
	}
	f.Ref = m.Ref
	to.queueFrame(f, true)
	if first {
		// call_state (with the mids to send on) goes first, the offer
		// carrying the call's transceivers after it.
		if l, p := to.mediaPeer(); p != nil {
			to.renegotiate(l)
		}
	}
}

// endMirror ends this node's side of a call another node is home to:
// tells its connections, renegotiates the accepter's peer, and (record:
// the home may be gone) writes the outcome, which the record's client id
// keeps to one message.
func (s *Server) endMirror(k *liveCall, reason string, by *protocol.Author, record bool) {
	book := &s.calls
	book.mu.Lock()
	wasActive, ok := book.endLocked(k)
	if !ok {
		book.mu.Unlock()
		return
	}
	involved := k.rung
	if k.to != nil {
		involved = []*conn{k.to}
	}
	book.mu.Unlock()
	for _, c := range involved {
		c.queueFrame(k.frame(c, protocol.CallEnded, reason, by), true)
	}
	if wasActive {
		if l, p := k.to.mediaPeer(); p != nil {
			k.to.renegotiate(l)
		}
	}
	if record {
		s.recordCall(k, k.EndRecord(reason, wasActive, by, time.Now()), "end")
	}
}

// relayCallEnded learns from a standalone relay that it ended a call
// because a peer closed: the other party's node, or this node's peer.
func (s *Server) relayCallEnded(id string) {
	s.calls.mu.Lock()
	var k *liveCall
	for _, c := range s.calls.byConv {
		if (c.media != nil && c.media.ID() == id) || (c.mediaID != "" && c.mediaID == id) {
			k = c
		}
	}
	s.calls.mu.Unlock()
	switch {
	case k == nil:
	case k.home == "":
		s.endCallBy(k, protocol.CallReasonDropped, nil)
	default:
		// The home may be the node that died: end here, record, and tell
		// it in case it lives (it ends the call as dropped too).
		s.endMirror(k, protocol.CallReasonDropped, nil, true)
		s.publishCall(callMsg{Op: opAct, Call: k.ID, To: k.home, Action: actDrop, Conn: k.to.id})
	}
}

// dropMirrored follows a connection of this node leaving a mirrored call
// (its peer closed): an accepter's call ends as dropped (the home hears
// it); a ringing call that rings no connection here any more stops here.
func (s *Server) dropMirrored(k *liveCall, c *conn) {
	book := &s.calls
	book.mu.Lock()
	role := k.roleOf(c)
	k.rung = slices.DeleteFunc(k.rung, func(o *conn) bool { return o == c })
	// The home hears of other nodes' rung connections; here, only this
	// node's count.
	out := k.Dropped(role, len(k.rung) > 0)
	book.mu.Unlock()
	switch {
	case out.Op != call.Finish:
	case role == call.Accepter:
		s.endMirror(k, out.Reason, nil, false)
		s.publishCall(callMsg{Op: opAct, Call: k.ID, To: k.home, Action: actDrop, Conn: c.id})
	default:
		s.endMirror(k, out.Reason, nil, false)
		s.publishCall(callMsg{Op: opAct, Call: k.ID, To: k.home, Action: actUnrng})
	}
}
