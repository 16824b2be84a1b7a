// Package relay is the Pion WebRTC side of Parley: one peer connection per
// participant connection (visitor widget or agent app), carrying the same
// JSON frames as the WebSocket (package protocol) over data channels.
//
// Signaling negotiates each peer over the client's WebSocket:
//
//	peer, _ := r.NewPeer(relay.PeerOptions{OnCandidate: ..., OnFrame: ..., OnState: ...})
//	sdp, _ := peer.Offer(ctx)      // → rtc_offer to the browser
//	peer.SetAnswer(answer.SDP)     // ← rtc_answer
//	peer.AddCandidate(cand)        // ← rtc_candidate (queued until the answer)
//	                               // → rtc_candidate from OnCandidate
//	peer.Send(frame)               // once OnState reported StateOpen
//
// The relay always makes the offer (also for an ICE restart and, later, for
// voice and screen), browsers always answer: offers never collide.
//
// Mapping to the protocol frames (package protocol):
//
//	rtc_start  (client)  → NewPeer, then Offer; send rtc_offer with the SDP
//	                       and turn.ICEServers for this client
//	rtc_answer (client)  → SetAnswer
//	rtc_candidate (client) → AddCandidate; OnCandidate → rtc_candidate
//	OnState(StateFailed) → Restart and a new rtc_offer while the WebSocket
//	                       lives (or Close and rtc_stop)
//	OnState(StateClosed) → rtc_stop; chat goes on over the WebSocket
//	rtc_stop (client), WebSocket gone → Close
//
// Errors from SetAnswer and AddCandidate (ErrBadSDP, ErrBadCandidate, …)
// concern that one input: answer the client with an error frame; the peer
// is unaffected.
//
// A Relay runs inside the signaling process by default; the standalone
// relay binary builds the same Relay from its flags.
package relay

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
)

// Relay builds peers that share one configuration, one Pion API (lean:
// data channels only, no codecs, no RTP interceptors) and, when configured,
// one UDP port and one ICE-TCP port. It is safe for concurrent use.
type Relay struct {
	cfg      Config
	api      *webrtc.API
	mediaAPI *webrtc.API // for peers that may carry calls (media.go)
	udpMux   ice.UDPMux  // nil without UDPPort
	tcpMux   ice.TCPMux  // nil without TCPPort
	tcpLn    net.Listener
	logs     logging.LoggerFactory
	network  []webrtc.NetworkType
	remote   remoteFilter // candidates from browsers (remote.go)

	mu     sync.Mutex
	peers  map[*Peer]struct{}
	closed bool
}

// New validates cfg, fills in defaults and opens the shared ports (UDPPort,
// TCPPort). Close releases them.
func New(cfg Config) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &Relay{cfg: cfg, peers: make(map[*Peer]struct{}), remote: newRemoteFilter(cfg)}

	w := cfg.LogWriter
	if w == nil {
		w = os.Stderr
	}
	logs := &logging.DefaultLoggerFactory{
		Writer:          w,
		DefaultLogLevel: logLevels[strings.ToLower(cfg.LogLevel)],
		ScopeLevels:     map[string]logging.LogLevel{},
	}
	r.logs = logs

	var se webrtc.SettingEngine
	se.LoggerFactory = logs
	se.DetachDataChannels() // our read loop, our (small) buffer
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	se.SetIPFilter(cfg.ipFilter())
	if f := cfg.interfaceFilter(); f != nil {
		se.SetInterfaceFilter(f)
	}
	if cfg.MDNS {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeQueryAndGather)
	} else {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if len(cfg.PublicIPs) > 0 {
		ips := make([]string, len(cfg.PublicIPs))
		for i, s := range cfg.PublicIPs {
			ips[i] = strings.TrimSpace(s)
		}
		se.SetNAT1To1IPs(ips, webrtc.ICECandidateTypeHost)
	}
	se.SetICETimeouts(cfg.DisconnectedTimeout, cfg.FailedTimeout, cfg.KeepaliveInterval)
	// Browsers hide their host addresses behind mDNS names, so the direct
	// path to a browser always shows up as a peer-reflexive candidate. Pion
	// waits 1s by default before accepting one, hoping for better: there
	// is nothing better than the direct path, and the wait delays every
	// chat (measured: data channel open 1.3s → 0.3s with Chromium).
	se.SetPrflxAcceptanceMinWait(0)
	se.SetRelayAcceptanceMinWait(max(cfg.TURNPathWait, 0))
	se.SetSCTPMaxMessageSize(uint32(cfg.MaxMessageSize))
	if cfg.PortMin != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.PortMin, cfg.PortMax); err != nil {
			return nil, fmt.Errorf("%w: PortMin/PortMax: %v", ErrInvalidConfig, err)
		}
	}

	r.network = []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	if cfg.IPv6 {
		r.network = append(r.network, webrtc.NetworkTypeUDP6)
	}

	if cfg.UDPPort != 0 {
		mux, err := r.openUDPMux()
		if err != nil {
			return nil, err
		}
		r.udpMux = mux
		se.SetICEUDPMux(mux)
	}
	if cfg.TCPPort != 0 {
		if err := r.openTCPMux(); err != nil {
			r.closePorts()
			return nil, err
		}
		se.SetICETCPMux(r.tcpMux)
		r.network = append(r.network, webrtc.NetworkTypeTCP4)
		if cfg.IPv6 {
			r.network = append(r.network, webrtc.NetworkTypeTCP6)
		}
	}
	se.SetNetworkTypes(r.network)

	// An empty MediaEngine and InterceptorRegistry: without them NewAPI
	// registers every codec and the NACK / RTCP report / TWCC interceptors,
	// which cost CPU and memory on every data-only peer.
	r.api = webrtc.NewAPI(
		webrtc.WithSettingEngine(se),
		webrtc.WithMediaEngine(&webrtc.MediaEngine{}),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
	)
	media, err := newMediaAPI(se)
	if err != nil {
		r.closePorts()
		return nil, err
	}
	r.mediaAPI = media
	return r, nil
}

