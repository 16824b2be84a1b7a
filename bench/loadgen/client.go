package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/parleychat/parley/bench/hist"
	"github.com/parleychat/parley/pkg/protocol"
)

// dialer returns a WebSocket dialer whose TCP connections leave from local
// (nil: any loopback address). Spreading clients over 127.0.0.x source
// addresses gives each its own ephemeral port range.
func dialer(local net.IP, bufSize int) *websocket.Dialer {
	nd := &net.Dialer{Timeout: 10 * time.Second}
	if local != nil {
		nd.LocalAddr = &net.TCPAddr{IP: local}
	}
	return &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 15 * time.Second,
		ReadBufferSize: bufSize, WriteBufferSize: bufSize}
}

// frame is the part of any server frame the load generator reads.
type frame struct {
	Type         string          `json:"type"`
	Ref          string          `json:"ref"`
	ClientID     string          `json:"client_id"`
	Conversation json.RawMessage `json:"conversation"`
	Seq          int64           `json:"seq"`
	Author       struct {
		Kind string `json:"kind"`
	} `json:"author"`
	Code         string `json:"code"`
	Retryable    bool   `json:"retryable"`
	RetryAfterMs int    `json:"retry_after_ms"`
}

// clientID encodes the pair, the message number and the scheduled send time,
// so the receiver needs no shared map to compute latency.
func clientID(pair, n int, sched time.Time) string {
	return strconv.Itoa(pair) + "." + strconv.Itoa(n) + "." + strconv.FormatInt(sched.UnixNano(), 10)
}

func parseClientID(id string) (pair, n int, sched time.Time, ok bool) {
	a, rest, ok1 := strings.Cut(id, ".")
	b, c, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 {
		return 0, 0, time.Time{}, false
	}
	p, e1 := strconv.Atoi(a)
	m, e2 := strconv.Atoi(b)
	ns, e3 := strconv.ParseInt(c, 10, 64)
	if e1 != nil || e2 != nil || e3 != nil {
		return 0, 0, time.Time{}, false
	}
	return p, m, time.Unix(0, ns), true
}

// tally is what every chat-like scenario counts; all fields are atomic.
type tally struct {
	sent, acked, delivered, duplicated, redelivered, gaps, gapResumes, resent atomic.Int64
	connectErrors, writeErrors                                                atomic.Int64
	overDC, overWS                                                            atomic.Int64 // data-channel scenario: peer messages by transport
	errMu                                                                     sync.Mutex
	errors                                                                    map[string]int64
	latency, ack                                                              *hist.Histogram
}

func newTally() *tally {
	return &tally{errors: map[string]int64{}, latency: hist.New(), ack: hist.New()}
}

func (t *tally) errorFrame(code string) {
	t.errMu.Lock()
	t.errors[code]++
	t.errMu.Unlock()
}

// side is one participant's live connection in a pair.
type side struct {
	role string // protocol.AuthorVisitor or protocol.AuthorAgent
	p    *pair

	mu      sync.Mutex // guards ws (replaced on reconnect) and writes to it
	ws      *websocket.Conn
	gen     int
	lastSeq int64          // highest contiguous seq of the conversation seen
	ahead   map[int64]bool // seqs seen above lastSeq
	asked   bool           // a resume for a gap is outstanding
	resumed chan struct{}  // closed when the current connection's resume is synced
	welcome chan struct{}
	started chan string // the visitor's start answer: the conversation id

	// Data-channel scenario: the side's Pion peer and its open chat
	// channel (nil: frames go on the WebSocket).
	pc     *webrtc.PeerConnection
	dc     *webrtc.DataChannel
	dcOpen chan struct{} // closed when the channel opens
	dcStop chan string   // the server's rtc_stop reason
}

// pair is one conversation: a visitor side and an agent side, plus the book
// of every message number: its ack and the seq it reached the peer with.
type pair struct {
	idx    int
	conv   string
	target *chatTarget
	v, a   *side

	mu      sync.Mutex
	ackSeq  []int64 // by message number; 0 = not acked
	recvSeq []int64 // by message number; 0 = not yet at the peer (baseline: 1)
	from    []string
	base    int               // first message number of the current level
	pending map[int]time.Time // sent, not acked (Parley only): resent after a resume
	ackCh   chan struct{}     // closed-loop senders wait here
}

func (p *pair) grow(n int) {
	for len(p.ackSeq) <= n {
		p.ackSeq = append(p.ackSeq, 0)
		p.recvSeq = append(p.recvSeq, 0)
		p.from = append(p.from, "")
	}
}

func (p *pair) other(s *side) *side {
	if s == p.v {
		return p.a
	}
	return p.v
}

// body is the chat text; its size is fixed so Parley and the baseline move
// the same payload.
var body = strings.Repeat("Hello, I have a question about my order. ", 3)[:100]

