package relaynode

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
)

// Control link timing. Signaling pings every linkPing; either side that
// hears nothing for linkDead drops the link (and with it the link's peers),
// so a relay cut off by the network is noticed like one that died.
const (
	linkPing  = 2 * time.Second
	linkDead  = 3 * linkPing
	linkWrite = 5 * time.Second
	offerWait = 5 * time.Second
	peerQueue = 1024 // control messages waiting for one peer
	// maxLinkMsg fits the largest frame a browser may send once JSON has
	// escaped it (a control byte or an invalid UTF-8 byte becomes six
	// characters), so no browser can break the link its neighbours share.
	maxLinkMsg = 6*protocol.MaxFrameBytes + 4096
)

// HeartbeatPath is where signaling takes relay heartbeats; ControlPath is
// where a relay serves its control link.
const (
	HeartbeatPath = "/api/relays/heartbeat"
	ControlPath   = "/control"
)

// Authorized reports whether r carries "Authorization: Bearer <secret>".
// The comparison takes the same time whatever the header holds (hashes of
// equal length, compared in constant time).
func Authorized(r *http.Request, secret string) bool {
	if secret == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(secret))
	return ok && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// Node is a standalone relay: peers driven by signaling over control
// links, health and metrics endpoints, and a heartbeat to signaling.
type Node struct {
	cfg   config.Relay
	log   *slog.Logger
	relay *relay.Relay
	up    websocket.Upgrader
	hc    *http.Client
	reg   *prometheus.Registry
	met   nodeMetrics
	chat  *Chat // nil: chat frames are forwarded to signaling

	mu         sync.Mutex
	links      map[*nodeLink]struct{}
	draining   bool
	registered bool // the last heartbeat reached a signaling node
}

type nodeMetrics struct {
	frames     *prometheus.CounterVec
	heartbeats *prometheus.CounterVec
	links      prometheus.Gauge
	acks       prometheus.Histogram
}

// New builds a relay node and opens its WebRTC ports. With chat (see
// OpenChat) the relay commits its peers' sends and delivers their chat
// publications itself; with nil it forwards every frame to signaling.
func New(cfg config.Relay, log *slog.Logger, chat *Chat) (*Node, error) {
	rc := PionConfig(cfg.RTC)
	if cfg.LogLevel == "debug" {
		rc.LogLevel = "warn"
	}
	r, err := relay.New(rc)
	if err != nil {
		return nil, fmt.Errorf("WebRTC relay (PARLEY_RTC_*): %w", err)
	}
	n := &Node{
		cfg: cfg, log: log.With("relay", cfg.ID), relay: r, links: map[*nodeLink]struct{}{}, chat: chat,
		hc:  &http.Client{Timeout: cfg.Heartbeat},
		reg: prometheus.NewRegistry(),
		up:  websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096, HandshakeTimeout: 10 * time.Second},
	}
	n.met = nodeMetrics{
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_relay_frames_total", Help: "Data channel frames, by direction (in: from browsers, out: to browsers).",
		}, []string{"direction"}),
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_relay_heartbeats_total", Help: "Heartbeats sent to signaling, by result (ok, failed).",
		}, []string{"result"}),
		links: prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_relay_links", Help: "Signaling nodes connected over control links."}),
		acks: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_relay_ack_seconds", Help: "Sends committed by this relay: time from the frame to the ack (store commit included).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	if r, ok := chat.busResyncer(); ok {
		// Publications were lost while the bus was away: tell the clients
		// to resume, over their data channels, which stay (closing the
		// peers moved every client back to its WebSocket at each Redis
		// restart, issue 15 defect 4).
		r.OnResync(func() {
			n.log.Warn("bus reconnected: clients resume from the store")
			go n.resyncPeers()
		})
	}
	n.reg.MustRegister(n.met.frames, n.met.heartbeats, n.met.links, n.met.acks,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "parley_relay_peers", Help: "Live WebRTC peer connections."},
			func() float64 { return float64(r.Peers()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "parley_relay_calls", Help: "Calls (voice or screen share) this relay forwards."},
			n.calls),
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return n, nil
}

// Handler serves /control, /healthz, /readyz and /metrics.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+ControlPath, n.control)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", n.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such page", "code": "not_found"})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// readyz: ready while registered with signaling and not draining.
func (n *Node) readyz(w http.ResponseWriter, _ *http.Request) {
	n.mu.Lock()
	draining, registered := n.draining, n.registered
	n.mu.Unlock()
	switch {
	case draining:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "draining", "code": "unavailable"})
	case !registered:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "not registered with signaling yet", "code": "unavailable"})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

