package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Data channel labels. The relay creates both; the browser receives them
// in its ondatachannel handler.
const (
	// ChannelChat carries protocol frames: ordered and reliable.
	ChannelChat = "chat"
	// ChannelSignals carries typing indicators and the like: unordered,
	// never retransmitted (a lost one is superseded by the next).
	ChannelSignals = "signals"
)

// Limits on what a browser may send us during negotiation.
const (
	maxQueuedCandidates = 64
	maxCandidateLen     = 1024
	maxSDPLen           = 64 << 10
)

// State is where a peer stands, as reported to PeerOptions.OnState.
type State int

const (
	// StateConnecting: negotiating, or re-establishing after Restart.
	StateConnecting State = iota
	// StateOpen: the chat channel is open and the connection is up.
	StateOpen
	// StateFailed: ICE lost the connection for good. The peer is not
	// closed: signaling may call Restart while the WebSocket is alive, or
	// Close and fall back to the WebSocket.
	StateFailed
	// StateClosed: closed by Close, by the browser closing the chat
	// channel, or by the connection closing. Final.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateFailed:
		return "failed"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// PeerOptions are the callbacks of one peer. Every callback may be nil.
//
// OnCandidate and OnState are called one at a time, in order, on a
// goroutine of the peer's own (never while a Peer method holds a lock), so
// they may call any Peer method, Close included. OnFrame and OnOversize
// are called from the channel's read loop: in order per channel, one at a
// time per channel; a slow OnFrame slows that channel down (backpressure),
// it does not drop frames.
type PeerOptions struct {
	// ID names the peer in errors (e.g. the client session id).
	ID string

	// OnCandidate receives the relay's trickled ICE candidates, to be sent
	// to the browser as rtc_candidate. It is called only once the answer
	// to the current offer is in (so the browser always has the offer
	// first); an empty Candidate means end of candidates.
	OnCandidate func(protocol.RTCCandidate)

	// OnFrame receives each message from the browser on channel
	// ChannelChat or ChannelSignals. data is the caller's to keep.
	OnFrame func(channel string, data []byte)

	// OnOversize reports a message larger than protocol.MaxFrameBytes; it
	// was dropped and the peer goes on.
	OnOversize func(channel string, size int)

	// OnState reports each change of state (never the same state twice in
	// a row). StateClosed is the last call of all callbacks but OnFrame
	// and OnOversize, which may finish a delivery already under way.
	OnState func(State)

	// Media makes a peer that can carry calls (Relay.Connect): Opus and
	// VP8 are negotiable on it. Without it the peer is data-only.
	Media bool
}

// Peer is the relay's end of one browser's peer connection. All methods
// are safe for concurrent use.
type Peer struct {
	relay *Relay
	id    string
	opts  PeerOptions
	pc    *webrtc.PeerConnection
	chat  *channel
	sig   *channel

	negotiate sync.Mutex // one Offer/Restart/SetAnswer at a time

	mu             sync.Mutex
	state          State
	closed         bool
	offered        bool
	awaitingAnswer bool
	haveRemote     bool
	queued         []webrtc.ICECandidateInit // remote, waiting for the answer
	gen            *gathering

	retrySizes []int // read buffer sizes to try after io.ErrShortBuffer

	// Calls (media.go); guarded by mu.
	media    bool
	mids     int                          // transceivers added by calls
	incoming map[*webrtc.RTPReceiver]*leg // receivers of calls' tracks

	events notifier
	wg     sync.WaitGroup // read loops and event delivery
	done   chan struct{}
}

// gathering tracks the relay's own candidates for one offer (one ICE
// generation).
type gathering struct {
	done     chan struct{} // closed when gathering completes
	complete bool
	pending  []protocol.RTCCandidate // not yet handed to OnCandidate
	inOffer  map[string]bool         // candidate lines the offer SDP carried
	eocSent  bool                    // end of candidates in the offer or trickled
	released bool                    // the answer is in: trickle directly
	ufrag    string
}

// NewPeer creates a peer with its two data channels. Negotiation starts
// with Offer. The peer lives until Close (or until the browser closes the
// chat channel); Relay.Close closes the peers still alive.
func (r *Relay) NewPeer(opts PeerOptions) (*Peer, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	r.mu.Unlock()

	api := r.api
	if opts.Media {
		api = r.mediaAPI
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	})
	if err != nil {
		return nil, fmt.Errorf("relay: new peer connection: %w", err)
	}
	p := &Peer{relay: r, id: opts.ID, opts: opts, pc: pc, done: make(chan struct{}), media: opts.Media}
	if opts.Media {
		p.incoming = make(map[*webrtc.RTPReceiver]*leg)
		pc.OnTrack(p.onTrack)
	}
	p.events.wg = &p.wg
	p.retrySizes = []int{protocol.MaxFrameBytes + 1, r.cfg.MaxMessageSize + 1, maxSCTPMessageSize}

	ordered, unordered, noRetransmits := true, false, uint16(0)
	chat, err := pc.CreateDataChannel(ChannelChat, &webrtc.DataChannelInit{Ordered: &ordered})
	if err == nil {
		p.chat = &channel{label: ChannelChat, dc: chat}
		var sig *webrtc.DataChannel
		sig, err = pc.CreateDataChannel(ChannelSignals, &webrtc.DataChannelInit{Ordered: &unordered, MaxRetransmits: &noRetransmits})
		p.sig = &channel{label: ChannelSignals, dc: sig}
	}
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("relay: create data channels: %w", err)
	}

	p.gen = &gathering{done: make(chan struct{})}
	pc.OnICECandidate(p.onLocalCandidate)
	pc.OnConnectionStateChange(p.onConnectionState)
	for _, ch := range []*channel{p.chat, p.sig} {
		ch := ch
		ch.dc.OnOpen(func() { p.onChannelOpen(ch) })
	}

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = pc.Close()
		return nil, ErrClosed
	}
	r.peers[p] = struct{}{}
	r.mu.Unlock()
	return p, nil
}

