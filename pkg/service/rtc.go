package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
	"github.com/parleychat/parley/pkg/relaynode"
	"github.com/parleychat/parley/pkg/turn"
)

// WebRTC data channels for chat. A client that wants one sends rtc_start
// over its WebSocket; the connection then owns one relay peer (at most),
// negotiated over the same WebSocket (rtc_offer, rtc_answer,
// rtc_candidate). While the peer's chat channel is open:
//
//   - frames the browser sends on it go through the same handler as
//     WebSocket frames, one at a time with them (c.handling), so a client's
//     acks keep the order of its sends whatever carried them;
//   - replies go back the way their frame came; chat publications
//     (messages, typing) go over the data channel; everything whose loss a
//     resume cannot repair (conversation and queue updates, welcome,
//     negotiation) stays on the WebSocket.
//
// When the peer fails, closes or does not open within the timeout, the
// connection sends rtc_stop and goes back to the WebSocket alone. Nothing
// is lost: the client resends unacked sends by client_id (the conversation
// service acks a resend with the original seq) and resumes every
// conversation from its last contiguous seq.

// Transport labels (metrics, logs).
const (
	transportWebSocket   = "websocket"
	transportDataChannel = "datachannel"
)

// rtcOfferWait bounds Offer (candidate gathering) so a stuck gatherer
// cannot hold the connection's reader.
const rtcOfferWait = 5 * time.Second

// rtcLink is a connection's relay peer: in process or on a standalone
// relay (relaynode.Peers). Its fields are guarded by conn.mu.
type rtcLink struct {
	peer   relaynode.Peer
	open   bool        // the chat channel is open: chat frames use it
	reason string      // why we ended it, for rtc_stop
	quiet  bool        // ended by the client or with the connection: no rtc_stop
	timer  *time.Timer // gives up when the channel does not open in time
	// delivers: a standalone relay with the fleet's store and bus commits
	// this client's sends and delivers its chat publications itself.
	delivers bool
	// Renegotiation for calls (call.go) and ICE restarts: an offer awaits
	// its answer, and another one is due once it comes. The peer keeps one
	// pending offer, so a second one sent before that answer would take it.
	negotiating, again bool
	// restartBy is set while an ICE restart waits for that answer (by whom,
	// and the rtc_start's ref).
	restartBy, restartRef string
	// restarts counts ICE restarts since the channel was last open: a
	// connection that keeps failing is given up instead.
	restarts int
}

// maxRTCRestarts bounds the ICE restarts tried for one outage; then chat
// stays on the WebSocket and the client retries WebRTC later.
const maxRTCRestarts = 2

// rtcMetrics count frames by transport: the proof, for operators and
// tests, of what carried the chat.
type rtcMetrics struct {
	frames   *prometheus.CounterVec
	peers    prometheus.Counter
	stops    *prometheus.CounterVec
	restarts *prometheus.CounterVec
	signals  *prometheus.CounterVec
}

func newRTCMetrics(reg *prometheus.Registry) *rtcMetrics {
	m := &rtcMetrics{
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_transport_frames_total",
			Help: "Frames by transport (websocket, datachannel), direction (in: from clients, out: to clients) and, for in, frame type.",
		}, []string{"transport", "direction", "type"}),
		peers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_rtc_peers_total", Help: "WebRTC peers created (rtc_start).",
		}),
		stops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_rtc_fallbacks_total", Help: "Data channels given up by the server, by reason (chat went back to the WebSocket).",
		}, []string{"reason"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_rtc_ice_restarts_total", Help: "ICE restarts offered on a live peer, by who saw the failure (relay: ICE failed on the relay; client: the browser asked).",
		}, []string{"by"}),
		signals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_rtc_signal_frames_total", Help: "Typing frames on the unordered signals data channel, by direction (in: from clients, out: to clients).",
		}, []string{"direction"}),
	}
	reg.MustRegister(m.frames, m.peers, m.stops, m.restarts, m.signals)
	return m
}

// NewRelay builds the in-process relay from the configuration, or returns
// nil when WebRTC is off (PARLEY_RTC=off). Close it after the server has
// drained.
func NewRelay(cfg config.Config, log *slog.Logger) (*relay.Relay, error) {
	if !cfg.RTC {
		log.Info("WebRTC is off (PARLEY_RTC=off): chat uses WebSockets only")
		return nil, nil
	}
	if cfg.RelaySecret != "" {
		log.Info("WebRTC through standalone relays (PARLEY_RELAY_SECRET is set): no in-process relay")
		return nil, nil
	}
	r, err := relay.New(relaynode.PionConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("WebRTC relay (PARLEY_RTC_*): %w", err)
	}
	log.Info("WebRTC relay is up", "udp_port", cfg.RTCUDPPort, "tcp_port", cfg.RTCTCPPort, "loopback", cfg.RTCLoopback,
		"allowed_ips", cfg.RTCAllowedIPs, "public_ips", cfg.RTCPublicIPs)
	return r, nil
}

