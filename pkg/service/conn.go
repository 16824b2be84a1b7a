package service

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/worker"
)

const (
	writeWait    = 10 * time.Second
	pongWait     = 60 * time.Second
	pingInterval = 25 * time.Second
	// sendQueue bounds the frames waiting for a slow client. A client that
	// falls this far behind is disconnected and resumes from the store: the
	// node's memory stays bounded and nothing is lost.
	sendQueue = 256
	// readBuffer is each connection's input buffer: it holds a frame
	// header or a control frame whole (a ping or pong of up to 125 bytes,
	// conn.control); longer payloads are read past it.
	readBuffer = 512
)

// upgrader makes WebSockets. Gorilla takes the connection's read buffer
// from upgrade (ReadBufferSize 0: it reuses the one the hijack returns);
// write buffers are taken from a pool only while a frame is written, so an
// idle connection holds none. No compression.
var upgrader = websocket.Upgrader{
	WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{},
	HandshakeTimeout: 10 * time.Second,
	// Origins are checked by the handlers, which know who is connecting.
	CheckOrigin: func(*http.Request) bool { return true },
}

// conn is one live client connection: a participant's WebSocket. It turns
// protocol frames into conversation service calls and delivers bus
// publications. Frames from one connection are handled one at a time, in
// order, so a client's acks come in the order of its sends.
type conn struct {
	srv *Server
	id  string // random, names the connection for per-connection limits
	ws  *websocket.Conn
	p   conversation.Participant
	log *slog.Logger
	// locale is a visitor's widget locale, for the conversations it
	// starts (routing by language).
	locale string
	addr   string // the client's address key (clientKey), for the socket caps
	// A visitor's token: what a verified user's proof rested on
	// (auth.VisitorClaims.Proof), and when the token last handed to the
	// widget expires (unix ns; renewToken moves it).
	proof    string
	tokenExp atomic.Int64

	// Reading. An idle connection holds no goroutine: it waits in the
	// readiness poller (poll_linux.go) until its socket is readable, then a
	// goroutine reads and handles what arrived (ready) and ends. br is the
	// input buffer under ws: what is left in it is read before waiting
	// again. Dead peers are found by keepalive (heardAt), not by a read
	// deadline, since no read is pending while idle.
	br      *bufio.Reader
	raw     syscall.RawConn // the socket, for the poller
	key     int32           // the poller's name for the connection
	reading sync.Mutex      // held by ready: orders one ready after the last (epoll does, unseen by the race detector)
	heardAt atomic.Int64    // when the client last sent a frame (unix ns)

	// The send queue, guarded by mu. An idle connection keeps no memory in
	// it and no goroutine for it: a writer runs only while there are frames
	// to write, and pings come from a timer (docs/benchmarks.md, idle
	// connections).
	out     []outFrame
	writing bool          // a writer goroutine is flushing out
	closing bool          // drain: the writer says 1001 after the queued frames
	room    chan struct{} // closed when the writer takes frames (replies waiting for room)
	// keepalive's timer and its schedule (used only by keepalive, which
	// runs one call at a time; loading keep orders it after newConn).
	keep              atomic.Pointer[time.Timer]
	nextPing, renewAt time.Time

	closeOnce sync.Once
	done      chan struct{}

	handling sync.Mutex // held while a frame is handled; drain waits on it
	mu       sync.Mutex
	draining bool
	helloed  bool
	subs     []subscription // few: a visitor's topic and conversations, or an agent's workspace
	unsubbed bool           // finished: later subscribe calls undo themselves
	// early holds publications that arrive between subscribing and sending
	// welcome: welcome is always a client's first frame.
	early    []outFrame
	welcomed bool

	// WebRTC (rtc.go).
	rtc      *rtcLink // the relay peer, nil without one; guarded by mu
	rtcEnded bool     // the connection ended: no new peer; guarded by mu
	via      string   // transport of the frame being handled; held with handling
	counted  string   // transport label in the connections gauge; guarded by srv.mu
}

// outFrame is one frame for the client. Frames go over the data channel
// while it is open, unless wsOnly.
type outFrame struct {
	data   []byte
	wsOnly bool
	ping   bool // a WebSocket ping, not data
}

