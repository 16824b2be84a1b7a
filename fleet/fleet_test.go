package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/protocol"
)

const (
	sendEvery   = 700 * time.Millisecond // under the per-visitor message limit (20 per 10 s)
	chatBetween = 6 * time.Second        // chatting before each failure
	backWithin  = 30 * time.Second       // the test fails if a client is not back by then
)

// Three signaling nodes and two relays on PostgreSQL and Redis of the
// test's own, six visitors and three agents spread across them (five of
// them chatting over data channels through the relays), chatting
// continuously. In turn: kill -9 one node, kill -9 one relay, restart
// Redis, restart PostgreSQL, drain (SIGTERM) and restart a node. After each,
// every client must be chatting again (a send made after the failure
// acked); at the end every acked message is stored once and every
// participant has every message of its conversation once, in seq order.
func TestFleetSurvivesFailures(t *testing.T) {
	began := time.Now()
	f := startFleet(t, 2)
	nodes, relays, public, live := f.nodes, f.relays, f.public, f.live

	// Accounts: the admin creates two supervisors; everyone signs in on
	// some node and uses the session on every node. Supervisors, so that
	// each writes in the two conversations the test gave it whoever
	// routing assigned them to: routing may give a waiting conversation to
	// the agent that came online first, before the other's first message
	// takes it, and this test is about failures, not routing.
	admin, siteID := f.admin, f.siteID
	agentSessions := []*session{admin,
		f.createAgent("agent2@fleet.test", "Agent 2", "supervisor", 10),
		f.createAgent("agent3@fleet.test", "Agent 3", "supervisor", 10)}

	// Six visitors, each paired with one agent on another node.
	var chatters []*chatter
	agents := make([]*chatter, 3)
	for j, s := range agentSessions {
		h := http.Header{"Origin": {public}, "Cookie": {s.cookie}}
		agents[j] = newChatter(fmt.Sprintf("agent%d", j+1), "/ws/agent", h, live, j)
		agents[j].rtc = j < 2
	}
	convs := map[string][2]*chatter{}
	for i := range 6 {
		token, err := visitorToken(nodes[i%3], public, siteID)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{"Origin": {public}}
		v := newChatter(fmt.Sprintf("visitor%d", i+1), "/ws/visitor?token="+token, h, live, (i+1)%3)
		v.rtc = i < 3
		conv, err := startConversation(nodes[(i+1)%3], v.path, v.header)
		if err != nil {
			t.Fatal(err)
		}
		v.follow(conv)
		a := agents[i%3]
		a.follow(conv)
		convs[conv] = [2]*chatter{v, a}
		chatters = append(chatters, v)
	}
	chatters = append(chatters, agents...)

	var sending atomic.Bool
	sending.Store(true)
	stop := make(chan struct{})
	var running sync.WaitGroup
	for _, c := range chatters {
		running.Add(1)
		go c.run(stop, sendEvery, sending.Load, &running)
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		running.Wait()
	}()
	onDataChannels := func() bool {
		for _, c := range chatters {
			if !c.isOnline() || (c.rtc && !c.onDC()) {
				return false
			}
		}
		return true
	}
	waitFor(t, "every client online, five on data channels", 30*time.Second, onDataChannels)

	type outcome struct {
		name  string
		worst time.Duration
		who   string
	}
	var outcomes []outcome
	// failure runs act while everyone chats and waits until every client
	// had a send made after the failure began acked.
	failure := func(name string, act func()) {
		t.Helper()
		time.Sleep(chatBetween)
		t0 := time.Now()
		act()
		var worst time.Duration
		var who string
		waitFor(t, "every client back after "+name, backWithin, func() bool {
			for _, c := range chatters {
				if _, ok := c.backAfter(t0); !ok {
					return false
				}
			}
			return true
		})
		for _, c := range chatters {
			d, _ := c.backAfter(t0)
			if d > worst {
				worst, who = d, c.name
			}
		}
		outcomes = append(outcomes, outcome{name, worst, who})
		t.Logf("%s: every client chatting again; slowest %s after %s", name, who, worst.Round(time.Millisecond))
	}

	failure("kill -9 node2", func() {
		f.kill(nodes[1])
	})
	reconnectStats := func() (n int, worst time.Duration) {
		for _, c := range chatters {
			c.mu.Lock()
			for _, d := range c.reconns {
				n++
				worst = max(worst, d)
			}
			c.mu.Unlock()
		}
		return n, worst
	}
	if n, _ := reconnectStats(); n == 0 {
		t.Fatal("no client was connected to the killed node: the test proves nothing about reconnects")
	}
	// The relay with more peers dies; its clients go on over their
	// WebSockets and get a data channel on the other relay.
	victim := relays[0]
	if relays[1].gauge("parley_relay_peers") > victim.gauge("parley_relay_peers") {
		victim = relays[1]
	}
	peers := victim.gauge("parley_relay_peers")
	if peers < 1 {
		t.Fatalf("no peer on %s: the relay kill would prove nothing", victim.name)
	}
	failure("kill -9 "+victim.name, func() { f.kill(victim) })
	relayBack := time.Now()
	waitFor(t, "every data channel client on the surviving relay", backWithin, onDataChannels)
	t.Logf("kill -9 %s (%v peers): every data channel client on the other relay after %s", victim.name, peers,
		time.Since(relayBack).Round(time.Millisecond))
	failure("restart Redis", f.redis.restart)
	// Each live node noticed the lost subscription and told its clients
	// to resume (and says so on /metrics, which every node serves).
	// Clients may chat again (acks need no bus) before a node's
	// subscription is back, so this waits for it.
	for _, n := range nodes {
		if n.isDead(&f.mu) {
			continue
		}
		waitFor(t, n.name+" to count a bus resync on /metrics", backWithin, func() bool {
			return n.gauge("parley_bus_resyncs_total") >= 1
		})
	}
	failure("restart PostgreSQL", f.postgres.restart)
	// A rolling restart of node3: it drains (its clients get 1001 and move
	// to node1, the only other live node), then comes back on the same
	// database and bus.
	failure("SIGTERM node3, restart it", func() {
		f.mu.Lock()
		nodes[2].dead = true
		f.mu.Unlock()
		nodes[2].drain()
		nodes[2].launch()
		nodes[2].waitReady()
		f.mu.Lock()
		nodes[2].dead = false
		f.mu.Unlock()
	})
	time.Sleep(chatBetween)

	// Stop sending; every send must get its ack, every log must fill up.
	sending.Store(false)
	for _, c := range chatters {
		c.catchUp()
	}
	waitFor(t, "every send acked", backWithin, func() bool {
		for _, c := range chatters {
			if c.unacked() > 0 {
				return false
			}
		}
		return true
	})
	stored := map[string][]protocol.Message{}
	waitFor(t, "every participant to have every stored message", backWithin, func() bool {
		for conv, p := range convs {
			ms := admin.messages(t, live()[0], conv)
			stored[conv] = ms
			last := int64(len(ms))
			if p[0].contiguousOf(conv) < last || p[1].contiguousOf(conv) < last {
				return false
			}
		}
		return true
	})
	close(stop)
	running.Wait()

	// The promise, message by message.
	checked, lost, duplicated, acked := 0, 0, 0, 0
	for conv, p := range convs {
		ms := stored[conv]
		byClient := map[string]int64{}
		for i, m := range ms {
			checked++
			if m.Seq != int64(i+1) {
				t.Errorf("conversation %s: stored seq %d at position %d (gap)", conv, m.Seq, i+1)
			}
			if _, dup := byClient[m.ClientID]; dup && m.ClientID != "" {
				duplicated++
				t.Errorf("conversation %s: client id %s stored twice", conv, m.ClientID)
			}
			byClient[m.ClientID] = m.Seq
		}
		for _, c := range p {
			c.mu.Lock()
			for id, seq := range c.acked {
				if c.sentTo[id] != conv {
					continue
				}
				if s, ok := byClient[id]; ok && s == seq {
					acked++
				} else {
					lost++
					t.Errorf("%s: acked %s (seq %d) is not stored with that seq (stored: %d)", c.name, id, seq, s)
				}
			}
			c.mu.Unlock()
			got := c.logOf(conv)
			if len(got) != len(ms) {
				t.Errorf("%s has %d messages of %s, the store %d", c.name, len(got), conv, len(ms))
			}
			for i := range min(len(got), len(ms)) {
				if got[i].Seq != ms[i].Seq || got[i].ClientID != ms[i].ClientID || got[i].Body != ms[i].Body {
					lost++
					t.Errorf("%s: message %d of %s is %+v, stored %+v", c.name, i+1, conv, got[i], ms[i])
					break
				}
			}
		}
	}
	var wireDups, resyncs, overDC, rtcStops int
	for _, c := range chatters {
		wireDups += c.dups
		resyncs += c.resyncs
		overDC += c.overDC
		rtcStops += c.rtcStops
		for _, f := range c.failures {
			t.Error(f)
		}
	}
	if acked == 0 || overDC == 0 || rtcStops == 0 {
		t.Fatalf("acked %d, frames over data channels %d, data channels lost %d: the test proved nothing", acked, overDC, rtcStops)
	}
	reconnects, worstReconnect := reconnectStats()
	t.Logf("fleet: 3 signaling nodes, 2 relays, %d clients, %d conversations; %d client reconnects, worst reconnect %s; "+
		"%d data channels lost (rtc_stop), %d frames received over data channels",
		len(chatters), len(convs), reconnects, worstReconnect.Round(time.Millisecond), rtcStops, overDC)
	for _, o := range outcomes {
		t.Logf("  %-26s all clients back; slowest %s after %s", o.name, o.who, o.worst.Round(time.Millisecond))
	}
	t.Logf("checked %d stored messages (%d acked sends): lost %d, duplicated %d; %d duplicate deliveries dropped by clients, %d resync frames; %s in all",
		checked, acked, lost, duplicated, wireDups, resyncs, time.Since(began).Round(time.Second))
}