// NewRelayPool returns signaling's pool of standalone relays when
// PARLEY_RELAY_SECRET is set (and WebRTC is on), else nil. Relays register
// through its heartbeat route; with Redis (rdb not nil) every signaling
// node shares the registry. Close it after the server has drained.
func NewRelayPool(cfg config.Config, rdb *redis.Client, log *slog.Logger) *relaynode.Pool {
	if !cfg.RTC || cfg.RelaySecret == "" {
		return nil
	}
	var reg relaynode.Registry = relaynode.NewMemory()
	if rdb != nil {
		reg = relaynode.NewRedis(rdb, "")
	}
	return relaynode.NewPool(reg, cfg.RelaySecret, log)
}

// relayHeartbeat takes standalone relays' heartbeats (relaynode.Pool).
func (s *Server) relayHeartbeat(c *gin.Context) {
	if s.relayPool == nil {
		apiError(c, http.StatusNotFound, "not_found", "this server takes no relays (set PARLEY_RELAY_SECRET)")
		return
	}
	s.relayPool.HandleHeartbeat(c.Writer, c.Request)
}

// ICEConfig is the ICE server list configuration handed to browsers.
func ICEConfig(cfg config.Config) turn.Config {
	return turn.Config{STUNURLs: cfg.STUNURLs, TURNURLs: cfg.TURNURLs, Secret: cfg.TURNSecret, TTL: cfg.TURNTTL}
}

// handleRTC serves the negotiation frames (from the WebSocket reader,
// holding c.handling).
func (c *conn) handleRTC(f any) {
	if c.srv.peers == nil {
		// No relay on this node: the client stays on the WebSocket.
		c.reply(protocol.RTCStop{Envelope: protocol.Envelope{Type: protocol.TypeRTCStop}, Reason: "webrtc is not enabled on this server"})
		return
	}
	switch f := f.(type) {
	case *protocol.RTCStart:
		if f.Restart {
			if l := c.currentRTC(); l != nil {
				c.restartRTC(l, f.Ref, "client")
				return
			}
		}
		c.rtcStart(f.Ref)
	case *protocol.RTCAnswer:
		l := c.currentRTC()
		if l == nil {
			return // ended meanwhile (timeout, failure): rtc_stop is on its way
		}
		if err := l.peer.SetAnswer(f.SDP); err != nil {
			c.rtcInputError(err, f.Ref, "rtc_answer")
		} else {
			c.answered(l) // call.go
		}
	case *protocol.RTCCandidate:
		l := c.currentRTC()
		if l == nil {
			return
		}
		if err := l.peer.AddCandidate(*f); err != nil {
			c.rtcInputError(err, f.Ref, "rtc_candidate")
		}
	case *protocol.RTCStop:
		c.mu.Lock()
		l := c.rtc
		if l != nil {
			l.quiet = true
		}
		c.mu.Unlock()
		if l != nil {
			c.endRTC(l, "stopped by the client")
		}
	}
}

// rtcInputError answers bad negotiation input with an error frame; benign
// races (the peer ended, no offer pending) are not the client's fault and
// get none.
func (c *conn) rtcInputError(err error, ref, what string) {
	if errors.Is(err, relay.ErrClosed) || errors.Is(err, relay.ErrNoOffer) {
		c.log.Debug("late WebRTC input ignored", "frame", what, "err", err)
		return
	}
	c.reply(protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError, Ref: ref}, Code: protocol.CodeInvalid,
		Message: what + ": " + err.Error()})
}

func (c *conn) currentRTC() *rtcLink {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rtc
}

