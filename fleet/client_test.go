package fleet

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/parleychat/parley/pkg/protocol"
)

// chatter is one participant's client, speaking the protocol the way the
// widget and the agent app do (widget/src/shared/client.ts): every send has
// a client id and is resent until acked; received messages are kept by seq,
// duplicates dropped; a gap, a synced short of the server, a resync frame or
// a reconnect asks to resume from the highest contiguous seq. When its
// connection drops it reconnects to the next node that answers.
type chatter struct {
	name   string
	path   string      // /ws/visitor?token=… or /ws/agent
	header http.Header // Origin, and the agent's session cookie
	nodes  func() []string

	wmu sync.Mutex // one writer at a time on ws
	mu  sync.Mutex
	ws  *websocket.Conn
	// online is false from a drop until the next welcome.
	online  bool
	lostAt  time.Time
	convs   map[string]*convLog
	pending map[string]*outgoing // client id → unacked send
	acks    []ackRecord
	acked   map[string]int64  // client id → seq
	sentTo  map[string]string // client id → conversation
	next    int               // node to try next
	seq     int
	// catchingUp: sending has stopped; resume every conversation each
	// second until the test sees every log complete.
	catchingUp bool
	dups       int
	resyncs    int
	reconns    []time.Duration

	// WebRTC (rtc_test.go): rtc says the chatter wants a data channel.
	rtc        bool
	pc         *webrtc.PeerConnection
	dc         *webrtc.DataChannel // open chat channel, nil without one
	rtcRetryAt time.Time
	rtcStops   int // data channels lost (rtc_stop)
	dcOpens    int
	overDC     int // frames received over data channels
	failures   []string
}

type convLog struct {
	have       map[int64]protocol.Message
	contiguous int64
	resumeAt   time.Time // last resume asked, to ask again only when it is stale
}

type outgoing struct {
	conv, body string
	created    time.Time
	sentAt     time.Time // last transmission; zero: not on this connection
	retryAt    time.Time // after a retryable error
}

type ackRecord struct{ created, at time.Time }

func newChatter(name, path string, header http.Header, nodes func() []string, first int) *chatter {
	return &chatter{name: name, path: path, header: header, nodes: nodes, next: first,
		convs: map[string]*convLog{}, pending: map[string]*outgoing{}, acked: map[string]int64{}, sentTo: map[string]string{}}
}

// follow makes the chatter keep conv's log (an agent's conversations; a
// visitor's one).
func (c *chatter) follow(conv string) {
	c.mu.Lock()
	if c.convs[conv] == nil {
		c.convs[conv] = &convLog{have: map[int64]protocol.Message{}}
	}
	c.mu.Unlock()
}

// connect dials nodes in turn until one welcomes the chatter; it keeps
// trying until stop closes.
func (c *chatter) connect(stop <-chan struct{}) bool {
	for attempt := 0; ; attempt++ {
		select {
		case <-stop:
			return false
		default:
		}
		nodes := c.nodes()
		c.mu.Lock()
		addr := nodes[c.next%len(nodes)]
		c.next++
		resume := map[string]int64{}
		for id, l := range c.convs {
			resume[id] = l.contiguous
		}
		c.mu.Unlock()
		d := websocket.Dialer{HandshakeTimeout: 2 * time.Second}
		ws, _, err := d.Dial("ws://"+addr+c.path, c.header)
		if err == nil {
			ws.SetWriteDeadline(time.Now().Add(2 * time.Second))
			err = ws.WriteJSON(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: protocol.Version, Resume: resume})
		}
		if err == nil {
			if err = waitWelcome(ws); err == nil {
				ws.SetWriteDeadline(time.Time{})
				c.mu.Lock()
				c.ws, c.online = ws, true
				if !c.lostAt.IsZero() {
					c.reconns = append(c.reconns, time.Since(c.lostAt))
				}
				for _, o := range c.pending {
					o.sentAt = time.Time{} // resend on this connection
				}
				c.mu.Unlock()
				return true
			}
			ws.Close()
		}
		time.Sleep(time.Duration(50+rand.IntN(100)) * time.Millisecond)
	}
}