// upgrade turns the request into a live connection for p; a visitor's
// widget locale goes with it (for the conversations it starts).
func (s *Server) upgrade(c *gin.Context, p conversation.Participant, locale string, token *auth.VisitorClaims) {
	if s.isDraining() {
		apiError(c, http.StatusServiceUnavailable, "unavailable", "server is restarting; reconnect shortly")
		return
	}
	addr := s.clientKey(c.Request)
	over := s.claimSocket(p, addr)
	w := &hijacker{ResponseWriter: c.Writer}
	ws, err := upgrader.Upgrade(w, c.Request, nil)
	if over != "" {
		if err == nil {
			refuseSocket(ws, over)
		}
		return
	}
	if err != nil {
		s.releaseSocket(p, addr)
		return // the upgrader has answered
	}
	s.wg.Add(1) // done when the connection has finished
	cn := newConn(s, ws, w.br, p, locale)
	cn.addr = addr
	if token != nil {
		cn.proof = token.Proof
		cn.tokenExp.Store(token.Expires.UnixNano())
	}
	cn.serve()
}

// hijacker hands gorilla an input buffer of readBuffer bytes for the
// connection, which the connection keeps too (conn.br).
type hijacker struct {
	gin.ResponseWriter
	br *bufio.Reader
}

func (w *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, rw, err := w.ResponseWriter.Hijack()
	if err != nil {
		return nc, rw, err
	}
	// The HTTP server's read and write deadlines (PARLEY_HTTP_TIMEOUT) are
	// for requests; a live connection sets its own per frame.
	nc.SetDeadline(time.Time{})
	if rw.Reader.Buffered() > 0 {
		return nc, rw, err // gorilla refuses a client that sent data early
	}
	w.br = bufio.NewReaderSize(nc, readBuffer)
	return nc, bufio.NewReadWriter(w.br, rw.Writer), nil
}

// tasks runs the reading of readable connections (conn.ready) and their
// writers (conn.flush) on goroutines kept for a while after their last
// task, with the stacks they grew handling frames (pkg/worker). None is
// kept when the server is idle, so an idle connection costs no goroutine.
var tasks = worker.New(2 * time.Second)

func newConn(srv *Server, ws *websocket.Conn, br *bufio.Reader, p conversation.Participant, locale string) *conn {
	now := time.Now()
	c := &conn{
		srv: srv, id: strings.Clone(randomToken()[:16]), ws: ws, br: br, p: p, locale: locale, via: transportWebSocket, counted: transportWebSocket, done: make(chan struct{}),
		nextPing: now.Add(pingInterval), renewAt: now.Add(srv.cfg.VisitorTokenTTL / 4),
	}
	c.log = slog.New(connLog{srv.log.Handler(), &c.p})
	c.heardAt.Store(now.UnixNano())
	t := time.AfterFunc(time.Hour, c.keepalive)
	c.keep.Store(t)
	t.Reset(c.keepInterval())
	return c
}

// serve starts reading the connection. It is served until it closes;
// then finish ends it.
func (c *conn) serve() {
	c.srv.track(c, true)
	c.ws.SetReadLimit(protocol.MaxFrameBytes)
	c.ws.SetPongHandler(func(string) error { c.heard(); return nil })
	if pollr.watch(c, c.ws.NetConn()) {
		if c.ended() {
			pollr.forget(c) // closed before it was registered
		}
		return
	}
	// Not a plain TCP socket (TLS, or no epoll): a goroutine waits for
	// input instead.
	go func() {
		for {
			c.ws.SetReadDeadline(time.Time{})
			if _, err := c.br.Peek(1); err != nil {
				c.close()
				return
			}
			if !c.readable() {
				return
			}
		}
	}()
}

// ready reads a connection the poller saw become readable, then waits for
// it to be readable again.
func (c *conn) ready() {
	c.reading.Lock()
	more := c.readable()
	c.reading.Unlock()
	if more && !pollr.rearm(c) {
		c.close()
	}
}