func (r *Relay) openUDPMux() (ice.UDPMux, error) {
	logger := r.logs.NewLogger("udpmux")
	if r.cfg.ListenIP != "" {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(r.cfg.ListenIP), Port: r.cfg.UDPPort})
		if err != nil {
			return nil, fmt.Errorf("relay: listen UDP %s: %w", net.JoinHostPort(r.cfg.ListenIP, strconv.Itoa(r.cfg.UDPPort)), err)
		}
		return webrtc.NewICEUDPMux(logger, conn), nil
	}
	opts := []ice.UDPMuxFromPortOption{
		ice.UDPMuxFromPortWithIPFilter(r.cfg.ipFilter()),
		ice.UDPMuxFromPortWithLogger(logger),
		ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4),
	}
	if r.cfg.IPv6 {
		opts[2] = ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4, ice.NetworkTypeUDP6)
	}
	if f := r.cfg.interfaceFilter(); f != nil {
		opts = append(opts, ice.UDPMuxFromPortWithInterfaceFilter(f))
	}
	if r.cfg.IncludeLoopback {
		opts = append(opts, ice.UDPMuxFromPortWithLoopback())
	}
	mux, err := ice.NewMultiUDPMuxFromPort(r.cfg.UDPPort, opts...)
	if err != nil {
		return nil, fmt.Errorf("relay: listen UDP port %d: %w", r.cfg.UDPPort, err)
	}
	if len(mux.GetListenAddresses()) == 0 {
		_ = mux.Close()
		return nil, fmt.Errorf("%w: no local address passes the filters (Interfaces, AllowedIPs, IncludeLoopback, IPv6)", ErrInvalidConfig)
	}
	return mux, nil
}

func (r *Relay) openTCPMux() error {
	network := "tcp4"
	if r.cfg.IPv6 {
		network = "tcp"
	}
	addr := net.JoinHostPort(r.cfg.ListenIP, strconv.Itoa(r.cfg.TCPPort))
	ln, err := net.Listen(network, addr)
	if err != nil {
		return fmt.Errorf("relay: listen TCP %s: %w", addr, err)
	}
	r.tcpLn = ln
	r.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{
		Listener:       ln,
		Logger:         r.logs.NewLogger("tcpmux"),
		ReadBufferSize: 8, // packets queued per connection
	})
	return nil
}

func (r *Relay) closePorts() error {
	var errs []error
	if r.udpMux != nil {
		errs = append(errs, r.udpMux.Close())
	}
	if r.tcpMux != nil {
		errs = append(errs, r.tcpMux.Close()) // closes the listener too
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Config returns the effective configuration (defaults filled in).
func (r *Relay) Config() Config { return r.cfg }

// Peers returns how many peers are alive (created and not yet closed).
func (r *Relay) Peers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.peers)
}

// Close closes every live peer, waits until they have stopped (their
// callbacks included) and releases the shared ports. It must not be called
// from a peer's callback. Calling it again returns nil.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	peers := make([]*Peer, 0, len(r.peers))
	for p := range r.peers {
		peers = append(peers, p)
	}
	r.mu.Unlock()

	for _, p := range peers {
		_ = p.Close()
	}
	for _, p := range peers {
		<-p.Done()
	}
	return r.closePorts()
}

func (r *Relay) forget(p *Peer) {
	r.mu.Lock()
	delete(r.peers, p)
	r.mu.Unlock()
}
