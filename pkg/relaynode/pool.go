package relaynode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
)

// requestWait bounds a control request (create, answer, candidate); an
// offer has the relay's own gathering bound on top.
const requestWait = 10 * time.Second

// unreachableFor is how long a relay that could not be dialed is skipped
// by this node (it may still be live for others).
const unreachableFor = 3 * time.Second

// Pool is signaling's side of the standalone relays: it takes their
// heartbeats into a Registry, picks a relay for each new peer, and keeps
// one control link per relay. Safe for concurrent use.
type Pool struct {
	reg    Registry
	secret string
	log    *slog.Logger
	dialer websocket.Dialer
	prefix string // makes this node's peer ids unique on a shared relay

	mu          sync.Mutex
	links       map[string]*link // by relay id
	unreachable map[string]time.Time
	nextPeer    uint64
	closed      bool
	onCallEnd   func(call string) // calls.go
}

// NewPool returns a pool on reg; secret authenticates both the relays'
// heartbeats and this node's control links.
func NewPool(reg Registry, secret string, log *slog.Logger) *Pool {
	b := make([]byte, 4)
	rand.Read(b)
	return &Pool{reg: reg, secret: secret, log: log, prefix: hex.EncodeToString(b),
		links: map[string]*link{}, unreachable: map[string]time.Time{},
		dialer: websocket.Dialer{HandshakeTimeout: 5 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096}}
}

// Registry returns the pool's registry.
func (p *Pool) Registry() Registry { return p.reg }

// HandleHeartbeat takes a relay's heartbeat (POST HeartbeatPath with
// "Authorization: Bearer <PARLEY_RELAY_SECRET>" and an Info body); 204 on
// success.
func (p *Pool) HandleHeartbeat(w http.ResponseWriter, r *http.Request) {
	if !Authorized(r, p.secret) {
		p.log.Warn("relay heartbeat refused: wrong or missing relay secret", "remote", r.RemoteAddr)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "relay secret required", "code": "unauthorized"})
		return
	}
	var i Info
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&i); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "heartbeat body: " + err.Error(), "code": "invalid"})
		return
	}
	if err := i.validate(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "heartbeat: " + err.Error(), "code": "invalid"})
		return
	}
	if err := p.reg.Heartbeat(r.Context(), i); err != nil {
		p.log.Warn("relay registry unavailable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "relay registry unavailable", "code": "unavailable"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// NewPeer creates a peer on a relay: the live relay that serves most of
// the owner's conversations, else the least loaded live relay, which is
// then recorded for those of its conversations that have no (working)
// relay. Relays that cannot be reached are skipped; ErrNoRelay when none
// is left.
func (p *Pool) NewPeer(ctx context.Context, owner Owner, opts relay.PeerOptions) (Peer, error) {
	candidates, recorded, err := p.candidates(ctx, owner.Conversations)
	if err != nil {
		return nil, err
	}
	usable := map[string]bool{}
	for _, info := range candidates {
		usable[info.ID] = true
	}
	for _, info := range candidates {
		l, err := p.link(ctx, info)
		if err != nil {
			p.log.Warn("relay unreachable; trying another", "relay", info.ID, "err", err)
			continue
		}
		peer, err := l.newPeer(ctx, p.peerID(), owner, opts)
		if err != nil {
			p.log.Warn("relay refused a peer; trying another", "relay", info.ID, "err", err)
			usable[info.ID] = false
			continue
		}
		for conv, rec := range recorded {
			if rec == info.ID || (rec != "" && usable[rec]) {
				continue // already here, or on a working relay of its own
			}
			if err := p.reg.SetRelayOf(ctx, conv, info.ID); err != nil {
				p.log.Warn("cannot record the conversation's relay", "err", err)
			}
		}
		return peer, nil
	}
	return nil, ErrNoRelay
}

func (p *Pool) peerID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextPeer++
	return p.prefix + "-" + strconv.FormatUint(p.nextPeer, 10)
}

// candidates orders the live relays to try: those serving most of the
// conversations first, then by load (reported peers plus those this node
// created since). recorded maps each conversation to its relay ("" none).
func (p *Pool) candidates(ctx context.Context, conversations []string) (candidates []Info, recorded map[string]string, err error) {
	live, err := p.reg.Live(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrNoRelay, err)
	}
	recorded = map[string]string{}
	votes := map[string]int{}
	for _, conv := range conversations {
		id, err := p.reg.RelayOf(ctx, conv)
		if err != nil {
			p.log.Warn("cannot read the conversation's relay", "err", err)
		}
		recorded[conv] = id
		votes[id]++
	}
	now := time.Now()
	p.mu.Lock()
	load := map[string]int{}
	out := live[:0]
	for _, i := range live {
		if i.Draining || now.Before(p.unreachable[i.ID]) {
			continue
		}
		load[i.ID] = i.Peers
		if l := p.links[i.ID]; l != nil {
			load[i.ID] += l.createdSince(i.Seen)
		}
		out = append(out, i)
	}
	p.mu.Unlock()
	sort.Slice(out, func(a, b int) bool {
		if va, vb := votes[out[a].ID], votes[out[b].ID]; va != vb {
			return va > vb
		}
		if load[out[a].ID] != load[out[b].ID] {
			return load[out[a].ID] < load[out[b].ID]
		}
		return out[a].ID < out[b].ID
	})
	return out, recorded, nil
}