// ID returns PeerOptions.ID.
func (p *Peer) ID() string { return p.id }

// State returns the current state.
func (p *Peer) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// Done is closed when the peer has stopped completely after Close: its
// read loops have ended and every callback has returned.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Offer creates the relay's offer and returns its SDP, to be sent to the
// browser as rtc_offer. It waits up to Config.GatherWait (or until ctx
// ends) for the relay's own candidates so the offer carries them; any found
// later go to OnCandidate once the answer is in. Calling Offer again before
// the answer arrives replaces the pending offer.
func (p *Peer) Offer(ctx context.Context) (string, error) {
	return p.offer(ctx, false)
}

// Restart makes an ICE-restart offer: new ICE credentials, new candidates,
// same DTLS and SCTP, so the data channels and their queued frames survive.
// Use it when the peer reports StateFailed while the client's WebSocket is
// still alive; send the result as rtc_offer and pass the answer to
// SetAnswer as usual. Before any offer it is the same as Offer.
func (p *Peer) Restart(ctx context.Context) (string, error) {
	return p.offer(ctx, true)
}

func (p *Peer) offer(ctx context.Context, restart bool) (string, error) {
	p.negotiate.Lock()
	defer p.negotiate.Unlock()

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return "", p.errClosed()
	}
	restart = restart && p.offered
	var opts *webrtc.OfferOptions
	if restart {
		opts = &webrtc.OfferOptions{ICERestart: true}
		p.gen = &gathering{done: make(chan struct{})}
		p.queued = nil // candidates of the old generation are useless now
		// Also from StateOpen (the browser asked for the restart): the
		// caller then learns from StateOpen that the new path is up.
		if p.state == StateFailed || p.state == StateOpen {
			p.setStateLocked(StateConnecting)
		}
	}
	g := p.gen
	p.mu.Unlock()

	offer, err := p.pc.CreateOffer(opts)
	if err != nil {
		return "", p.wrapClosed(fmt.Errorf("relay: peer %s: create offer: %w", p.id, err))
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return "", p.wrapClosed(fmt.Errorf("relay: peer %s: set local description: %w", p.id, err))
	}

	if wait := p.relay.cfg.GatherWait; wait > 0 {
		timer := time.NewTimer(wait)
		select {
		case <-g.done:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return "", fmt.Errorf("relay: peer %s: waiting for candidates: %w", p.id, ctx.Err())
		}
		timer.Stop()
	}

	local := p.pc.LocalDescription() // with the candidates gathered so far
	if local == nil {
		return "", p.errClosed()
	}
	if p.relay.cfg.GatherWait < 0 {
		local = &offer // none at all: every candidate trickles
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return "", p.errClosed()
	}
	g.inOffer, g.ufrag = candidateLines(local.SDP)
	g.eocSent = strings.Contains(local.SDP, "a=end-of-candidates")
	p.offered = true
	p.awaitingAnswer = true
	return local.SDP, nil
}

