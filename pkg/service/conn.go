package service

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
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
	srv  *Server
	id   string // random, names the connection for per-connection limits
	ws   *websocket.Conn
	p    conversation.Participant
	log  *slog.Logger
	send chan outFrame

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
}

func newConn(srv *Server, ws *websocket.Conn, p conversation.Participant) *conn {
	return &conn{
		srv: srv, id: randomToken()[:16], ws: ws, p: p, send: make(chan outFrame, sendQueue), via: transportWebSocket, counted: transportWebSocket, done: make(chan struct{}),
		subs: map[string]func(){},
		log:  srv.log.With("kind", p.Kind, "participant", p.ID),
	}
}

// run serves the connection until it closes.
func (c *conn) run() {
	c.srv.track(c, true)
	defer c.srv.track(c, false)
	go c.writeLoop()
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

func (c *conn) writeLoop() {
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	// A visitor gets a fresh token well before its current one expires
	// (visitor_token.go).
	var renew <-chan time.Time
	if c.p.Kind == protocol.AuthorVisitor {
		t := time.NewTicker(c.srv.cfg.VisitorTokenTTL / 4)
		defer t.Stop()
		renew = t.C
	}
	defer c.ws.Close()
	for {
		select {
		case frame, ok := <-c.send:
			c.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if !ok {
				// Closed by drain: tell the client to come back elsewhere.
				c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server restarting; reconnect"))
				return
			}
			if !frame.wsOnly && c.sendRTC(frame.data) {
				continue
			}
			if err := c.ws.WriteMessage(websocket.TextMessage, frame.data); err != nil {
				c.close()
				return
			}
			c.srv.rtcMetrics.frames.WithLabelValues(transportWebSocket, "out", "").Inc()
		case <-ping.C:
			c.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.ws.WriteMessage(websocket.PingMessage, nil); err != nil {
				c.close()
				return
			}
		case <-renew:
			go c.renewToken()
		case <-c.done:
			return
		}
	}
}

// close ends the connection at once (without flushing queued frames).
func (c *conn) close() {
	c.closeOnce.Do(func() { close(c.done) })
}

// drain finishes the frame being handled, flushes what is queued and closes
// with 1001 (going away) so the client reconnects and resumes.
func (c *conn) drain() {
	c.mu.Lock()
	c.draining = true
	c.mu.Unlock()
	c.handling.Lock() // wait for an in-flight frame (e.g. a commit) to finish
	c.mu.Lock()
	select {
	case <-c.done:
	default:
		close(c.send)
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
	defer c.mu.Unlock()
	if c.draining {
		return
	}
	if !c.welcomed {
		if len(c.early) >= sendQueue {
			c.close()
			return
		}
		c.early = append(c.early, frame)
		return
	}
	select {
	case <-c.done:
	case c.send <- frame:
	default:
		c.log.Warn("client too slow; disconnecting it to resume later", "queued", sendQueue)
		c.srv.metrics.slowClients.Inc()
		c.close()
	}
}

// reply sends an answer to the frame being handled. Unlike deliver it waits
// for room in the queue (a long resume is paced by the client, not dropped).
// It must only be called by the reader while it holds c.handling: drain
// closes c.send only while holding it too.
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
	select {
	case c.send <- outFrame{data: b, wsOnly: c.via != transportDataChannel}:
	case <-c.done:
	}
}

// welcomed sends welcome, then what was published before it.
func (c *conn) welcome(w any) {
	c.reply(w)
	c.mu.Lock()
	early := c.early
	c.early, c.welcomed = nil, true
	c.mu.Unlock()
	for _, f := range early {
		select {
		case c.send <- f:
		case <-c.done:
			return
		}
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