// readable reads and handles the frames that have arrived, until the input
// is used up. It returns false when the connection has ended or drains.
func (c *conn) readable() bool {
	for {
		// A frame that has begun must arrive whole in time.
		c.ws.SetReadDeadline(time.Now().Add(pongWait))
		if !c.control() {
			typ, data, err := c.ws.ReadMessage()
			if err != nil {
				// gorilla answers an oversize frame with close 1009 itself.
				if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) && !errors.Is(err, websocket.ErrReadLimit) {
					c.log.Debug("connection read ended", "err", err)
				}
				c.close()
				return false
			}
			c.heard()
			c.handling.Lock()
			c.mu.Lock()
			stop := c.draining || c.ended() // draining: the writer closes it
			c.mu.Unlock()
			if stop {
				c.handling.Unlock()
				return false
			}
			if typ != websocket.TextMessage {
				c.reply(protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError}, Code: protocol.CodeBadJSON, Message: "frames are JSON text messages"})
			} else {
				c.handle(data)
			}
			c.handling.Unlock()
		}
		if c.br.Buffered() == 0 {
			return true
		}
	}
}

// control takes a whole ping or pong frame off the head of the input, and
// reports whether it did. Gorilla reads control frames only while it waits
// for a data message, which would keep a goroutine per idle connection
// waiting; anything else (data, close, a malformed frame) is left to it.
func (c *conn) control() bool {
	h, err := c.br.Peek(2)
	if err != nil {
		return false // ReadMessage reports it
	}
	op := int(h[0] & 0x0f)
	// FIN and no reserved bits, masked as a client's frames are, and a
	// control frame's length (at most 125).
	if (op != websocket.PingMessage && op != websocket.PongMessage) || h[0]&0xf0 != 0x80 || h[1]&0x80 == 0 || h[1]&0x7f > 125 {
		return false
	}
	n := 2 + 4 + int(h[1]&0x7f)
	f, err := c.br.Peek(n)
	if err != nil {
		return false
	}
	if op == websocket.PingMessage {
		payload := make([]byte, n-6)
		for i := range payload {
			payload[i] = f[6+i] ^ f[2+i%4]
		}
		c.ws.WriteControl(websocket.PongMessage, payload, time.Now().Add(writeWait))
	}
	c.br.Discard(n)
	c.heard()
	return true
}

// heard notes that the client is alive.
func (c *conn) heard() { c.heardAt.Store(time.Now().UnixNano()) }

// finish ends a closed connection, once the frame being handled (if any)
// is done.
func (c *conn) finish() {
	defer c.srv.wg.Done()
	defer c.srv.track(c, false)
	defer c.srv.releaseSocket(c.p, c.addr)
	pollr.forget(c)
	c.handling.Lock() // readable handles nothing after this: c.done is closed
	c.handling.Unlock()
	c.endRTCWithConn()
	c.mu.Lock()
	for _, sub := range c.subs {
		sub.undo()
	}
	c.subs, c.unsubbed = nil, true
	helloed := c.helloed
	c.mu.Unlock()
	if helloed && c.p.Kind == protocol.AuthorVisitor {
		c.srv.visitorPresence(context.Background(), c, false, false)
	}
	if helloed && c.p.Kind == protocol.AuthorAgent {
		ctx, cancel := context.WithTimeout(context.Background(), handleTimeout)
		c.srv.conv.AgentDisconnected(ctx, c.p)
		cancel()
		// Last seen (the team list): when a socket ends, as at sign-in.
		c.srv.seen.note(c.p.ID)
	}
}

// keepInterval is how often keepalive runs: the ping interval, or more
// often for a visitor whose token lifetime is short.
func (c *conn) keepInterval() time.Duration {
	d := pingInterval
	if c.p.Kind == protocol.AuthorVisitor {
		d = min(d, c.srv.cfg.VisitorTokenTTL/4)
	}
	return d
}