// rtcStart creates the connection's peer (replacing an earlier one) and
// sends the relay's offer with this client's ICE servers.
func (c *conn) rtcStart(ref string) {
	if old := c.currentRTC(); old != nil {
		c.mu.Lock()
		old.quiet = true
		c.mu.Unlock()
		c.endRTC(old, "replaced by a new rtc_start")
	}
	l := &rtcLink{}
	ctx, cancel := context.WithTimeout(context.Background(), rtcOfferWait)
	defer cancel()
	// Connection: a relay that commits this client's sends counts them
	// against the same per-connection limit as its WebSocket frames.
	owner := relaynode.Owner{Participant: c.p, Connection: c.id}
	if c.srv.relayPool != nil { // only standalone relays pick by conversation
		owner.Conversations = c.rtcConversations(ctx)
	}
	peer, err := c.srv.peers.NewPeer(ctx, owner, relay.PeerOptions{
		ID:          c.id,
		OnCandidate: func(rc protocol.RTCCandidate) { c.queueFrame(rc, true) },
		OnFrame: func(channel string, data []byte) {
			if channel != relay.ChannelSignals || c.signalIn(data) {
				c.onRTCFrame(l, data)
			}
		},
		OnOversize: func(_ string, size int) {
			c.queueFrame(protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError}, Code: protocol.CodeTooBig,
				Message: fmt.Sprintf("data channel message is %d bytes; the limit is %d", size, protocol.MaxFrameBytes)}, false)
		},
		OnState: func(s relay.State) { c.onRTCState(l, s) },
		Media:   true, // calls (call.go) renegotiate this peer
	})
	if err != nil {
		c.log.Warn("cannot create a WebRTC peer", "err", err)
		c.reply(protocol.RTCStop{Envelope: protocol.Envelope{Type: protocol.TypeRTCStop, Ref: ref}, Reason: "relay unavailable"})
		return
	}
	l.peer = peer
	l.delivers = peer.DeliversChat()
	c.mu.Lock()
	if c.rtcEnded {
		c.mu.Unlock()
		_ = peer.Close()
		return
	}
	c.rtc = l
	c.mu.Unlock()
	c.srv.rtcMetrics.peers.Inc()

	ctx, cancel = context.WithTimeout(context.Background(), rtcOfferWait)
	sdp, err := peer.Offer(ctx)
	cancel()
	if err != nil {
		c.log.Warn("WebRTC offer failed", "err", err)
		c.endRTC(l, "offer failed")
		return
	}
	c.armRTCTimer(l, "not open")
	c.reply(protocol.RTCOffer{Envelope: protocol.Envelope{Type: protocol.TypeRTCOffer, Ref: ref}, SDP: sdp,
		ICEServers: turn.ICEServers(c.srv.ice, c.p.ID, time.Now()), ICETransportPolicy: c.srv.iceTransportPolicy()})
}

// iceTransportPolicy is what rtc_offer tells browsers: "relay" when the
// operator limits them to TURN (PARLEY_ICE_TRANSPORT_POLICY), else nothing
// (the browser's default, all).
func (s *Server) iceTransportPolicy() string {
	if s.cfg.ICETransportPolicy == "relay" {
		return "relay"
	}
	return ""
}

