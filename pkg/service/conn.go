package service

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
)

const (
	writeWait    = 10 * time.Second
	pongWait     = 60 * time.Second
	pingInterval = 25 * time.Second
	// sendQueue bounds the frames waiting for a slow client. A client that
	// falls this far behind is disconnected and resumes from the store: the
	// node's memory stays bounded and nothing is lost.
	sendQueue = 256
)

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
	subs     map[string]func()
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

func newConn(srv *Server, ws *websocket.Conn, p conversation.Participant) *conn {
	now := time.Now()
	c := &conn{
		srv: srv, id: randomToken()[:16], ws: ws, p: p, via: transportWebSocket, counted: transportWebSocket, done: make(chan struct{}),
		subs:     map[string]func(){},
		log:      srv.log.With("kind", p.Kind, "participant", p.ID),
		nextPing: now.Add(pingInterval), renewAt: now.Add(srv.cfg.VisitorTokenTTL / 4),
	}
	t := time.AfterFunc(time.Hour, c.keepalive)
	c.keep.Store(t)
	t.Reset(c.keepInterval())
	return c
}

// run serves the connection until it closes.
func (c *conn) run() {
	c.srv.track(c, true)
	defer c.srv.track(c, false)
	c.readLoop()
	c.close()
	c.endRTCWithConn()
	c.mu.Lock()
	for _, un := range c.subs {
		un()
	}
	c.subs = nil // later subscribe calls undo themselves
	helloed := c.helloed
	c.mu.Unlock()
	if helloed && c.p.Kind == protocol.AuthorAgent {
		c.srv.conv.AgentDisconnected(context.Background(), c.p)
	}
}

func (c *conn) readLoop() {
	c.ws.SetReadLimit(protocol.MaxFrameBytes)
	c.ws.SetReadDeadline(time.Now().Add(pongWait))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			// gorilla answers an oversize frame with close 1009 itself.
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) && !errors.Is(err, websocket.ErrReadLimit) {
				c.log.Debug("connection read ended", "err", err)
			}
			return
		}
		c.ws.SetReadDeadline(time.Now().Add(pongWait))
		c.handling.Lock()
		c.mu.Lock()
		draining := c.draining
		c.mu.Unlock()
		if draining {
			c.handling.Unlock()
			return
		}
		if typ != websocket.TextMessage {
			c.reply(protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError}, Code: protocol.CodeBadJSON, Message: "frames are JSON text messages"})
		} else {
			c.handle(data)
		}
		c.handling.Unlock()
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

// keepalive pings the client every pingInterval (its pong extends the read
// deadline) and gives a visitor a fresh token every quarter of the token's
// lifetime, well before the current one expires (visitor_token.go). It
// runs on the connection's timer: no goroutine waits for it.
func (c *conn) keepalive() {
	t := c.keep.Load()
	if c.ended() {
		return
	}
	now := time.Now()
	if !now.Before(c.nextPing) {
		c.nextPing = now.Add(pingInterval)
		c.push(outFrame{ping: true}, false) // a full queue: the client is dropped soon anyway
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
				go c.flush()
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
				c.ws.Close()
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

// close ends the connection at once (without flushing queued frames).
// Callers may hold c.mu.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.keep.Load().Stop()
		c.ws.Close()
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
		go c.flush()
	}
	c.mu.Unlock()
	c.handling.Unlock()
	// The writer sends the close frame after the queued frames and then
	// closes the socket, which ends the reader.
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
	early := c.early
	c.early, c.welcomed = nil, true
	c.mu.Unlock()
	for _, f := range early {
		c.push(f, true)
	}
}

// subscribe delivers a topic's publications to this connection.
func (c *conn) subscribe(topic string) error {
	c.mu.Lock()
	_, have := c.subs[topic]
	gone := c.subs == nil
	c.mu.Unlock()
	if have || gone {
		return nil
	}
	un, err := c.srv.bus.Subscribe(topic, func(_ string, payload []byte) { c.onPublication(topic, payload) })
	if err != nil {
		return err
	}
	c.mu.Lock()
	if _, have := c.subs[topic]; have || c.subs == nil {
		c.mu.Unlock()
		un()
		return nil
	}
	c.subs[topic] = un
	c.mu.Unlock()
	return nil
}

// onPublication delivers a publication. A visitor learns of a conversation
// that started on another of its tabs through its visitor topic: subscribe
// to it then.
func (c *conn) onPublication(topic string, payload []byte) {
	if c.p.Kind == protocol.AuthorVisitor && topic == bus.VisitorTopic(c.p.ID) {
		var f protocol.Conversation
		if json.Unmarshal(payload, &f) == nil && f.Type == protocol.TypeConversation {
			go c.subscribe(bus.ConversationTopic(f.Conversation.ID))
		}
	}
	c.deliver(payload)
}
