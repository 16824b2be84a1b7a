package relay

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// loopbackConfig is the relay configuration for tests: loopback only, no
// multicast, quiet.
func loopbackConfig() Config {
	return Config{
		IncludeLoopback: true,
		AllowedIPs:      []string{"127.0.0.1"},
		LogLevel:        "error",
	}
}

func newTestRelay(t *testing.T, cfg Config) *Relay {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("relay Close: %v", err)
		}
	})
	return r
}

// relayEnd records what the relay side of one peer saw.
type relayEnd struct {
	peer     *Peer
	frames   chan string // chat frames received
	signals  chan string // signals frames received
	states   chan State
	oversize chan int

	// hooks run (when set) after recording, on the callback's goroutine.
	frameHook atomic.Pointer[func(channel string, data []byte)]
	stateHook atomic.Pointer[func(State)]
}

// clientOptions shape the Pion client standing in for a browser.
type clientOptions struct {
	// candidatesFirst: send every client candidate before the answer.
	candidatesFirst bool
	// relayOnly and iceServers: reach the relay through TURN only.
	relayOnly  bool
	iceServers []webrtc.ICEServer
	// net lets a test cut the client's network.
	net transport.Net
	// timeouts for ICE (0: Pion's defaults).
	disconnected, failed, keepalive time.Duration
	// maxMessageSize the client announces (0: Pion's 1 GiB default).
	maxMessageSize uint32
	// tcpOnly: the client uses ICE over TCP only.
	tcpOnly bool
	// beforeAnswer runs on the client's signaling goroutine just before
	// its answer goes to the relay.
	beforeAnswer func()
	// noCleanup: the test closes peer and client itself.
	noCleanup bool
	// media: both ends can carry calls (the client with Pion's default
	// codecs); onOffer runs after each offer is applied, before the
	// answer is made (a call's tracks are attached there).
	media   bool
	onOffer func(pc *webrtc.PeerConnection)
}

// testClient is a Pion peer playing the browser: it answers the relay's
// offers and trickles its candidates. Signaling travels over two Go
// channels standing in for the client's WebSocket.
type testClient struct {
	pc        *webrtc.PeerConnection
	toClient  chan any // frames from "signaling" to the client
	toRelay   chan any // frames from the client to "signaling"
	chat      atomic.Pointer[webrtc.DataChannel]
	signals   atomic.Pointer[webrtc.DataChannel]
	chatOpen  chan struct{}
	frames    chan string
	sigFrames chan string
	answers   atomic.Int32
	// relay candidates received by trickle, and whether the last one
	// (end of candidates) came
	candidates      atomic.Int32
	endOfCandidates atomic.Bool
	pumpsDone       sync.WaitGroup
	stopPumps       context.CancelFunc
	sentAnswers     chan string
	onOffer         func(pc *webrtc.PeerConnection)
}

func clientAPI(o clientOptions) *webrtc.API {
	var se webrtc.SettingEngine
	se.LoggerFactory = &logging.DefaultLoggerFactory{DefaultLogLevel: logging.LogLevelError, ScopeLevels: map[string]logging.LogLevel{}}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if o.tcpOnly {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	}
	if o.maxMessageSize != 0 {
		se.SetSCTPMaxMessageSize(o.maxMessageSize)
	}
	if o.net != nil {
		se.SetNet(o.net)
	}
	if o.disconnected != 0 {
		se.SetICETimeouts(o.disconnected, o.failed, o.keepalive)
	}
	m := &webrtc.MediaEngine{}
	if o.media {
		if err := m.RegisterDefaultCodecs(); err != nil {
			panic(err)
		}
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se),
		webrtc.WithMediaEngine(m),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
}

// connect creates a relay peer and a client, runs the offer/answer and
// candidate exchange, and returns once both have their chat channel open.
func connect(t *testing.T, r *Relay, o clientOptions) (*relayEnd, *testClient) {
	t.Helper()
	end, c := startPair(t, r, o)
	waitOpen(t, end, c)
	return end, c
}

func waitOpen(t *testing.T, end *relayEnd, c *testClient) {
	t.Helper()
	waitState(t, end, StateOpen)
	select {
	case <-c.chatOpen:
	case <-time.After(10 * time.Second):
		t.Fatal("client chat channel did not open within 10s")
	}
}