// Run serves on cfg.Addr and heartbeats until ctx ends, then drains: it
// tells signaling it is draining, closes every peer (their clients get
// rtc_stop, go on over the WebSocket and may renegotiate on another relay)
// and stops.
func (n *Node) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", n.cfg.Addr)
	if err != nil {
		n.relay.Close()
		return fmt.Errorf("listen on %s: %w", n.cfg.Addr, err)
	}
	return n.Serve(ctx, ln)
}

// Serve is Run on a listener of the caller's.
func (n *Node) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	n.log.Info("parley relay is up", "addr", ln.Addr().String(), "control_url", n.cfg.ControlURL,
		"signaling", n.cfg.SignalingURLs, "udp_port", n.cfg.RTC.RTCUDPPort, "tcp_port", n.cfg.RTC.RTCTCPPort,
		"loopback", n.cfg.RTC.RTCLoopback, "allowed_ips", n.cfg.RTC.RTCAllowedIPs, "public_ips", n.cfg.RTC.RTCPublicIPs)

	beat := time.NewTicker(n.cfg.Heartbeat)
	defer beat.Stop()
	n.heartbeat(ctx)
loop:
	for {
		select {
		case err := <-errc:
			n.relay.Close()
			return fmt.Errorf("http server: %w", err)
		case <-beat.C:
			n.heartbeat(ctx)
		case <-ctx.Done():
			break loop
		}
	}

	n.log.Info("draining: moving clients off this relay", "peers", n.relay.Peers())
	n.mu.Lock()
	n.draining = true
	n.mu.Unlock()
	dctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownGrace)
	defer cancel()
	n.heartbeat(dctx) // draining: signaling stops picking this relay
	n.relay.Close()   // every peer reports closed over its link first
	n.mu.Lock()
	for l := range n.links {
		l.goAway()
	}
	n.mu.Unlock()
	srv.Shutdown(dctx)
	n.log.Info("stopped")
	return nil
}

// heartbeat reports the relay's load to every signaling URL.
func (n *Node) heartbeat(ctx context.Context) {
	n.mu.Lock()
	info := Info{ID: n.cfg.ID, ControlURL: n.cfg.ControlURL, Links: len(n.links), Draining: n.draining,
		IntervalMs: n.cfg.Heartbeat.Milliseconds()}
	n.mu.Unlock()
	info.Peers = n.relay.Peers()
	body, _ := json.Marshal(info)
	ok := false
	for _, base := range n.cfg.SignalingURLs {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+HeartbeatPath, bytes.NewReader(body))
		if err != nil {
			continue
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+n.cfg.Secret)
		resp, err := n.hc.Do(req)
		if err != nil {
			n.log.Debug("heartbeat failed", "signaling", base, "err", err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			// 401: the secrets differ; 404: signaling has no PARLEY_RELAY_SECRET.
			n.log.Warn("signaling refused the heartbeat", "signaling", base, "status", resp.StatusCode)
			continue
		}
		ok = true
	}
	n.mu.Lock()
	was := n.registered
	n.registered = ok
	n.mu.Unlock()
	if ok {
		n.met.heartbeats.WithLabelValues("ok").Inc()
	} else {
		n.met.heartbeats.WithLabelValues("failed").Inc()
	}
	if ok && !was {
		n.log.Info("registered with signaling", "peers", info.Peers)
	} else if !ok && was {
		n.log.Warn("no signaling node took the heartbeat; retrying")
	}
}

// control upgrades a signaling node's control link.
func (n *Node) control(w http.ResponseWriter, r *http.Request) {
	if !Authorized(r, n.cfg.Secret) {
		n.log.Warn("control link refused: wrong or missing secret", "remote", r.RemoteAddr)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "relay secret required", "code": "unauthorized"})
		return
	}
	n.mu.Lock()
	draining := n.draining
	n.mu.Unlock()
	if draining {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "draining", "code": "unavailable"})
		return
	}
	ws, err := n.up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	l := &nodeLink{n: n, ws: ws, peers: map[string]*nodePeer{}, calls: map[string]*nodeCall{}, connecting: map[string]struct{}{}, log: n.log.With("signaling", r.RemoteAddr)}
	n.mu.Lock()
	n.links[l] = struct{}{}
	n.mu.Unlock()
	n.met.links.Inc()
	l.log.Info("signaling connected")
	l.run()
	n.mu.Lock()
	delete(n.links, l)
	n.mu.Unlock()
	n.met.links.Dec()
	l.log.Info("signaling disconnected")
}

// nodeLink is the relay's end of one signaling node's control link.
type nodeLink struct {
	n   *Node
	ws  *websocket.Conn
	log *slog.Logger
	wmu sync.Mutex

	mu    sync.Mutex
	peers map[string]*nodePeer
	calls map[string]*nodeCall // by call id (calls.go)
	// connecting reserves the ids of calls whose connect is under way.
	connecting map[string]struct{}

	callOps sync.WaitGroup // connect, hangup and call_stats in progress
}