// sendFrame writes message n from s. It returns an error when the write
// failed (the message stays pending and is resent after a reconnect).
func (s *side) sendFrame(n int, sched time.Time) error {
	p := s.p
	id := clientID(p.idx, n, sched)
	var b []byte
	if p.target.baseline {
		b = p.target.baselineFrame(id, p.conv)
	} else {
		b, _ = json.Marshal(protocol.Send{Envelope: protocol.Envelope{Type: protocol.TypeSend}, ClientID: id, Conversation: p.conv, Body: body})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dc != nil {
		return s.dc.Send(b)
	}
	if s.ws == nil {
		return errNotConnected
	}
	s.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return s.ws.WriteMessage(websocket.TextMessage, b)
}

var errNotConnected = fmt.Errorf("not connected")

// helloRef is the ref of every hello: an error frame with it refuses the
// hello or the resume it carried.
const helloRef = "h"

// send numbers, books and writes the next message of the pair from s.
func (p *pair) send(s *side, sched time.Time, t *tally) int {
	p.mu.Lock()
	n := len(p.ackSeq)
	if n == 0 {
		n = 1
	}
	p.grow(n)
	p.from[n] = s.role
	if !p.target.baseline {
		p.pending[n] = sched
	}
	p.mu.Unlock()
	t.sent.Add(1)
	if err := s.sendFrame(n, sched); err != nil {
		t.writeErrors.Add(1)
	}
	return n
}

// onFrame handles one server frame read by s.
func (s *side) onFrame(data []byte, now time.Time, t *tally) {
	p := s.p
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		t.errorFrame("client_bad_json")
		return
	}
	if p.target.baseline {
		s.receive(f.ClientID, 0, now, t)
		return
	}
	switch f.Type {
	case protocol.TypeWelcome:
		closeOnce(s.welcome)
	case protocol.TypeConversation:
		if f.Ref != "" && s.started != nil {
			var info protocol.ConversationInfo
			if json.Unmarshal(f.Conversation, &info) == nil {
				select {
				case s.started <- info.ID:
				default:
				}
			}
		}
	case protocol.TypeAck:
		_, n, sched, ok := parseClientID(f.ClientID)
		if !ok {
			return
		}
		p.mu.Lock()
		first := n < len(p.ackSeq) && p.ackSeq[n] == 0
		if n < len(p.ackSeq) {
			if p.ackSeq[n] != 0 && p.ackSeq[n] != f.Seq {
				t.duplicated.Add(1) // one client id acked with two seqs
			}
			p.ackSeq[n] = f.Seq
			delete(p.pending, n)
		}
		ch := p.ackCh
		p.mu.Unlock()
		if first {
			t.acked.Add(1)
			t.ack.Record(now.Sub(sched))
			if ch != nil {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	case protocol.TypeMessage:
		s.trackSeq(f.Seq, t)
		if f.Author.Kind == s.role || f.Author.Kind == protocol.AuthorSystem {
			return // our own echo or a system notice
		}
		var conv string
		json.Unmarshal(f.Conversation, &conv)
		if conv != p.conv {
			return
		}
		s.receive(f.ClientID, f.Seq, now, t)
	case protocol.TypeSynced:
		s.mu.Lock()
		s.asked = false
		ch := s.resumed
		s.mu.Unlock()
		closeOnce(ch)
	case protocol.TypeError:
		t.errorFrame(f.Code)
		if f.Ref == helloRef {
			// The hello (or its resume) failed: as the shipped client's
			// connect timeout does, drop the connection and come back.
			s.mu.Lock()
			if s.ws != nil {
				s.ws.Close()
			}
			s.mu.Unlock()
			return
		}
		if f.Retryable && f.Ref != "" {
			if _, n, sched, ok := parseClientID(f.Ref); ok {
				go func() {
					time.Sleep(time.Duration(f.RetryAfterMs) * time.Millisecond)
					t.resent.Add(1)
					s.sendFrame(n, sched)
				}()
			}
		}
	}
}

// trackSeq keeps the highest contiguous seq (what a resume asks from).
func (s *side) trackSeq(seq int64, t *tally) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case seq <= s.lastSeq:
	case seq == s.lastSeq+1:
		s.lastSeq = seq
		for s.ahead[s.lastSeq+1] {
			delete(s.ahead, s.lastSeq+1)
			s.lastSeq++
		}
	default:
		if s.ahead == nil {
			s.ahead = map[int64]bool{}
		}
		if !s.ahead[seq] {
			t.gaps.Add(1)
		}
		s.ahead[seq] = true
		// Protocol rule: a gap means a publication was missed; ask the
		// store for everything after the last contiguous seq.
		if !s.asked && s.ws != nil && s.p.conv != "" {
			s.asked = true
			b, _ := json.Marshal(protocol.Resume{Envelope: protocol.Envelope{Type: protocol.TypeResume},
				Conversations: map[string]int64{s.p.conv: s.lastSeq}})
			s.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			s.ws.WriteMessage(websocket.TextMessage, b)
			t.gapResumes.Add(1)
		}
	}
}