// startPair wires a relay peer and a client and sends the first offer, but
// does not wait for the channel to open.
func startPair(t *testing.T, r *Relay, o clientOptions) (*relayEnd, *testClient) {
	t.Helper()
	end := &relayEnd{
		frames:   make(chan string, 1024),
		signals:  make(chan string, 1024),
		states:   make(chan State, 16),
		oversize: make(chan int, 4),
	}
	c := &testClient{
		toClient:    make(chan any, 256),
		toRelay:     make(chan any, 256),
		chatOpen:    make(chan struct{}),
		frames:      make(chan string, 1024),
		sigFrames:   make(chan string, 1024),
		sentAnswers: make(chan string, 4),
		onOffer:     o.onOffer,
	}
	peer, err := r.NewPeer(PeerOptions{
		ID:          t.Name(),
		OnCandidate: func(rc protocol.RTCCandidate) { c.toClient <- rc },
		OnFrame: func(channel string, data []byte) {
			if channel == ChannelChat {
				end.frames <- string(data)
			} else {
				end.signals <- string(data)
			}
			if h := end.frameHook.Load(); h != nil {
				(*h)(channel, data)
			}
		},
		OnOversize: func(_ string, size int) { end.oversize <- size },
		OnState: func(s State) {
			end.states <- s
			if h := end.stateHook.Load(); h != nil {
				(*h)(s)
			}
		},
		Media: o.media,
	})
	if err != nil {
		t.Fatalf("NewPeer: %v", err)
	}
	end.peer = peer

	cfg := webrtc.Configuration{ICEServers: o.iceServers}
	if o.relayOnly {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := clientAPI(o).NewPeerConnection(cfg)
	if err != nil {
		t.Fatalf("client NewPeerConnection: %v", err)
	}
	c.pc = pc
	var opened sync.Once
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		switch dc.Label() {
		case ChannelChat:
			c.chat.Store(dc)
			dc.OnOpen(func() { opened.Do(func() { close(c.chatOpen) }) })
			dc.OnMessage(func(m webrtc.DataChannelMessage) { c.frames <- string(m.Data) })
		case ChannelSignals:
			c.signals.Store(dc)
			dc.OnMessage(func(m webrtc.DataChannelMessage) { c.sigFrames <- string(m.Data) })
		}
	})
	var holdCandidates atomic.Bool
	var held []protocol.RTCCandidate
	var heldMu sync.Mutex
	holdCandidates.Store(o.candidatesFirst)
	pc.OnICECandidate(func(ic *webrtc.ICECandidate) {
		rc := protocol.RTCCandidate{Envelope: protocol.Envelope{Type: protocol.TypeRTCCandidate}}
		if ic != nil {
			init := ic.ToJSON()
			rc.Candidate, rc.SDPMid, rc.SDPMLineIndex = init.Candidate, init.SDPMid, init.SDPMLineIndex
		}
		if holdCandidates.Load() {
			heldMu.Lock()
			held = append(held, rc)
			heldMu.Unlock()
			return
		}
		c.toRelay <- rc
	})

	ctx, cancel := context.WithCancel(context.Background())
	c.stopPumps = cancel
	c.pumpsDone.Add(2)
	// The client's side of the WebSocket.
	go func() {
		defer c.pumpsDone.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case f := <-c.toClient:
				switch f := f.(type) {
				case protocol.RTCOffer:
					answer, err := c.answer(f.SDP)
					if err != nil {
						t.Errorf("client answer: %v", err)
						continue
					}
					if o.candidatesFirst {
						<-webrtc.GatheringCompletePromise(pc)
						heldMu.Lock()
						for _, rc := range held {
							c.toRelay <- rc
						}
						held = nil
						heldMu.Unlock()
						holdCandidates.Store(false)
					}
					if o.beforeAnswer != nil {
						o.beforeAnswer()
					}
					c.sentAnswers <- answer
					c.toRelay <- protocol.RTCAnswer{Envelope: protocol.Envelope{Type: protocol.TypeRTCAnswer}, SDP: answer}
				case protocol.RTCCandidate:
					c.candidates.Add(1)
					if f.Candidate == "" {
						c.endOfCandidates.Store(true)
					}
					err := pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: f.Candidate, SDPMid: f.SDPMid, SDPMLineIndex: f.SDPMLineIndex, UsernameFragment: f.UsernameFragment})
					if err != nil && pc.ConnectionState() != webrtc.PeerConnectionStateClosed {
						t.Errorf("client AddICECandidate(%q): %v", f.Candidate, err)
					}
				}
			}
		}
	}()
	// The signaling server's side: hands frames to the relay peer.
	go func() {
		defer c.pumpsDone.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case f := <-c.toRelay:
				switch f := f.(type) {
				case protocol.RTCAnswer:
					if err := peer.SetAnswer(f.SDP); err != nil && !errors.Is(err, ErrClosed) {
						t.Errorf("SetAnswer: %v", err)
					}
				case protocol.RTCCandidate:
					if err := peer.AddCandidate(f); err != nil && !errors.Is(err, ErrClosed) {
						t.Errorf("AddCandidate(%q): %v", f.Candidate, err)
					}
				}
			}
		}
	}()
	if !o.noCleanup {
		t.Cleanup(c.close)
		t.Cleanup(func() { _ = peer.Close(); <-peer.Done() })
	}

	offerAgain(t, end, c, false)
	return end, c
}