// keepalive pings the client every pingInterval, closes the connection
// when the client has sent nothing (not even a pong) for pongWait, and
// gives a visitor a fresh token every quarter of the token's lifetime, well
// before the current one expires (visitor_token.go). It runs on the
// connection's timer: no goroutine waits for it.
func (c *conn) keepalive() {
	t := c.keep.Load()
	if c.ended() {
		return
	}
	now := time.Now()
	if silent := now.Sub(time.Unix(0, c.heardAt.Load())); silent > pongWait {
		c.log.Debug("client silent; closing the connection", "silent", silent)
		c.close()
		return
	}
	if !now.Before(c.nextPing) {
		c.nextPing = now.Add(pingInterval)
		c.push(outFrame{ping: true}, false) // a full queue: the client is dropped soon anyway
	}
	// A socket does not outlive its token by more than a renewal period
	// (renewals failed, or were refused: recheckProof).
	if exp := c.tokenExp.Load(); exp != 0 && now.After(time.Unix(0, exp).Add(c.srv.cfg.VisitorTokenTTL/4)) {
		c.log.Info("visitor token expired unrenewed; closing the connection")
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseRevoked, "token expired; start a new session"), now.Add(writeWait))
		c.close()
		return
	}
	if c.p.Kind == protocol.AuthorVisitor && !now.Before(c.renewAt) {
		c.renewAt = now.Add(c.srv.cfg.VisitorTokenTTL / 4)
		go c.renewToken()
	}
	t.Reset(c.keepInterval())
}

// push queues a frame and starts a writer if none runs. When the queue is
// full, with wait it waits for room (a reply: a long resume is paced by
// the client, not dropped); without, it reports false. Frames pushed after
// the connection ended or was drained are dropped.
func (c *conn) push(f outFrame, wait bool) bool {
	for {
		c.mu.Lock()
		if c.closing || c.ended() {
			c.mu.Unlock()
			return true
		}
		if len(c.out) < sendQueue {
			c.out = append(c.out, f)
			if !c.writing {
				c.writing = true
				tasks.Go(c.flush)
			}
			c.mu.Unlock()
			return true
		}
		if !wait {
			c.mu.Unlock()
			return false
		}
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room := c.room
		c.mu.Unlock()
		select {
		case <-room:
		case <-c.done:
			return true
		}
	}
}

// flush writes the queue until it is empty, then ends; after a drain it
// closes the socket with 1001 (going away).
func (c *conn) flush() {
	for {
		c.mu.Lock()
		frames, closing := c.out, c.closing
		c.out = nil
		if c.room != nil {
			close(c.room)
			c.room = nil
		}
		if len(frames) == 0 {
			c.writing = false
			c.mu.Unlock()
			if closing {
				// Drained: tell the client to come back elsewhere.
				c.ws.SetWriteDeadline(time.Now().Add(writeWait))
				c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server restarting; reconnect"))
				c.close()
			}
			return
		}
		c.mu.Unlock()
		for _, f := range frames {
			if !c.write(f) {
				c.close()
				return // writing stays set: nothing more is written
			}
		}
	}
}

func (c *conn) write(f outFrame) bool {
	c.ws.SetWriteDeadline(time.Now().Add(writeWait))
	if f.ping {
		return c.ws.WriteMessage(websocket.PingMessage, nil) == nil
	}
	if !f.wsOnly && c.sendRTC(f.data) {
		return true
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, f.data); err != nil {
		return false
	}
	c.srv.rtcMetrics.frames.WithLabelValues(transportWebSocket, "out", "").Inc()
	return true
}

func (c *conn) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// queued is how many frames wait in the send queue.
func (c *conn) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.out)
}

// close ends the connection at once (without flushing queued frames), and
// finishes it. Callers may hold c.mu.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.keep.Load().Stop()
		c.ws.Close()
		go c.finish()
	})
}

// drain finishes the frame being handled, flushes what is queued and closes
// with 1001 (going away) so the client reconnects and resumes.
func (c *conn) drain() {
	c.mu.Lock()
	c.draining = true
	c.mu.Unlock()
	c.handling.Lock() // wait for an in-flight frame (e.g. a commit) to finish
	c.mu.Lock()
	c.closing = true
	if !c.writing && !c.ended() {
		c.writing = true
		tasks.Go(c.flush)
	}
	c.mu.Unlock()
	c.handling.Unlock()
	// The writer sends the close frame after the queued frames and then
	// closes the connection.
}

// deliver queues a publication; a client too slow to take it is
// disconnected.
func (c *conn) deliver(payload []byte) {
	chat := chatPublication(payload)
	if chat && c.relayDelivers() {
		return // the relay delivers it (rtc.go)
	}
	c.enqueue(outFrame{data: payload, wsOnly: !chat})
}

