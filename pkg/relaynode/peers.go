package relaynode

import (
	"context"
	"errors"

	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
)

// Peer is one browser's peer connection as signaling drives it: a
// *relay.Peer in process, or a peer on a standalone relay behind a control
// link. Methods and callbacks (relay.PeerOptions) keep relay.Peer's
// contracts: errors wrap relay's sentinel errors, StateClosed is the last
// state reported, Done closes after the last callback.
//
// It covers everything callers need, so none of them looks at which kind
// of peer it holds; the two implementations are this package's own.
type Peer interface {
	Offer(ctx context.Context) (string, error)
	// Restart makes an ICE-restart offer: same data channels, new ICE
	// credentials.
	Restart(ctx context.Context) (string, error)
	SetAnswer(sdp string) error
	AddCandidate(c protocol.RTCCandidate) error
	// Send sends a frame on the ordered chat channel.
	Send(frame []byte) error
	// SendSignal sends a frame on the unordered signals channel (typing).
	SendSignal(frame []byte) error
	// DeliversChat reports whether the relay commits the owner's sends and
	// delivers them itself (a committing standalone relay).
	DeliversChat() bool
	// Ref returns the peer's reference for other signaling nodes; false
	// for an in-process peer, which no other node can reach.
	Ref() (PeerRef, bool)
	Close() error
	Done() <-chan struct{}

	// relay identifies the relay serving the peer: peers of one relay can
	// be joined in a call (SameRelay).
	relay() any
	// connect starts a call of kind m between the peer and b, a peer of
	// the same relay.
	connect(ctx context.Context, b Peer, m relay.Media) (Call, error)
	// pion is the in-process relay's peer; nil on a standalone relay.
	pion() *relay.Peer
}

// Peers makes peers for a connection's owner (see Owner).
type Peers interface {
	NewPeer(ctx context.Context, owner Owner, opts relay.PeerOptions) (Peer, error)
}

// Local serves peers from the in-process relay.
func Local(r *relay.Relay) Peers { return local{r} }

type local struct{ r *relay.Relay }

func (l local) NewPeer(_ context.Context, _ Owner, opts relay.PeerOptions) (Peer, error) {
	p, err := l.r.NewPeer(opts)
	if err != nil {
		return nil, err
	}
	return localPeer{p, l.r}, nil
}

// localPeer is a peer of the in-process relay.
type localPeer struct {
	*relay.Peer
	r *relay.Relay
}

func (localPeer) DeliversChat() bool   { return false }
func (localPeer) Ref() (PeerRef, bool) { return PeerRef{}, false }
func (p localPeer) relay() any         { return p.r }
func (p localPeer) pion() *relay.Peer  { return p.Peer }

func (p localPeer) connect(_ context.Context, b Peer, m relay.Media) (Call, error) {
	c, err := p.Connect(b.pion(), m)
	if err != nil {
		return nil, err
	}
	return localCall{c}, nil
}

// PionConfig maps the WebRTC settings (PARLEY_RTC_*) onto the relay's.
func PionConfig(cfg config.Config) relay.Config {
	return relay.Config{
		PublicIPs:       cfg.RTCPublicIPs,
		UDPPort:         cfg.RTCUDPPort,
		TCPPort:         cfg.RTCTCPPort,
		AllowedIPs:      cfg.RTCAllowedIPs,
		IncludeLoopback: cfg.RTCLoopback,
		RemoteAllow:     cfg.RTCRemoteAllow,
		RemoteDeny:      cfg.RTCRemoteDeny,
		Interfaces:      cfg.RTCInterfaces,
		MDNS:            cfg.RTCMDNS,
		// Zero values take the relay's defaults; Validate (relay.New)
		// refuses a max message size below the protocol's frame limit.
		DisconnectedTimeout: cfg.RTCDisconnectedTimeout,
		FailedTimeout:       cfg.RTCFailedTimeout,
		KeepaliveInterval:   cfg.RTCKeepalive,
		MaxMessageSize:      cfg.RTCMaxMessageSize,
		LogLevel:            "error",
	}
}

// ErrNoRelay: no live relay is registered (or none could be reached).
// Signaling answers rtc_stop; the client stays on the WebSocket.
var ErrNoRelay = errors.New("relaynode: no relay available")

// errorCodes carry relay's sentinel errors across the control link, so
// signaling can tell bad client input from a benign race as in process.
var errorCodes = map[string]error{
	"closed":         relay.ErrClosed,
	"bad_sdp":        relay.ErrBadSDP,
	"bad_candidate":  relay.ErrBadCandidate,
	"too_many":       relay.ErrTooManyCandidates,
	"no_offer":       relay.ErrNoOffer,
	"not_open":       relay.ErrNotOpen,
	"too_big":        relay.ErrFrameTooBig,
	"buffer_full":    relay.ErrSendBufferFull,
	"invalid_config": relay.ErrInvalidConfig,
	"no_media":       relay.ErrNoMedia,
}

func codeOf(err error) string {
	for code, e := range errorCodes {
		if errors.Is(err, e) {
			return code
		}
	}
	return ""
}

// remoteError is an error reported by the relay, wrapping the sentinel
// its code names.
type remoteError struct {
	msg  string
	base error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.base }

func errorFrom(m msg) error {
	if m.Error == "" {
		return nil
	}
	return &remoteError{msg: m.Error, base: errorCodes[m.Code]}
}