// link returns the control link to a relay, dialing it when needed.
func (p *Pool) link(ctx context.Context, info Info) (*link, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, relay.ErrClosed
	}
	if l := p.links[info.ID]; l != nil {
		p.mu.Unlock()
		return l, nil
	}
	p.mu.Unlock()
	u := info.ControlURL + ControlPath
	u = "ws" + strings.TrimPrefix(u, "http") // http→ws, https→wss
	h := http.Header{"Authorization": {"Bearer " + p.secret}}
	ws, resp, err := p.dialer.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
		}
		p.mu.Lock()
		p.unreachable[info.ID] = time.Now().Add(unreachableFor)
		p.mu.Unlock()
		return nil, err
	}
	l := &link{pool: p, relayID: info.ID, ws: ws, peers: map[string]*remotePeer{}, pending: map[uint64]chan msg{},
		done: make(chan struct{}), log: p.log.With("relay", info.ID)}
	p.mu.Lock()
	if other := p.links[info.ID]; other != nil || p.closed {
		// Another connection raced us there (or the pool closed).
		p.mu.Unlock()
		ws.Close()
		if other == nil {
			return nil, relay.ErrClosed
		}
		return other, nil
	}
	p.links[info.ID] = l
	p.mu.Unlock()
	l.log.Info("control link to relay is up", "url", info.ControlURL)
	go l.readLoop()
	go l.pingLoop()
	return l, nil
}

// Close drops every control link; their peers report closed.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	links := make([]*link, 0, len(p.links))
	for _, l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.fail(errors.New("signaling shutting down"))
	}
	return nil
}

// link is signaling's end of a control link to one relay.
type link struct {
	pool    *Pool
	relayID string
	ws      *websocket.Conn
	log     *slog.Logger
	wmu     sync.Mutex
	done    chan struct{} // closed when the link is dead

	mu      sync.Mutex
	dead    bool
	peers   map[string]*remotePeer
	pending map[uint64]chan msg
	nextReq uint64
	created []time.Time // peers created lately (load between heartbeats)
}

func (l *link) createdSince(t time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := l.created[:0]
	for _, c := range l.created {
		if c.After(t) {
			keep = append(keep, c)
		}
	}
	l.created = keep
	return len(keep)
}

func (l *link) readLoop() {
	l.ws.SetReadLimit(maxLinkMsg)
	l.ws.SetReadDeadline(time.Now().Add(linkDead))
	l.ws.SetPongHandler(func(string) error { return l.ws.SetReadDeadline(time.Now().Add(linkDead)) })
	for {
		var m msg
		if err := l.ws.ReadJSON(&m); err != nil {
			l.fail(err)
			return
		}
		l.ws.SetReadDeadline(time.Now().Add(linkDead))
		l.mu.Lock()
		if m.Op == opReply {
			ch := l.pending[m.Req]
			delete(l.pending, m.Req)
			l.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		if m.Op == opCallEnd {
			l.mu.Unlock()
			l.pool.callEnded(m.Call)
			continue
		}
		p := l.peers[m.Peer]
		l.mu.Unlock()
		if p != nil {
			p.post(m)
		}
	}
}

func (l *link) pingLoop() {
	t := time.NewTicker(linkPing)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
			if err := l.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(linkWrite)); err != nil {
				l.fail(err)
				return
			}
		}
	}
}

// fail ends the link: requests in flight fail, every peer on it reports
// closed (its client gets rtc_stop and goes on over the WebSocket), and
// the relay is dropped from the registry until its next heartbeat.
func (l *link) fail(err error) {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return
	}
	l.dead = true
	close(l.done)
	peers := make([]*remotePeer, 0, len(l.peers))
	for _, p := range l.peers {
		peers = append(peers, p)
	}
	l.pending = map[uint64]chan msg{}
	l.mu.Unlock()
	l.ws.Close()
	l.pool.mu.Lock()
	if l.pool.links[l.relayID] == l {
		delete(l.pool.links, l.relayID)
	}
	closing := l.pool.closed
	l.pool.mu.Unlock()
	if !closing {
		l.log.Warn("control link to relay lost; its clients go back to the WebSocket", "peers", len(peers), "err", err)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := l.pool.reg.Remove(ctx, l.relayID); err != nil {
			l.log.Warn("cannot drop the relay from the registry", "err", err)
		}
		cancel()
	}
	for _, p := range peers {
		p.finish()
	}
}