// waitWelcome reads the answer to hello; frames before it are applied by
// the reader after, through resume (the hello's resume brings them again).
func waitWelcome(ws *websocket.Conn) error {
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer ws.SetReadDeadline(time.Time{})
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		var env protocol.Envelope
		json.Unmarshal(data, &env)
		switch env.Type {
		case protocol.TypeWelcome:
			return nil
		case protocol.TypeError:
			return fmt.Errorf("hello refused: %s", data)
		}
	}
}

// run serves the chatter until stop: a reader per connection, and a ticker
// that sends a new message to each followed conversation every `every`
// (when send is set) and resends what is unacked.
func (c *chatter) run(stop <-chan struct{}, every time.Duration, sending func() bool, done *sync.WaitGroup) {
	defer done.Done()
	for {
		if !c.connect(stop) {
			return
		}
		c.mu.Lock()
		ws := c.ws
		c.mu.Unlock()
		lost := make(chan struct{})
		go c.read(ws, lost)
		tick := time.NewTicker(every)
		stopped := false
	serve:
		for {
			select {
			case <-stop:
				stopped = true
				break serve
			case <-lost:
				break serve
			case <-tick.C:
				if sending() {
					c.newMessages()
				}
				c.transmit(ws)
				c.rtcTick(ws)
			}
		}
		tick.Stop()
		ws.Close()
		<-lost
		c.mu.Lock()
		c.dropRTC() // the relay peer belonged to that connection
		c.rtcRetryAt = time.Time{}
		c.mu.Unlock()
		if stopped {
			return
		}
	}
}

// read applies frames until the connection ends, then marks it lost.
func (c *chatter) read(ws *websocket.Conn, lost chan struct{}) {
	defer close(lost)
	for {
		ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			if c.ws == ws {
				c.online, c.lostAt = false, time.Now()
			}
			c.mu.Unlock()
			return
		}
		var env protocol.Envelope
		json.Unmarshal(data, &env)
		if !c.rtcFrame(ws, env.Type, data) {
			c.apply(ws, data)
		}
	}
}

func (c *chatter) apply(ws *websocket.Conn, data []byte) {
	var env protocol.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		c.fail("bad frame %q", data)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch env.Type {
	case protocol.TypeMessage:
		var m protocol.Message
		json.Unmarshal(data, &m)
		l := c.convs[m.Conversation]
		if l == nil {
			return // an agent sees every conversation of the workspace
		}
		if _, dup := l.have[m.Seq]; dup || m.Seq <= l.contiguous {
			c.dups++
			return
		}
		l.have[m.Seq] = m
		for {
			if _, ok := l.have[l.contiguous+1]; !ok {
				break
			}
			l.contiguous++
		}
		if m.Seq > l.contiguous+1 && time.Since(l.resumeAt) > time.Second {
			c.resume(ws, m.Conversation, l)
		}
	case protocol.TypeSynced:
		var s protocol.Synced
		json.Unmarshal(data, &s)
		if l := c.convs[s.Conversation]; l != nil && l.contiguous < s.Seq {
			c.resume(ws, s.Conversation, l)
		}
	case protocol.TypeResync:
		c.resyncs++
		for id, l := range c.convs {
			c.resume(ws, id, l)
		}
	case protocol.TypeAck:
		var a protocol.Ack
		json.Unmarshal(data, &a)
		o := c.pending[a.ClientID]
		if prev, ok := c.acked[a.ClientID]; ok && prev != a.Seq {
			c.fail("client id %s acked with seq %d and %d", a.ClientID, prev, a.Seq)
		}
		c.acked[a.ClientID] = a.Seq
		if o != nil {
			delete(c.pending, a.ClientID)
			c.acks = append(c.acks, ackRecord{created: o.created, at: time.Now()})
		}
	case protocol.TypeError:
		var e protocol.Error
		json.Unmarshal(data, &e)
		if o := c.pending[e.Ref]; o != nil {
			if !e.Retryable {
				c.fail("send %s refused: %s %s", e.Ref, e.Code, e.Message)
				delete(c.pending, e.Ref)
				return
			}
			o.retryAt = time.Now().Add(time.Duration(e.RetryAfterMs) * time.Millisecond)
			o.sentAt = time.Time{}
		}
	}
}