// SetAnswer applies the browser's answer to the pending offer, then the
// remote candidates that arrived before it. A malformed or unusable answer
// returns an error wrapping ErrBadSDP and leaves the peer waiting for a
// valid one; without a pending offer it returns ErrNoOffer.
func (p *Peer) SetAnswer(answer string) error {
	p.negotiate.Lock()
	defer p.negotiate.Unlock()

	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		return p.errClosed()
	case !p.awaitingAnswer:
		p.mu.Unlock()
		return fmt.Errorf("relay: peer %s: %w", p.id, ErrNoOffer)
	}
	p.mu.Unlock()

	if strings.TrimSpace(answer) == "" {
		return fmt.Errorf("%w: peer %s: empty answer", ErrBadSDP, p.id)
	}
	if len(answer) > maxSDPLen {
		return fmt.Errorf("%w: peer %s: answer is %d bytes, the limit is %d", ErrBadSDP, p.id, len(answer), maxSDPLen)
	}
	// Parse first: Pion's own errors for garbage are cryptic, and a parse
	// failure must leave the peer untouched.
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(answer); err != nil {
		return fmt.Errorf("%w: peer %s: %v", ErrBadSDP, p.id, err)
	}
	if err := checkAnswer(&parsed); err != nil {
		return fmt.Errorf("%w: peer %s: %v", ErrBadSDP, p.id, err)
	}
	// Candidates inside the answer are filtered as trickled ones are.
	err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: p.relay.remote.filterAnswer(answer)})
	if err != nil {
		if p.pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
			return p.errClosed()
		}
		return fmt.Errorf("%w: peer %s: %v", ErrBadSDP, p.id, err)
	}

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return p.errClosed()
	}
	p.awaitingAnswer = false
	p.haveRemote = true
	queued := p.queued
	p.queued = nil
	g := p.gen
	g.released = true
	for _, c := range g.pending {
		if !g.inOffer[c.Candidate] {
			p.postCandidateLocked(c)
		}
	}
	g.pending = nil
	if g.complete && !g.eocSent {
		g.eocSent = true
		p.postCandidateLocked(p.endOfCandidatesLocked(g))
	}
	p.mu.Unlock()

	for _, c := range queued {
		if err := p.pc.AddICECandidate(c); err != nil {
			// Checked when queued; only a changed ICE generation gets here.
			p.relay.logs.NewLogger("relay").Warnf("peer %s: queued candidate dropped: %v", p.id, err)
		}
	}
	return nil
}

// checkAnswer refuses what Pion would accept but cannot work: an answer
// without the data-channel section, ICE credentials or DTLS fingerprint,
// or one that does not pick a DTLS role (an offer sent back as answer).
func checkAnswer(s *sdp.SessionDescription) error {
	attr := func(m *sdp.MediaDescription, key string) (string, bool) {
		if v, ok := m.Attribute(key); ok {
			return v, true
		}
		return s.Attribute(key)
	}
	for _, m := range s.MediaDescriptions {
		if m.MediaName.Media != "application" {
			continue
		}
		for _, key := range []string{"ice-ufrag", "ice-pwd", "fingerprint"} {
			if v, ok := attr(m, key); !ok || v == "" {
				return fmt.Errorf("the application section has no a=%s", key)
			}
		}
		if setup, _ := attr(m, "setup"); setup != "active" && setup != "passive" {
			return fmt.Errorf("a=setup:%q; an answer must say active or passive", setup)
		}
		return nil
	}
	return errors.New("no application (data channel) section")
}

// Close closes the peer connection and its channels and reports
// StateClosed. It may be called from any callback. It returns once the
// connection is closed; Done tells when the last callback has returned.
// It returns nil, also when called again: Pion's teardown errors (a stream
// reset on an association the browser already closed, say) change
// nothing for the caller, so they are only logged at debug level.
func (p *Peer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.queued = nil
	p.mu.Unlock()

	// GracefulClose waits for Pion's goroutines. Our callbacks never run
	// on Pion's goroutines, so this cannot wait for itself.
	err := p.pc.GracefulClose()

	for _, ch := range []*channel{p.chat, p.sig} {
		ch.mu.Lock()
		ch.raw = nil
		ch.mu.Unlock()
	}
	p.mu.Lock()
	p.forceStateLocked(StateClosed)
	p.mu.Unlock()
	p.relay.forget(p)

	go func() {
		p.wg.Wait()
		close(p.done)
	}()
	if err != nil {
		p.relay.logs.NewLogger("relay").Debugf("peer %s: close: %v", p.id, err)
	}
	return nil
}

func (p *Peer) errClosed() error {
	return fmt.Errorf("relay: peer %s: %w", p.id, ErrClosed)
}

// wrapClosed turns Pion's "connection closed" errors into ErrClosed.
func (p *Peer) wrapClosed(err error) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return p.errClosed()
	}
	return err
}

func (p *Peer) onConnectionState(s webrtc.PeerConnectionState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch s {
	case webrtc.PeerConnectionStateConnected:
		if p.chat.stream() != nil {
			p.setStateLocked(StateOpen)
		}
	case webrtc.PeerConnectionStateFailed:
		p.setStateLocked(StateFailed)
	}
}

// setStateLocked records and reports a state change, unless closed.
func (p *Peer) setStateLocked(s State) {
	if p.closed || p.state == s {
		return
	}
	p.forceStateLocked(s)
}

func (p *Peer) forceStateLocked(s State) {
	if p.state == s {
		return
	}
	p.state = s
	if f := p.opts.OnState; f != nil {
		p.events.post(func() { f(s) })
	}
}