func (l *link) write(m msg) error {
	select {
	case <-l.done:
		return relay.ErrClosed
	default:
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.ws.SetWriteDeadline(time.Now().Add(linkWrite))
	if err := l.ws.WriteJSON(m); err != nil {
		go l.fail(err)
		return fmt.Errorf("%w: control link: %v", relay.ErrClosed, err)
	}
	return nil
}

// request sends m and waits for the relay's reply.
func (l *link) request(ctx context.Context, m msg) (msg, error) {
	ch := make(chan msg, 1)
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return msg{}, relay.ErrClosed
	}
	l.nextReq++
	m.Req = l.nextReq
	l.pending[m.Req] = ch
	l.mu.Unlock()
	forget := func() {
		l.mu.Lock()
		delete(l.pending, m.Req)
		l.mu.Unlock()
	}
	if err := l.write(m); err != nil {
		forget()
		return msg{}, err
	}
	select {
	case r := <-ch:
		return r, errorFrom(r)
	case <-l.done:
		return msg{}, fmt.Errorf("%w: relay lost", relay.ErrClosed)
	case <-ctx.Done():
		forget()
		return msg{}, fmt.Errorf("relay did not answer %s: %w", m.Op, ctx.Err())
	}
}

func (l *link) newPeer(ctx context.Context, id string, owner Owner, opts relay.PeerOptions) (*remotePeer, error) {
	p := &remotePeer{id: id, l: l, opts: opts, events: make(chan msg, peerQueue), closing: make(chan struct{}), done: make(chan struct{})}
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return nil, relay.ErrClosed
	}
	l.peers[id] = p
	l.created = append(l.created, time.Now())
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, requestWait)
	defer cancel()
	r, err := l.request(ctx, msg{Op: opCreate, Peer: id, Participant: wireParticipant(owner.Participant), Conn: owner.Connection, Media: opts.Media})
	if err != nil {
		l.forget(id)
		l.write(msg{Op: opClose, Peer: id}) // in case it was made after all
		return nil, err
	}
	p.chat = r.Chat
	// Events that came meanwhile wait in p.events.
	go p.dispatch()
	return p, nil
}

func (l *link) forget(id string) {
	l.mu.Lock()
	delete(l.peers, id)
	l.mu.Unlock()
}

// remotePeer is a Peer on a standalone relay. Relay events are delivered
// to the callbacks one at a time, in order, on the peer's own goroutine
// (never the link's reader, so one slow connection does not hold up the
// others).
type remotePeer struct {
	id   string
	l    *link
	opts relay.PeerOptions
	chat bool // the relay commits and delivers the owner's chat

	events    chan msg
	closing   chan struct{} // closed by Close or when the link dies
	closeOnce sync.Once
	done      chan struct{}
}

var states = map[string]relay.State{
	relay.StateConnecting.String(): relay.StateConnecting,
	relay.StateOpen.String():       relay.StateOpen,
	relay.StateFailed.String():     relay.StateFailed,
	relay.StateClosed.String():     relay.StateClosed,
}

// post queues a relay event; a connection too slow to take its events
// loses the peer (and resumes over its WebSocket).
func (p *remotePeer) post(m msg) {
	select {
	case p.events <- m:
	default:
		p.l.log.Warn("connection too slow for its data channel; closing the peer", "peer", p.id)
		p.Close()
	}
}

func (p *remotePeer) dispatch() {
	defer close(p.done)
	defer p.l.forget(p.id)
	for {
		select {
		case <-p.closing:
			p.closed()
			return
		case m := <-p.events:
			switch m.Op {
			case opState:
				s, ok := states[m.State]
				if !ok {
					continue
				}
				if s == relay.StateClosed {
					p.closeOnce.Do(func() { close(p.closing) })
					p.closed()
					return
				}
				if p.opts.OnState != nil {
					p.opts.OnState(s)
				}
			case opCandidate:
				if p.opts.OnCandidate != nil && m.Candidate != nil {
					p.opts.OnCandidate(*m.Candidate)
				}
			case opFrame:
				if p.opts.OnFrame != nil {
					p.opts.OnFrame(m.Channel, []byte(m.Data))
				}
			case opOversize:
				if p.opts.OnOversize != nil {
					p.opts.OnOversize(m.Channel, m.Size)
				}
			}
		}
	}
}