// receive books message id's arrival at s (the peer of its sender).
func (s *side) receive(id string, seq int64, now time.Time, t *tally) {
	p := s.p
	_, n, sched, ok := parseClientID(id)
	if !ok {
		t.errorFrame("client_unknown_id")
		return
	}
	if seq == 0 {
		seq = 1 // the baseline has no seqs: any second arrival is a duplicate
	}
	p.mu.Lock()
	if n >= len(p.recvSeq) || p.from[n] == s.role {
		p.mu.Unlock()
		t.errorFrame("client_unexpected_message")
		return
	}
	prev := p.recvSeq[n]
	if prev == 0 {
		p.recvSeq[n] = seq
	}
	p.mu.Unlock()
	switch {
	case prev == 0:
		t.delivered.Add(1)
		t.latency.Record(now.Sub(sched))
	case prev == seq && !p.target.baseline:
		t.redelivered.Add(1) // same stored message again (resume overlap): clients drop it
	default:
		t.duplicated.Add(1)
	}
}

func closeOnce(ch chan struct{}) {
	if ch == nil {
		return
	}
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// chatTarget is where pairs connect: Parley or the baseline forwarder.
type chatTarget struct {
	baseline bool
	dc       bool   // chat over data channels (the data-channel scenario)
	url      string // http://127.0.0.1:PORT
	padTo    int    // baseline frames are padded to Parley's message frame size
	dialer   *websocket.Dialer
}

// baselineFrame is a send frame padded to the size of the message frame
// Parley delivers for the same send, so both move the same bytes.
func (ct *chatTarget) baselineFrame(id, conv string) []byte {
	b, _ := json.Marshal(struct {
		protocol.Send
		Pad string `json:"pad"`
	}{Send: protocol.Send{Envelope: protocol.Envelope{Type: protocol.TypeSend}, ClientID: id, Conversation: conv, Body: body}})
	if pad := ct.padTo - len(b); pad > 0 {
		b, _ = json.Marshal(struct {
			protocol.Send
			Pad string `json:"pad"`
		}{Send: protocol.Send{Envelope: protocol.Envelope{Type: protocol.TypeSend}, ClientID: id, Conversation: conv, Body: body}, Pad: strings.Repeat("x", pad)})
	}
	return b
}

// messageFrameSize is the size of the message frame Parley delivers for one
// of our sends (ids are UUIDs, author names as seeded).
func messageFrameSize() int {
	b, _ := json.Marshal(protocol.Message{Envelope: protocol.Envelope{Type: protocol.TypeMessage},
		Conversation: "0b6f3c1e-5a52-4f0e-9d43-2c7f1b0e8a11", Seq: 1234, ClientID: clientID(1999, 600, time.Now()),
		Author: protocol.Author{Kind: protocol.AuthorVisitor, ID: "5d0c2f7a-1b0e-4c65-8f3d-2a9e7b6c4d10", Name: "Visitor 1999"},
		Body:   body, SentAt: time.Now().UTC()})
	return len(b)
}

// connect dials s's connection and says hello (Parley) with a resume from
// its last seq when it had one. It does not wait for the welcome.
func (ct *chatTarget) connect(ctx context.Context, s *side, pr Pair, key string) error {
	var (
		u   string
		hdr = http.Header{"Origin": {ct.url}}
	)
	ws := "ws" + strings.TrimPrefix(ct.url, "http")
	switch {
	case ct.baseline:
		u = ws + "/ws?pair=" + key + "&role=" + s.role
	case s.role == protocol.AuthorVisitor:
		u = ws + "/ws/visitor?token=" + pr.VisitorToken
	default:
		u = ws + "/ws/agent"
		hdr.Set("Cookie", "parley_session="+pr.AgentCookie)
	}
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, resp, err := ct.dialer.DialContext(dctx, u, hdr)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("dial %s: %w (HTTP %d)", s.role, err, resp.StatusCode)
		}
		return fmt.Errorf("dial %s: %w", s.role, err)
	}
	s.mu.Lock()
	s.ws = c
	s.gen++
	s.welcome = make(chan struct{})
	s.resumed = make(chan struct{})
	var resume map[string]int64
	if s.p.conv != "" && !ct.baseline {
		resume = map[string]int64{s.p.conv: s.lastSeq}
	}
	var werr error
	if !ct.baseline {
		b, _ := json.Marshal(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello, Ref: helloRef}, V: protocol.Version, Resume: resume})
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		werr = c.WriteMessage(websocket.TextMessage, b)
	}
	if resume == nil {
		closeOnce(s.resumed)
	}
	s.mu.Unlock()
	if werr != nil {
		c.Close()
		return werr
	}
	return nil
}