// armRTCTimer gives the peer up when its chat channel is not open within
// the timeout (PARLEY_RTC_TIMEOUT) after an offer; what says which.
func (c *conn) armRTCTimer(l *rtcLink, what string) {
	timeout := c.srv.cfg.RTCTimeout
	if timeout <= 0 { // a Config not made by config.Load
		timeout = 10 * time.Second
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.open || c.rtc != l {
		return
	}
	if l.timer != nil {
		l.timer.Stop()
	}
	l.timer = time.AfterFunc(timeout, func() {
		c.mu.Lock()
		open := l.open
		c.mu.Unlock()
		if !open {
			c.endRTC(l, fmt.Sprintf("data channel %s after %v", what, timeout))
		}
	})
}

// rtcConversations are the conversations the connection chats in now (a
// visitor's that are not closed, an agent's own open ones), so that its
// peer lands on the relay of the other side of them.
func (c *conn) rtcConversations(ctx context.Context) []string {
	convs, err := c.srv.conv.Visible(ctx, c.p)
	if err != nil {
		return nil
	}
	var out []string
	for _, cv := range convs {
		switch {
		case c.p.Kind == protocol.AuthorVisitor && cv.Status != protocol.ConversationClosed,
			c.p.Kind == protocol.AuthorAgent && cv.Status == protocol.ConversationOpen && cv.AgentID == c.p.ID:
			out = append(out, cv.ID)
		}
	}
	return out
}

// endRTC closes a peer for reason; its StateClosed report then sends
// rtc_stop (unless quiet) and returns chat to the WebSocket.
func (c *conn) endRTC(l *rtcLink, reason string) {
	c.mu.Lock()
	if l.reason == "" {
		l.reason = reason
	}
	if l.timer != nil {
		l.timer.Stop()
	}
	c.mu.Unlock()
	if err := l.peer.Close(); err != nil {
		c.log.Debug("close WebRTC peer", "err", err)
	}
}

// onRTCState follows the peer: open → chat frames use the data channel;
// failed → give up; closed → back to the WebSocket, tell the client.
func (c *conn) onRTCState(l *rtcLink, s relay.State) {
	switch s {
	case relay.StateOpen:
		c.mu.Lock()
		current := c.rtc == l && !c.rtcEnded
		if current {
			l.open = true
			if l.timer != nil {
				l.timer.Stop()
			}
			l.restarts = 0
			l.restartBy, l.restartRef = "", "" // recovered by itself
		}
		c.mu.Unlock()
		if current {
			c.srv.countTransport(c, transportDataChannel)
			c.log.Debug("chat over the WebRTC data channel")
		}
	case relay.StateFailed:
		c.restartRTC(l, "", "relay")
	case relay.StateClosed:
		c.mu.Lock()
		current := c.rtc == l
		if current {
			c.rtc = nil
		}
		if l.timer != nil {
			l.timer.Stop()
		}
		wasOpen := l.open
		l.open = false
		reason, quiet := l.reason, l.quiet || c.rtcEnded
		c.mu.Unlock()
		if wasOpen {
			c.srv.countTransport(c, transportWebSocket)
		}
		// A call cannot outlive its peer, open or not: one closing during
		// an ICE restart (not open any more) still carries the call.
		c.srv.dropCalls(c)
		if reason == "" {
			reason = "data channel closed"
		}
		if current && !quiet {
			c.srv.rtcMetrics.stops.WithLabelValues(stopLabel(reason)).Inc()
			c.log.Debug("chat back on the WebSocket", "reason", reason)
			c.queueFrame(protocol.RTCStop{Envelope: protocol.Envelope{Type: protocol.TypeRTCStop}, Reason: reason}, true)
		}
	}
}

// restartRTC answers a failed connection while the WebSocket lives: the
// relay offers an ICE restart on the same peer (new ICE credentials and
// candidates, same DTLS, SCTP and data channels). Until the channel is
// open again chat goes over the WebSocket (the client resends and resumes
// on its side). A peer that cannot restart, or one that already failed
// maxRTCRestarts times in a row, is ended as before.
func (c *conn) restartRTC(l *rtcLink, ref, by string) {
	c.mu.Lock()
	current := c.rtc == l && !c.rtcEnded && !c.draining
	tooMany := l.restarts >= maxRTCRestarts
	wait := false
	if current && !tooMany {
		if l.negotiating {
			wait = true
			l.restartBy, l.restartRef = by, ref
		} else {
			l.restarts++
			l.negotiating = true
		}
	}
	wasOpen := l.open
	l.open = false
	c.mu.Unlock()
	switch {
	case !current:
		return
	case tooMany:
		c.endRTC(l, "connection failed")
		return
	}
	if wasOpen {
		c.srv.countTransport(c, transportWebSocket)
	}
	if wait {
		// A call's offer awaits its answer (it comes over the WebSocket,
		// whatever ICE does): answered sends the restart then.
		c.log.Debug("ICE restart waits for the pending offer's answer", "by", by)
		c.armRTCTimer(l, "not open again")
		return
	}
	c.srv.rtcMetrics.restarts.WithLabelValues(by).Inc()
	ctx, cancel := context.WithTimeout(context.Background(), rtcOfferWait)
	sdp, err := l.peer.Restart(ctx)
	cancel()
	if err != nil {
		c.mu.Lock()
		l.negotiating = false
		c.mu.Unlock()
		c.log.Debug("ICE restart offer failed", "err", err)
		c.endRTC(l, "connection failed")
		return
	}
	c.log.Debug("ICE restart offered", "by", by)
	c.armRTCTimer(l, "not open again")
	c.queueFrame(protocol.RTCOffer{Envelope: protocol.Envelope{Type: protocol.TypeRTCOffer, Ref: ref}, SDP: sdp,
		ICEServers: turn.ICEServers(c.srv.ice, c.p.ID, time.Now()), ICETransportPolicy: c.srv.iceTransportPolicy()}, true)
}

// stopLabel keeps the fallback reasons a small, fixed set of label values.
func stopLabel(reason string) string {
	switch {
	case reason == "connection failed", reason == "offer failed", reason == "data channel closed":
		return reason
	case strings.HasPrefix(reason, "data channel not open"):
		return "timeout"
	}
	return "other"
}

// onRTCFrame handles a frame from the data channel like one from the
// WebSocket, in turn with them.
func (c *conn) onRTCFrame(l *rtcLink, data []byte) {
	c.handling.Lock()
	defer c.handling.Unlock()
	c.mu.Lock()
	skip := c.draining || c.rtc != l
	c.mu.Unlock()
	select {
	case <-c.done:
		skip = true
	default:
	}
	if skip {
		return
	}
	c.via = transportDataChannel
	defer func() { c.via = transportWebSocket }()
	c.handle(data)
}

// allowedHere reports whether frame f may arrive on the transport being
// read; the data channel carries chat frames only (hello and the WebRTC
// negotiation belong to the WebSocket).
func (c *conn) allowedHere(f any) bool {
	if c.via != transportDataChannel {
		return true
	}
	switch f.(type) {
	case *protocol.Hello, *protocol.RTCStart, *protocol.RTCAnswer, *protocol.RTCCandidate, *protocol.RTCStop:
		c.reply(protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError, Ref: refOf(f)}, Code: protocol.CodeInvalid,
			Message: "only chat frames travel on the data channel; send this one over the WebSocket"})
		return false
	}
	return true
}