// nodePeer is a peer and the queue of control messages for it, handled
// one at a time in order (an answer before the candidates that follow it)
// without holding up the link's other peers.
type nodePeer struct {
	id    string
	peer  *relay.Peer
	ops   chan msg
	owner *conversation.Participant // set when this relay commits the peer's chat (chat.go)
	conn  string                    // the subject of its per-connection message limit (signaling's connection id)

	mu   sync.Mutex
	subs map[string]func() // bus subscriptions; nil once closed

	opened   chan struct{} // closed once StateOpen is on the link
	openOnce sync.Once
}

func (l *nodeLink) run() {
	l.ws.SetReadLimit(maxLinkMsg)
	l.ws.SetReadDeadline(time.Now().Add(linkDead))
	l.ws.SetPingHandler(func(data string) error {
		l.ws.SetReadDeadline(time.Now().Add(linkDead))
		return l.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(linkWrite))
	})
	defer l.closePeers()
	for {
		var m msg
		if err := l.ws.ReadJSON(&m); err != nil {
			var syntax *json.SyntaxError
			if errors.As(err, &syntax) {
				l.log.Warn("bad control message; dropping the link", "err", err)
			}
			return
		}
		l.ws.SetReadDeadline(time.Now().Add(linkDead))
		switch m.Op {
		case opCreate:
			l.create(m)
			continue
		case opConnect, opHangup, opCallStats:
			l.callOps.Add(1)
			go l.callOp(m)
			continue
		}
		l.mu.Lock()
		p := l.peers[m.Peer]
		l.mu.Unlock()
		if p == nil {
			if m.Req != 0 {
				l.reply(m.Req, "", fmt.Errorf("peer %s: %w", m.Peer, relay.ErrClosed))
			}
			continue
		}
		select {
		case p.ops <- m:
		default:
			l.log.Warn("peer's control queue is full; closing the peer", "peer", m.Peer)
			p.peer.Close()
		}
	}
}

func (l *nodeLink) create(m msg) {
	l.mu.Lock()
	_, dup := l.peers[m.Peer]
	l.mu.Unlock()
	if dup || m.Peer == "" {
		l.reply(m.Req, "", errors.New("peer id missing or in use"))
		return
	}
	np := &nodePeer{id: m.Peer, conn: m.Conn, ops: make(chan msg, peerQueue), subs: map[string]func(){}, opened: make(chan struct{})}
	if np.conn == "" {
		np.conn = m.Peer
	}
	if l.n.chat != nil && m.Participant != nil {
		p := conversation.Participant(*m.Participant)
		np.owner = &p
	}
	peer, err := l.n.relay.NewPeer(relay.PeerOptions{
		ID:          m.Peer,
		Media:       m.Media,
		OnCandidate: func(c protocol.RTCCandidate) { l.write(msg{Op: opCandidate, Peer: np.id, Candidate: &c}) },
		OnFrame: func(channel string, data []byte) {
			// Frames come from the read loop, states from the peer's own
			// goroutine: hold a first frame until "open" is on the link, so
			// signaling never handles a frame of a channel it thinks shut
			// (and answers it over the WebSocket).
			select {
			case <-np.opened:
			case <-np.peer.Done():
				return
			}
			l.n.met.frames.WithLabelValues("in").Inc()
			// Only the ordered, reliable chat channel commits here; what
			// comes on signals (typing only) is checked by signaling.
			if channel != relay.ChannelChat || !np.chatFrame(l, data) {
				l.write(msg{Op: opFrame, Peer: np.id, Channel: channel, Data: string(data)})
			}
		},
		OnOversize: func(channel string, size int) {
			l.write(msg{Op: opOversize, Peer: np.id, Channel: channel, Size: size})
		},
		OnState: func(s relay.State) {
			if s == relay.StateClosed {
				l.mu.Lock()
				delete(l.peers, np.id)
				l.mu.Unlock()
				np.unsubscribe()
				l.endCallsOf(np.id)
			}
			l.write(msg{Op: opState, Peer: np.id, State: s.String()})
			if s == relay.StateOpen {
				np.openOnce.Do(func() { close(np.opened) })
			}
		},
	})
	if err != nil {
		l.reply(m.Req, "", err)
		return
	}
	np.peer = peer
	// Creates run one at a time on the read loop, so nothing has taken the
	// id since the check above.
	l.mu.Lock()
	l.peers[np.id] = np
	l.mu.Unlock()
	go np.work(l, m.Req)
}

