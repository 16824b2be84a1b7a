package relaynode

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/parleychat/parley/pkg/relay"
)

// Calls on standalone relays. Media never crosses the control link: the
// relay serving both peers forwards it (relay.Call) exactly as the
// in-process relay does, and the link only carries the call's control:
//
//	signaling → relay  connect {call, peer, other, kind}  reply {mids}
//	signaling → relay  offer {peer}  (once per peer: the relay offers again)
//	signaling → relay  hangup {call}  reply once the transceivers stopped
//	signaling → relay  call_stats {call}  reply {legs}
//
//	relay → signaling  call_end {call}  (a peer of the call closed)
//
// A call ends on the relay when either peer closes. The peer's own link
// hears it from the peer's state (closed); call_end tells the link that
// connected the call and the links of both peers, which matters in a fleet:
// the two peers of a call may belong to two signaling nodes (each with its
// own link to the relay; connect finds peers on any link), and a node that
// dies takes its link and its peers with it, so the other node learns the
// call ended from the relay. A relay that dies takes its calls with it:
// the link fails, every peer on it reports closed, and signaling records
// the call as dropped.

// opCallEnd (relay → signaling) says a call ended because one of its
// peers closed.
const opCallEnd = "call_end"

// ErrOtherRelay: the two peers of a call are on different relays, which
// cannot forward media to each other.
var ErrOtherRelay = errors.New("relaynode: the call's peers are on different relays")

// Call is a call between two peers of one relay: a relay.Call in process,
// or one on a standalone relay. Safe for concurrent use.
type Call interface {
	// SendMids returns the mids on which p's browser sends its media
	// (see relay.Call.SendMids); nil for a peer not in the call.
	SendMids(p Peer) []string
	// Stats returns what each direction forwarded so far.
	Stats(ctx context.Context) ([]relay.LegStats, error)
	// SendMidsOf is SendMids for a peer named by reference (one another
	// signaling node drives); nil in process.
	SendMidsOf(ref PeerRef) []string
	// ID is the call's id on its standalone relay (call_end names it); ""
	// in process.
	ID() string
	// Close stops the call's transceivers (renegotiate both peers after);
	// the peers stay open. Calling it again returns nil.
	Close() error
}

// PeerRef names a peer on a standalone relay, for another signaling node:
// in a fleet the two parties of a call may be connected to two nodes, each
// driving its own client's peer over its own link to the relay.
type PeerRef struct {
	Relay string `json:"relay"`
	Peer  string `json:"peer"`
}

// RefOf returns p's reference; false for an in-process peer, which no
// other node can reach (or for no peer).
func RefOf(p Peer) (PeerRef, bool) {
	if p == nil {
		return PeerRef{}, false
	}
	return p.Ref()
}

// OnCallEnded registers f (once, before calls start) to learn of calls a
// relay ended because one of their peers closed (call_end); f runs on a
// goroutine of its own and may drive the relay.
func (p *Pool) OnCallEnded(f func(call string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onCallEnd = f
}

func (p *Pool) callEnded(id string) {
	p.mu.Lock()
	f := p.onCallEnd
	p.mu.Unlock()
	if f != nil && id != "" {
		go f(id)
	}
}

// SameRelay reports whether a and b can be joined in a call: both in
// process, or both on the same standalone relay.
func SameRelay(a, b Peer) bool {
	return a != nil && b != nil && a.relay() == b.relay()
}

// Connect starts a call of kind m between a and b (for a screen share a is
// the one sharing). Like relay.Peer.Connect it only adds transceivers:
// renegotiate both peers afterwards. ErrOtherRelay when they do not share
// a relay.
func Connect(ctx context.Context, a, b Peer, m relay.Media) (Call, error) {
	if !SameRelay(a, b) {
		return nil, ErrOtherRelay
	}
	return a.connect(ctx, b, m)
}

// ConnectTo is Connect for a peer a of this node's and a peer b another
// signaling node drives (a is the one sharing a screen). ErrOtherRelay
// when a is in process or on another relay.
func ConnectTo(ctx context.Context, a Peer, b PeerRef, m relay.Media) (Call, error) {
	ref, ok := RefOf(a)
	if !ok || ref.Relay != b.Relay {
		return nil, ErrOtherRelay
	}
	return connectRemote(ctx, a.(*remotePeer), b.Peer, m)
}

func connectRemote(ctx context.Context, ra *remotePeer, other string, m relay.Media) (Call, error) {
	id := ra.l.pool.peerID() + "-call"
	ctx, cancel := context.WithTimeout(ctx, requestWait)
	defer cancel()
	r, err := ra.call(ctx, msg{Op: opConnect, Call: id, Other: other, Kind: string(m)})
	if err != nil {
		return nil, err
	}
	return &remoteCall{id: id, l: ra.l, mids: r.Mids}, nil
}

// localCall is a call on the in-process relay.
type localCall struct{ c *relay.Call }

func (c localCall) SendMids(p Peer) []string {
	if p == nil || p.pion() == nil {
		return nil
	}
	return c.c.SendMids(p.pion())
}

func (c localCall) SendMidsOf(PeerRef) []string                     { return nil }
func (c localCall) ID() string                                      { return "" }
func (c localCall) Stats(context.Context) ([]relay.LegStats, error) { return c.c.Stats(), nil }
func (c localCall) Close() error                                    { return c.c.Close() }

// remoteCall is a call on a standalone relay, driven over its link.
type remoteCall struct {
	id   string
	l    *link
	mids map[string][]string // by peer id, from connect's reply
}

func (c *remoteCall) SendMids(p Peer) []string {
	if p == nil || p.relay() != c.l {
		return nil
	}
	ref, _ := p.Ref()
	return slices.Clone(c.mids[ref.Peer])
}

func (c *remoteCall) SendMidsOf(ref PeerRef) []string {
	if ref.Relay != c.l.relayID {
		return nil
	}
	return slices.Clone(c.mids[ref.Peer])
}

func (c *remoteCall) ID() string { return c.id }

func (c *remoteCall) Stats(ctx context.Context) ([]relay.LegStats, error) {
	r, err := c.l.request(ctx, msg{Op: opCallStats, Call: c.id})
	return r.Legs, err
}

// Close asks the relay to hang up and waits for it, so that the offers
// made next no longer carry the call. A relay that is gone has ended the
// call already.
func (c *remoteCall) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), requestWait)
	defer cancel()
	_, err := c.l.request(ctx, msg{Op: opHangup, Call: c.id})
	if errors.Is(err, relay.ErrClosed) {
		return nil
	}
	return err
}