// endRTCWithConn closes the peer when the connection ends, and keeps a
// late rtc_start from making a new one.
func (c *conn) endRTCWithConn() {
	c.mu.Lock()
	c.rtcEnded = true
	l := c.rtc
	if l != nil {
		l.quiet = true
	}
	c.mu.Unlock()
	if l != nil {
		c.endRTC(l, "connection closed")
		<-l.peer.Done() // its callbacks may still touch the connection
	}
}

// queueFrame queues a frame that answers no request (a trickled
// candidate, rtc_stop, an oversize report): like a publication, a client
// too slow to take it is disconnected.
func (c *conn) queueFrame(v any, wsOnly bool) {
	b, err := json.Marshal(v)
	if err != nil {
		c.log.Error("encode frame", "err", err)
		return
	}
	if f, ok := v.(protocol.Error); ok {
		c.srv.metrics.errors.WithLabelValues(f.Code).Inc()
	}
	c.enqueue(outFrame{data: b, wsOnly: wsOnly})
}

// typingPrefix starts every typing frame the server encodes
// (protocol.Typing: json.Marshal writes the embedded Envelope's type
// first). A typing frame that did not match would only take the chat
// channel, which is always correct.
var typingPrefix = []byte(`{"type":"` + protocol.TypeTyping + `"`)

// signalIn checks a frame from the signals channel: typing only, since
// that channel may lose or reorder what it carries (a lost typing frame is
// superseded by the next; a lost send would not be).
func (c *conn) signalIn(data []byte) bool {
	c.srv.rtcMetrics.signals.WithLabelValues("in").Inc()
	var env protocol.Envelope
	if json.Unmarshal(data, &env) == nil && env.Type == protocol.TypeTyping {
		return true
	}
	c.queueFrame(protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError, Ref: env.Ref}, Code: protocol.CodeInvalid,
		Message: "only typing frames travel on the signals data channel; send this one on the chat channel or the WebSocket"}, false)
	return false
}

// sendRTC writes a frame on the data channel when it is open (typing on
// the signals channel when it is open too). False: use the WebSocket.
func (c *conn) sendRTC(data []byte) bool {
	c.mu.Lock()
	l := c.rtc
	open := l != nil && l.open
	c.mu.Unlock()
	if !open {
		return false
	}
	if bytes.HasPrefix(data, typingPrefix) && l.peer.SendSignal(data) == nil {
		c.srv.rtcMetrics.signals.WithLabelValues("out").Inc()
		c.srv.rtcMetrics.frames.WithLabelValues(transportDataChannel, "out", "").Inc()
		return true
	}
	if err := l.peer.Send(data); err != nil {
		if errors.Is(err, relay.ErrSendBufferFull) {
			// The browser does not read its channel: give it up, the
			// client resumes over the WebSocket.
			go c.endRTC(l, "data channel send buffer full")
		}
		c.log.Debug("data channel send failed; using the WebSocket", "err", err)
		return false
	}
	c.srv.rtcMetrics.frames.WithLabelValues(transportDataChannel, "out", "").Inc()
	return true
}

// chatPublication reports whether a publication may travel on the data
// channel (relaynode.ChatPublication: messages and typing).
var chatPublication = relaynode.ChatPublication

// relayDelivers reports whether the connection's open data channel is on a
// relay that delivers its chat publications itself: signaling then leaves
// them out (it still sends everything else). When the channel closes the
// client resumes, so what neither sent in between is not lost.
func (c *conn) relayDelivers() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rtc != nil && c.rtc.open && c.rtc.delivers
}

// countTransport moves a live connection in the connections gauge to the
// transport that now carries its chat.
func (s *Server) countTransport(c *conn, transport string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, live := s.conns[c]; !live || c.counted == transport {
		return
	}
	s.metrics.connections.WithLabelValues(c.p.Kind, c.counted).Dec()
	s.metrics.connections.WithLabelValues(c.p.Kind, transport).Inc()
	c.counted = transport
}