// resume asks for everything after the contiguous seq; called with c.mu.
func (c *chatter) resume(ws *websocket.Conn, conv string, l *convLog) {
	l.resumeAt = time.Now()
	go c.chat(ws, protocol.Resume{Envelope: protocol.Envelope{Type: protocol.TypeResume}, Conversations: map[string]int64{conv: l.contiguous}})
}

// chat sends a chat frame (send, resume) over the data channel while one is
// open, else over the WebSocket; the server answers the way it came.
func (c *chatter) chat(ws *websocket.Conn, v any) {
	c.mu.Lock()
	dc := c.dc
	if c.ws != ws {
		dc = nil
	}
	c.mu.Unlock()
	if dc != nil {
		b, _ := json.Marshal(v)
		if dc.SendText(string(b)) == nil {
			return
		}
	}
	c.write(ws, v)
}

// write sends a frame over the WebSocket.
func (c *chatter) write(ws *websocket.Conn, v any) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ws.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if err := ws.WriteJSON(v); err != nil {
		ws.Close() // the reader notices and the chatter reconnects
	}
}

func (c *chatter) newMessages() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.convs {
		c.seq++
		cid := fmt.Sprintf("%s-%d", c.name, c.seq)
		c.sentTo[cid] = id
		c.pending[cid] = &outgoing{conv: id, body: fmt.Sprintf("%s says %d", c.name, c.seq), created: time.Now()}
	}
}

// transmit sends what is unacked and not in flight (a send in flight for
// more than 3 s is sent again: its ack may be lost).
func (c *chatter) transmit(ws *websocket.Conn) {
	c.mu.Lock()
	var out []protocol.Send
	now := time.Now()
	ids := make([]string, 0, len(c.pending))
	for id := range c.pending {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		o := c.pending[id]
		if now.Before(o.retryAt) || (!o.sentAt.IsZero() && now.Sub(o.sentAt) < 3*time.Second) {
			continue
		}
		o.sentAt = now
		out = append(out, protocol.Send{Envelope: protocol.Envelope{Type: protocol.TypeSend, Ref: id}, ClientID: id, Conversation: o.conv, Body: o.body})
	}
	// A gap still open a second after its resume (the resume or its answer
	// went down with a connection) is asked again; so is every
	// conversation while catching up at the end.
	for id, l := range c.convs {
		if (c.catchingUp || l.contiguous < c.maxSeen(l)) && now.Sub(l.resumeAt) > time.Second {
			c.resume(ws, id, l)
		}
	}
	c.mu.Unlock()
	for _, s := range out {
		c.chat(ws, s)
	}
}

func (c *chatter) maxSeen(l *convLog) int64 {
	var m int64
	for s := range l.have {
		m = max(m, s)
	}
	return m
}

func (c *chatter) fail(format string, args ...any) {
	c.failures = append(c.failures, c.name+": "+fmt.Sprintf(format, args...))
}

// backAfter is how long after t this chatter first had a send created at
// or after t acked; ok is false when none was.
func (c *chatter) backAfter(t time.Time) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.acks {
		if !a.created.Before(t) {
			return a.at.Sub(t), true
		}
	}
	return 0, false
}

func (c *chatter) catchUp() {
	c.mu.Lock()
	c.catchingUp = true
	c.mu.Unlock()
}

func (c *chatter) isOnline() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.online
}

func (c *chatter) unacked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// contiguousOf is the highest seq up to which the chatter has every message.
func (c *chatter) contiguousOf(conv string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.convs[conv]; l != nil {
		return l.contiguous
	}
	return -1
}

// logOf returns the chatter's messages of conv in seq order.
func (c *chatter) logOf(conv string) []protocol.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.convs[conv]
	out := make([]protocol.Message, 0, len(l.have))
	for _, m := range l.have {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

func (c *chatter) String() string { return strings.TrimSpace(c.name) }