// session is a signed-in agent: its cookie header and CSRF token.
type session struct {
	cookie, csrf, origin string
}

func signIn(t *testing.T, n *node, origin, email, password string) *session {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, _ := http.NewRequest("POST", n.url()+"/api/auth/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", origin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("sign in %s on %s: %d %s", email, n.name, res.StatusCode, b)
	}
	s := &session{origin: origin}
	var parts []string
	for _, c := range res.Cookies() {
		parts = append(parts, c.Name+"="+c.Value)
		if c.Name == "parley_csrf" {
			s.csrf = c.Value
		}
	}
	s.cookie = strings.Join(parts, "; ")
	return s
}

func (s *session) call(t *testing.T, n *node, method, path string, in any, want int, out any) {
	t.Helper()
	if err := s.do(n.addr, method, path, in, want, out); err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, n.name, err)
	}
}

func (s *session) do(addr, method, path string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+addr+path, body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", s.origin)
	req.Header.Set("Cookie", s.cookie)
	req.Header.Set("X-CSRF-Token", s.csrf)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return fmt.Errorf("HTTP %d: %s", res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// messages reads a conversation's stored messages through the agent API,
// page by page.
func (s *session) messages(t *testing.T, addr, conv string) []protocol.Message {
	t.Helper()
	var all []protocol.Message
	for {
		var page struct{ Messages []protocol.Message }
		if err := s.do(addr, "GET", fmt.Sprintf("/api/conversations/%s/messages?after=%d", conv, len(all)), nil, http.StatusOK, &page); err != nil {
			t.Fatalf("read the stored messages of %s: %v", conv, err)
		}
		all = append(all, page.Messages...)
		if len(page.Messages) == 0 {
			return all
		}
	}
}

// visitorToken opens a widget session as the widget frame does.
func visitorToken(n *node, origin, siteID string) (string, error) {
	body, _ := json.Marshal(map[string]string{"site_id": siteID, "locale": "en"})
	req, _ := http.NewRequest("POST", n.url()+"/api/widget/session", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", origin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct{ Token string }
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&out) != nil || out.Token == "" {
		return "", fmt.Errorf("visitor session on %s: HTTP %d", n.name, res.StatusCode)
	}
	return out.Token, nil
}

// startConversation opens the visitor's conversation (hello, start) on a
// connection of its own and returns its id.
func startConversation(n *node, path string, h http.Header) (string, error) {
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+n.addr+path, h)
	if err != nil {
		return "", fmt.Errorf("visitor socket on %s: %w", n.name, err)
	}
	defer ws.Close()
	ws.WriteJSON(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: protocol.Version})
	ws.WriteJSON(protocol.Start{Envelope: protocol.Envelope{Type: protocol.TypeStart, Ref: "start"}})
	ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return "", fmt.Errorf("start on %s: %w", n.name, err)
		}
		var f protocol.Conversation
		if json.Unmarshal(data, &f) == nil && f.Type == protocol.TypeConversation && f.Ref == "start" {
			return f.Conversation.ID, nil
		}
	}
}