// nodeCall is a call on the relay's end of a link (the link that
// connected it).
type nodeCall struct {
	call *relay.Call
	a, b string      // peer ids
	tell []*nodeLink // links to send call_end to: the owner's, the peers'
}

// peer finds a peer on any of the relay's links: in a fleet the two peers
// of a call belong to two signaling nodes, each with a link of its own.
func (n *Node) peer(id string) (*nodePeer, *nodeLink) {
	for _, l := range n.linkList() {
		l.mu.Lock()
		p := l.peers[id]
		l.mu.Unlock()
		if p != nil {
			return p, l
		}
	}
	return nil, nil
}

func (n *Node) linkList() []*nodeLink {
	n.mu.Lock()
	defer n.mu.Unlock()
	links := make([]*nodeLink, 0, len(n.links))
	for l := range n.links {
		links = append(links, l)
	}
	return links
}

// callOp serves connect, hangup and call_stats (on a goroutine of its
// own: Connect and Close wait on Pion, and the link's reader must not).
func (l *nodeLink) callOp(m msg) {
	defer l.callOps.Done()
	switch m.Op {
	case opConnect:
		a, la := l.n.peer(m.Peer)
		b, lb := l.n.peer(m.Other)
		l.mu.Lock()
		_, dup := l.calls[m.Call]
		_, connecting := l.connecting[m.Call]
		// Reserve the id in the same critical section as the check, so two
		// connects with one id cannot both pass it while Pion works.
		reserved := m.Call != "" && !dup && !connecting && a != nil && b != nil
		if reserved {
			l.connecting[m.Call] = struct{}{}
		}
		l.mu.Unlock()
		switch {
		case m.Call == "" || dup || connecting:
			l.reply(m.Req, "", errors.New("call id missing or in use"))
			return
		case a == nil || b == nil:
			l.reply(m.Req, "", fmt.Errorf("call %s: a peer has gone: %w", m.Call, relay.ErrClosed))
			return
		}
		c, err := a.peer.Connect(b.peer, relay.Media(m.Kind))
		if err != nil {
			l.mu.Lock()
			delete(l.connecting, m.Call)
			l.mu.Unlock()
			l.reply(m.Req, "", err)
			return
		}
		tell := []*nodeLink{l}
		for _, o := range []*nodeLink{la, lb} {
			if !slices.Contains(tell, o) {
				tell = append(tell, o)
			}
		}
		// A peer that closed meanwhile has already dropped its calls.
		pa, _ := l.n.peer(a.id)
		pb, _ := l.n.peer(b.id)
		gone := pa != a || pb != b
		l.mu.Lock()
		delete(l.connecting, m.Call)
		if !gone {
			l.calls[m.Call] = &nodeCall{call: c, a: a.id, b: b.id, tell: tell}
		}
		l.mu.Unlock()
		if gone {
			c.Close()
			l.reply(m.Req, "", fmt.Errorf("call %s: a peer has gone: %w", m.Call, relay.ErrClosed))
			return
		}
		l.write(msg{Op: opReply, Req: m.Req, Mids: map[string][]string{a.id: c.SendMids(a.peer), b.id: c.SendMids(b.peer)}})
	case opHangup:
		l.mu.Lock()
		c := l.calls[m.Call]
		delete(l.calls, m.Call)
		l.mu.Unlock()
		if c != nil {
			c.call.Close()
		}
		l.reply(m.Req, "", nil) // a call already ended (a peer closed) is hung up too
	case opCallStats:
		l.mu.Lock()
		c := l.calls[m.Call]
		l.mu.Unlock()
		if c == nil {
			l.reply(m.Req, "", fmt.Errorf("call %s: %w", m.Call, relay.ErrClosed))
			return
		}
		l.write(msg{Op: opReply, Req: m.Req, Legs: c.call.Stats()})
	}
}

// endCallsOf ends the calls a closed peer of the link was in.
func (l *nodeLink) endCallsOf(peer string) { l.n.endCallsOf(peer) }

// endCallsOf ends the calls a closed peer was in, on every link (the other
// peer stays), and tells their links (call_end).
func (n *Node) endCallsOf(peer string) {
	type ended struct {
		id string
		c  *nodeCall
	}
	var out []ended
	for _, l := range n.linkList() {
		l.mu.Lock()
		for id, c := range l.calls {
			if c.a == peer || c.b == peer {
				out = append(out, ended{id, c})
				delete(l.calls, id)
			}
		}
		l.mu.Unlock()
	}
	for _, e := range out {
		e.c.call.Close()
		for _, l := range e.c.tell {
			l.write(msg{Op: opCallEnd, Call: e.id})
		}
	}
}

// callCount is for the relay's metrics: calls under way on the link.
func (l *nodeLink) callCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}