// enqueue queues a frame that answers no request.
func (c *conn) enqueue(frame outFrame) {
	c.mu.Lock()
	if c.draining {
		c.mu.Unlock()
		return
	}
	if !c.welcomed {
		if len(c.early) >= sendQueue {
			c.close()
		} else {
			c.early = append(c.early, frame)
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if !c.push(frame, false) {
		c.log.Warn("client too slow; disconnecting it to resume later", "queued", sendQueue)
		c.srv.metrics.slowClients.Inc()
		c.close()
	}
}

// reply sends an answer to the frame being handled. Unlike deliver it waits
// for room in the queue (a long resume is paced by the client, not dropped).
// It must only be called by the reader while it holds c.handling: drain
// marks the queue closing only while holding it too.
func (c *conn) reply(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.log.Error("encode frame", "err", err)
		return
	}
	if f, ok := v.(protocol.Error); ok {
		c.srv.metrics.errors.WithLabelValues(f.Code).Inc()
	}
	// The answer goes back the way the frame came.
	c.push(outFrame{data: b, wsOnly: c.via != transportDataChannel}, true)
}

// welcomed sends welcome, then what was published before it.
func (c *conn) welcome(w any) {
	c.reply(w)
	c.mu.Lock()
	defer c.mu.Unlock()
	// Queued under the same lock that marks the connection welcomed: a
	// publication delivered from now on queues behind them, never ahead
	// (its seq would look like a gap). At most sendQueue of them (enqueue
	// closes a connection whose early frames overflow), so the queue may
	// hold up to twice its usual bound for a moment.
	early := c.early
	c.early, c.welcomed = nil, true
	if c.closing || c.ended() || len(early) == 0 {
		return
	}
	c.out = append(c.out, early...)
	if !c.writing {
		c.writing = true
		tasks.Go(c.flush)
	}
}

// subscription is one bus topic a connection gets publications of.
type subscription struct {
	topic string
	undo  func()
}

// subscribe delivers a topic's publications to this connection.
func (c *conn) subscribe(topic string) error {
	c.mu.Lock()
	skip := c.unsubbed || c.subscribed(topic)
	c.mu.Unlock()
	if skip {
		return nil
	}
	un, err := c.srv.bus.Subscribe(topic, func(_ string, payload []byte) { c.onPublication(topic, payload) })
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.unsubbed || c.subscribed(topic) {
		c.mu.Unlock()
		un()
		return nil
	}
	c.subs = append(c.subs, subscription{topic, un})
	c.mu.Unlock()
	return nil
}

// subscribed reports whether the connection has topic. Callers hold c.mu.
func (c *conn) subscribed(topic string) bool {
	for _, sub := range c.subs {
		if sub.topic == topic {
			return true
		}
	}
	return false
}

// onPublication delivers a publication. A visitor learns of a conversation
// that started on another of its tabs through its visitor topic: subscribe
// to it then.
func (c *conn) onPublication(topic string, payload []byte) {
	if c.p.Kind == protocol.AuthorVisitor && topic == bus.SiteTopic(c.p.SiteID) {
		// The site's settings changed: perhaps its identity secret or
		// whether identity is required.
		go c.recheckProof()
	}
	if c.p.Kind == protocol.AuthorVisitor && topic == bus.VisitorTopic(c.p.ID) {
		var f protocol.Conversation
		if json.Unmarshal(payload, &f) == nil && f.Type == protocol.TypeConversation {
			go c.subscribe(bus.ConversationTopic(f.Conversation.ID))
		}
	}
	c.deliver(payload)
}

// connLog is a connection's log handler: the server's, with the
// participant added to the records it writes. (slog.With would format and
// keep those attributes for every connection, whether it logs or not.)
type connLog struct {
	slog.Handler
	p *conversation.Participant
}

func (h connLog) attrs() []slog.Attr {
	return []slog.Attr{slog.String("kind", h.p.Kind), slog.String("participant", h.p.ID)}
}

func (h connLog) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(h.attrs()...)
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	return h.Handler.Handle(ctx, out)
}

func (h connLog) WithAttrs(as []slog.Attr) slog.Handler {
	return h.Handler.WithAttrs(append(h.attrs(), as...))
}

func (h connLog) WithGroup(name string) slog.Handler {
	return h.Handler.WithAttrs(h.attrs()).WithGroup(name)
}