// work answers the peer's create, then applies its control messages until
// the peer is done. Subscribing the owner's topics may wait on the store
// and Redis: it runs here, not on the link's read loop, whose pongs and
// other peers must not wait for it.
func (np *nodePeer) work(l *nodeLink, req uint64) {
	if np.owner != nil {
		if err := np.subscribe(l); err != nil {
			np.unsubscribe()
			np.peer.Close()
			l.reply(req, "", fmt.Errorf("subscribe the participant's topics: %w", err))
			return
		}
	}
	l.write(msg{Op: opReply, Req: req, Chat: np.owner != nil})
	for {
		select {
		case <-np.peer.Done():
			return
		case m := <-np.ops:
			np.apply(l, m)
		}
	}
}

func (np *nodePeer) apply(l *nodeLink, m msg) {
	switch m.Op {
	case opOffer:
		ctx, cancel := context.WithTimeout(context.Background(), offerWait)
		var (
			sdp string
			err error
		)
		if m.Restart {
			sdp, err = np.peer.Restart(ctx)
		} else {
			sdp, err = np.peer.Offer(ctx)
		}
		cancel()
		l.reply(m.Req, sdp, err)
	case opAnswer:
		l.reply(m.Req, "", np.peer.SetAnswer(m.SDP))
	case opCandidate:
		if m.Candidate == nil {
			l.reply(m.Req, "", fmt.Errorf("%w: no candidate", relay.ErrBadCandidate))
			return
		}
		l.reply(m.Req, "", np.peer.AddCandidate(*m.Candidate))
	case opSend:
		if err := np.send([]byte(m.Data), m.Channel == relay.ChannelSignals); err != nil {
			// The frame cannot reach the browser this way: end the peer,
			// so the client resends and resumes over its WebSocket.
			l.log.Debug("data channel send failed; closing the peer", "peer", np.id, "err", err)
			np.peer.Close()
			return
		}
		l.n.met.frames.WithLabelValues("out").Inc()
	case opClose:
		np.peer.Close()
	default:
		if m.Req != 0 {
			l.reply(m.Req, "", fmt.Errorf("unknown op %q", m.Op))
		}
	}
}

func (l *nodeLink) reply(req uint64, sdp string, err error) {
	m := msg{Op: opReply, Req: req, SDP: sdp}
	if err != nil {
		m.Error, m.Code = err.Error(), codeOf(err)
	}
	l.write(m)
}

// write sends one message; a link that cannot take it is dropped (its
// peers close and their clients fall back to the WebSocket).
func (l *nodeLink) write(m msg) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.ws.SetWriteDeadline(time.Now().Add(linkWrite))
	if err := l.ws.WriteJSON(m); err != nil {
		l.ws.Close()
	}
}

// goAway closes the link cleanly (drain).
func (l *nodeLink) goAway() {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "relay draining"), time.Now().Add(linkWrite))
	l.ws.Close()
}

// closePeers closes the link's peers: nobody can drive them any more.
func (l *nodeLink) closePeers() {
	l.ws.Close()
	l.mu.Lock()
	peers := make([]*nodePeer, 0, len(l.peers))
	for _, p := range l.peers {
		peers = append(peers, p)
	}
	l.mu.Unlock()
	for _, p := range peers {
		p.peer.Close()
	}
	for _, p := range peers {
		<-p.peer.Done()
	}
	l.callOps.Wait()
	l.mu.Lock()
	calls := l.calls
	l.calls = map[string]*nodeCall{}
	l.mu.Unlock()
	for _, c := range calls { // connected while its peers were closing
		c.call.Close()
	}
}

// resyncPeers sends every chat peer a resync frame: its client resumes
// every conversation from the store (the resume goes on to signaling) and
// keeps its data channel.
func (n *Node) resyncPeers() {
	frame, _ := json.Marshal(protocol.Resync{Envelope: protocol.Envelope{Type: protocol.TypeResync}})
	for _, p := range n.allPeers() {
		// A channel not open yet carries no publications to have lost.
		_ = p.peer.Send(frame)
	}
}

// allPeers copies out the peers of every link.
func (n *Node) allPeers() []*nodePeer {
	n.mu.Lock()
	links := make([]*nodeLink, 0, len(n.links))
	for l := range n.links {
		links = append(links, l)
	}
	n.mu.Unlock()
	// Writing to a peer waits on Pion: copy the peers out and use them
	// with no lock held.
	var peers []*nodePeer
	for _, l := range links {
		l.mu.Lock()
		for _, p := range l.peers {
			peers = append(peers, p)
		}
		l.mu.Unlock()
	}
	return peers
}

// calls counts the calls under way on every link.
func (n *Node) calls() float64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	total := 0
	for l := range n.links {
		total += l.callCount()
	}
	return float64(total)
}

// Close releases the relay's ports (for callers of New that do not Run).
func (n *Node) Close() error { return n.relay.Close() }