func (p *remotePeer) closed() {
	if p.opts.OnState != nil {
		p.opts.OnState(relay.StateClosed)
	}
}

// finish ends the peer on this side (the link died).
func (p *remotePeer) finish() {
	p.closeOnce.Do(func() { close(p.closing) })
}

func (p *remotePeer) alive() error {
	select {
	case <-p.closing:
		return fmt.Errorf("peer %s: %w", p.id, relay.ErrClosed)
	default:
		return nil
	}
}

func (p *remotePeer) call(ctx context.Context, m msg) (msg, error) {
	if err := p.alive(); err != nil {
		return msg{}, err
	}
	m.Peer = p.id
	return p.l.request(ctx, m)
}

// Offer asks the relay for its offer.
func (p *remotePeer) Offer(ctx context.Context) (string, error) {
	r, err := p.call(ctx, msg{Op: opOffer})
	return r.SDP, err
}

// Restart asks the relay for an ICE-restart offer on the peer
// (relay.Peer.Restart): same data channels, new ICE credentials.
func (p *remotePeer) Restart(ctx context.Context) (string, error) {
	r, err := p.call(ctx, msg{Op: opOffer, Restart: true})
	return r.SDP, err
}

// SetAnswer hands the relay the browser's answer.
func (p *remotePeer) SetAnswer(sdp string) error {
	ctx, cancel := context.WithTimeout(context.Background(), requestWait)
	defer cancel()
	_, err := p.call(ctx, msg{Op: opAnswer, SDP: sdp})
	return err
}

// AddCandidate hands the relay one of the browser's candidates.
func (p *remotePeer) AddCandidate(c protocol.RTCCandidate) error {
	ctx, cancel := context.WithTimeout(context.Background(), requestWait)
	defer cancel()
	_, err := p.call(ctx, msg{Op: opCandidate, Candidate: &c})
	return err
}

// Send queues a frame for the browser. If the relay cannot deliver it, the
// relay closes the peer: the client then resends and resumes.
func (p *remotePeer) Send(frame []byte) error {
	if err := p.alive(); err != nil {
		return err
	}
	return p.l.write(msg{Op: opSend, Peer: p.id, Data: string(frame)})
}

// SendSignal queues a typing frame for the browser's signals channel
// (relay.Peer.SendSignal); the relay puts it on the chat channel when
// signals cannot take it.
func (p *remotePeer) SendSignal(frame []byte) error {
	if err := p.alive(); err != nil {
		return err
	}
	return p.l.write(msg{Op: opSend, Peer: p.id, Channel: relay.ChannelSignals, Data: string(frame)})
}

// Close ends the peer at once on this side (StateClosed follows on the
// peer's goroutine) and tells the relay to close its end.
func (p *remotePeer) Close() error {
	first := false
	p.closeOnce.Do(func() { close(p.closing); first = true })
	if first {
		p.l.write(msg{Op: opClose, Peer: p.id})
	}
	return nil
}

// DeliversChat reports whether the relay commits the owner's sends and
// delivers its chat publications itself (it has the fleet's store and
// bus): signaling then sends none of those over this peer.
func (p *remotePeer) DeliversChat() bool { return p.chat }

func (p *remotePeer) Ref() (PeerRef, bool) { return PeerRef{Relay: p.l.relayID, Peer: p.id}, true }
func (p *remotePeer) relay() any           { return p.l }
func (p *remotePeer) pion() *relay.Peer    { return nil }

func (p *remotePeer) connect(ctx context.Context, b Peer, m relay.Media) (Call, error) {
	rb := b.(*remotePeer) // same link (SameRelay): a remote peer too
	if err := rb.alive(); err != nil {
		return nil, err
	}
	return connectRemote(ctx, p, rb.id, m)
}

// Done is closed after the peer's last callback.
func (p *remotePeer) Done() <-chan struct{} { return p.done }

// Collectors are the pool's Prometheus series for signaling's /metrics:
// live relays (as the registry sees them) and this node's control links.
func (p *Pool) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_relays_live", Help: "Standalone relays heard from within three heartbeats (the registry's view).",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			live, err := p.reg.Live(ctx)
			if err != nil {
				return -1 // registry unreachable
			}
			return float64(len(live))
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_relay_control_links", Help: "Control links from this signaling node to standalone relays.",
		}, func() float64 {
			p.mu.Lock()
			defer p.mu.Unlock()
			return float64(len(p.links))
		}),
	}
}