// offerAgain makes an offer (or an ICE restart) and sends it to the client.
func offerAgain(t *testing.T, end *relayEnd, c *testClient, restart bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var sdp string
	var err error
	if restart {
		sdp, err = end.peer.Restart(ctx)
	} else {
		sdp, err = end.peer.Offer(ctx)
	}
	if err != nil {
		t.Fatalf("offer (restart=%v): %v", restart, err)
	}
	c.toClient <- protocol.RTCOffer{Envelope: protocol.Envelope{Type: protocol.TypeRTCOffer}, SDP: sdp}
}

// answer applies an offer and returns the answer as created (without
// candidates: they trickle).
func (c *testClient) answer(offer string) (string, error) {
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", err
	}
	if c.onOffer != nil {
		c.onOffer(c.pc)
	}
	answer, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	if err := c.pc.SetLocalDescription(answer); err != nil {
		return "", err
	}
	c.answers.Add(1)
	return answer.SDP, nil
}

func (c *testClient) close() {
	c.stopPumps()
	c.pumpsDone.Wait()
	_ = c.pc.GracefulClose()
}

func (c *testClient) send(t *testing.T, s string) {
	t.Helper()
	if err := c.chat.Load().SendText(s); err != nil {
		t.Fatalf("client send: %v", err)
	}
}

func nowForTURN() time.Time { return time.Now() }

// onFreePorts opens a relay with UDPPort and/or TCPPort set to free
// ports, retrying when another process takes a port between our probe and
// the relay's bind (other tests run on this machine too). The caller
// closes the relay; cfg is returned with the ports used.
func onFreePorts(t *testing.T, cfg Config, udp, tcp bool) (*Relay, Config) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		if udp {
			cfg.UDPPort = freeUDPPort(t)
		}
		if tcp {
			cfg.TCPPort = freeTCPPort(t)
		}
		r, err := New(cfg)
		if err == nil {
			return r, cfg
		}
		if !strings.Contains(err.Error(), "address already in use") || attempt == 9 {
			t.Fatalf("New: %v", err)
		}
	}
}

// newTestRelayOnFreePorts is onFreePorts, closed when the test ends.
func newTestRelayOnFreePorts(t *testing.T, cfg Config, udp, tcp bool) (*Relay, Config) {
	t.Helper()
	r, cfg := onFreePorts(t, cfg, udp, tcp)
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("relay Close: %v", err)
		}
	})
	return r, cfg
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).Port
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitState(t *testing.T, end *relayEnd, want State) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case s := <-end.states:
			if s == want {
				return
			}
		case <-deadline:
			t.Fatalf("peer did not reach state %v within 15s (now %v)", want, end.peer.State())
		}
	}
}

func recv(t *testing.T, ch <-chan string, what string) string {
	t.Helper()
	return recvWithin(t, ch, what, 10*time.Second)
}

func recvWithin(t *testing.T, ch <-chan string, what string, d time.Duration) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(d):
		t.Fatalf("no %s within %v", what, d)
		return ""
	}
}

// pausableNet is the host network with a switch that silently drops every
// UDP packet in and out, to make ICE fail on purpose.
type pausableNet struct {
	*stdnet.Net
	paused atomic.Bool
}

func newPausableNet(t *testing.T) *pausableNet {
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	return &pausableNet{Net: n}
}

func (n *pausableNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	conn, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &pausableConn{UDPConn: conn, paused: &n.paused}, nil
}

type pausableConn struct {
	transport.UDPConn
	paused *atomic.Bool
}

func (c *pausableConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(p)
		if err != nil || !c.paused.Load() {
			return n, addr, err
		}
	}
}

func (c *pausableConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.paused.Load() {
		return len(p), nil
	}
	return c.UDPConn.WriteTo(p, addr)
}
