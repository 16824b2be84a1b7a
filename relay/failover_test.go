package main

// The relay failover test with real processes: signaling and two
// standalone relays on loopback, sharing PostgreSQL and Redis; Pion clients
// chat over data channels; the relay serving some of them is killed with
// SIGKILL. Its clients must get rtc_stop at once, go on over the WebSocket
// (resending unacked sends by client id, resuming by seq), and get a data
// channel again on the other relay; in the end every acked message is
// stored once and every client holds every message once, in seq order.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/parleychat/parley/pkg/keyring"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay/relaytest"
	"github.com/parleychat/parley/pkg/store/storetest"
)

const (
	secret      = "failover-relay-secret-0123456789abcdef"
	adminPass   = "failover-admin-password"
	visitors    = 4
	sendEvery   = 25 * time.Millisecond
	redisTestDB = 14 // the registry's keys stay out of other tests' way
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build %s: %v", pkg, err)
	}
	return out
}

// proc is a started binary; its output goes to a log file shown on failure.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func start(t *testing.T, dir, bin, name string, env ...string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- %s log ---\n%s", name, tail(string(b), 4000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func waitHTTP(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == want {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %d within 30s", url, want)
}

// rtcStopWithin bounds how long a killed relay's clients may wait for
// rtc_stop. It is measured in seconds when the machine is quiet; the bound
// is loose so a loaded CI machine does not fail the test.
const rtcStopWithin = 15 * time.Second

// waitMetric waits until series at base reads want.
func waitMetric(t *testing.T, base, series string, want float64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	got := metric(t, base, series)
	for got != want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		got = metric(t, base, series)
	}
	if got != want {
		t.Fatalf("%s %s is %v after 15s, want %v", base, series, got, want)
	}
}

// waitAcks waits until every client has had n more of its sends acked,
// proving that chat flows (it replaces "let it run for a second", which on
// a loaded machine proved nothing).
func waitAcks(t *testing.T, clients []*client, n int, what string) {
	t.Helper()
	start := make([]int, len(clients))
	for i, c := range clients {
		start[i] = c.ackCount()
	}
	deadline := time.Now().Add(30 * time.Second)
	for i, c := range clients {
		for c.ackCount() < start[i]+n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d of %d more sends acked %s within 30s", c.name, c.ackCount()-start[i], n, what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func metric(t *testing.T, base, series string) float64 {
	t.Helper()
	v, err := relaytest.Metric(base, series)
	if err != nil {
		return -1 // not answering (killed, or not up yet)
	}
	return v
}

func TestRelayKilledClientsMoveOn(t *testing.T) {
	pg, rd := os.Getenv("PARLEY_TEST_POSTGRES"), os.Getenv("PARLEY_TEST_REDIS")
	if pg == "" || rd == "" {
		t.Skip("needs PARLEY_TEST_POSTGRES and PARLEY_TEST_REDIS (make test sets them when the servers run)")
	}
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	dir := t.TempDir()
	sigBin := build(t, dir, "github.com/parleychat/parley/signaling")
	relBin := build(t, dir, "github.com/parleychat/parley/relay")
	// Relays with the fleet's store and bus commit chat themselves; without
	// them they forward it to signaling. Both must survive a kill.
	t.Run("committing", func(t *testing.T) { relayKilled(t, pg, rd, sigBin, relBin, true) })
	t.Run("forwarding", func(t *testing.T) { relayKilled(t, pg, rd, sigBin, relBin, false) })
}

func relayKilled(t *testing.T, pg, rd, sigBin, relBin string, commit bool) {
	dir := t.TempDir()
	key, err := keyring.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	keys := keyring.EnvVar + "=" + key.Encode()
	redisURL := fmt.Sprintf("PARLEY_REDIS_URL=redis://%s/%d", rd, redisTestDB)
	dsn, drop, err := storetest.Schema(pg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)

	sigAddr := freeAddr(t)
	sigURL := "http://" + sigAddr
	start(t, dir, sigBin, "signaling",
		"PARLEY_ADDR="+sigAddr, "PARLEY_DATA_DIR="+filepath.Join(dir, "data"), "PARLEY_DATABASE_URL="+dsn, keys,
		redisURL, "PARLEY_RELAY_SECRET="+secret,
		"PARLEY_SECRET=failover-visitor-token-key-0123456789", "PARLEY_ADMIN_PASSWORD="+adminPass,
		"PARLEY_RATE_LIMITS=off", "PARLEY_LOG_LEVEL=debug")
	waitHTTP(t, sigURL+"/readyz", 200)
	relays := map[string]string{} // id → base URL
	procs := map[string]*proc{}
	for _, id := range []string{"relay-a", "relay-b"} {
		addr := freeAddr(t)
		relays[id] = "http://" + addr
		env := []string{"PARLEY_RELAY_ID=" + id, "PARLEY_RELAY_ADDR=" + addr,
			"PARLEY_RELAY_SIGNALING_URLS=" + sigURL, "PARLEY_RELAY_SECRET=" + secret, "PARLEY_RELAY_HEARTBEAT=500ms"}
		if commit {
			env = append(env, "PARLEY_DATABASE_URL="+dsn, redisURL, keys, "PARLEY_RATE_LIMITS=off")
		}
		procs[id] = start(t, dir, relBin, id, env...)
	}
	for _, base := range relays {
		waitHTTP(t, base+"/readyz", 200) // registered
	}

	hc := login(t, sigURL)
	site := firstSite(t, hc, sigURL)
	agent := dialAgent(t, sigURL, hc)
	agent.hello(t)
	agent.negotiate(t)
	clients := []*client{agent}
	var vs []*client
	for i := range visitors {
		v := dialVisitor(t, sigURL, site, fmt.Sprintf("v%d", i))
		v.hello(t)
		v.startConversation(t)
		v.negotiate(t)
		vs = append(vs, v)
		clients = append(clients, v)
	}
	waitAssigned(t, hc, sigURL, vs)
	for _, v := range vs {
		agent.convs = append(agent.convs, v.convs[0])
	}

	// Which relay serves whom: peers per relay.
	victim, survivor := "relay-a", "relay-b"
	if metric(t, relays["relay-b"], "parley_relay_peers") > metric(t, relays["relay-a"], "parley_relay_peers") {
		victim, survivor = survivor, victim
	}
	if n := metric(t, relays[victim], "parley_relay_peers"); n < 1 {
		t.Fatalf("no peer on %s", victim)
	}
	onVictim := int(metric(t, relays[victim], "parley_relay_peers"))
	t.Logf("peers: %s %d, %s %v", victim, onVictim, survivor, metric(t, relays[survivor], "parley_relay_peers"))

	ctx, stopSending := context.WithCancel(context.Background())
	var senders sync.WaitGroup
	for _, c := range clients {
		senders.Add(1)
		go func() { defer senders.Done(); c.sendLoop(ctx) }()
	}
	waitAcks(t, clients, 3, "before the kill")

	killed := time.Now()
	procs[victim].cmd.Process.Signal(syscall.SIGKILL)
	<-procs[victim].done
	// Every client of the victim must hear rtc_stop within seconds (the
	// bound leaves room for a loaded machine; the log gives the figure).
	var moved []*client
	var worst time.Duration
	for deadline := time.Now().Add(rtcStopWithin); len(moved) < onVictim && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		moved, worst = moved[:0], 0
		for _, c := range clients {
			if s := c.stoppedAt(); !s.IsZero() {
				moved = append(moved, c)
				worst = max(worst, s.Sub(killed))
			}
		}
	}
	if len(moved) != onVictim {
		t.Fatalf("%d clients got rtc_stop within %v of killing %s, which served %d", len(moved), rtcStopWithin, victim, onVictim)
	}
	t.Logf("killed %s: %d clients got rtc_stop, worst after %v", victim, len(moved), worst)
	waitAcks(t, clients, 2, "over the WebSocket after rtc_stop")

	// They renegotiate: the dead relay is out of the registry, the other
	// takes them.
	for _, c := range moved {
		if c.onDC() {
			t.Fatalf("%s still thinks its data channel is open", c.name)
		}
		c.negotiate(t)
	}
	waitMetric(t, relays[survivor], "parley_relay_peers", float64(len(clients)))
	waitAcks(t, clients, 2, "over the new data channels")
	stopSending()
	senders.Wait()
	if acks := metric(t, relays[survivor], "parley_relay_ack_seconds_count"); commit != (acks > 0) {
		t.Fatalf("committing=%v but %s acked %v sends itself", commit, survivor, acks)
	}

	for _, c := range clients {
		c.flush(t)
		if len(c.problems) > 0 {
			t.Fatalf("%s: %v", c.name, c.problems)
		}
	}
	var acked, checked, wireDups int
	for _, v := range vs {
		conv := v.convs[0]
		stored := storedMessages(t, hc, sigURL, conv)
		byClientID := map[string]int64{}
		for i, m := range stored {
			if m.Seq != int64(i+1) {
				t.Fatalf("%s: stored seqs not 1..n: %d at %d", conv, m.Seq, i)
			}
			if m.ClientID != "" {
				if _, dup := byClientID[m.ClientID]; dup {
					t.Fatalf("%s: client id %s stored twice", conv, m.ClientID)
				}
				byClientID[m.ClientID] = m.Seq
			}
		}
		for _, c := range []*client{v, agent} {
			for id, seq := range c.ackedIn(conv) {
				acked++
				if byClientID[id] != seq {
					t.Fatalf("%s: %s acked %s at seq %d, stored at %d", conv, c.name, id, seq, byClientID[id])
				}
			}
			got := c.received(conv)
			if len(got) != len(stored) {
				t.Fatalf("%s: %s holds %d messages, stored %d", conv, c.name, len(got), len(stored))
			}
			for i, m := range stored {
				if got[i].Seq != m.Seq || got[i].ClientID != m.ClientID || got[i].Body != m.Body {
					t.Fatalf("%s: %s message %d is %+v, stored %+v", conv, c.name, i, got[i], m)
				}
			}
			checked += len(got)
			wireDups += c.dups(conv)
		}
	}
	var overDC, overWS int
	acks := map[string][]time.Duration{}
	for _, c := range clients {
		overDC += c.count(transportDC)
		overWS += c.count(transportWS)
		c.mu.Lock()
		for via, ds := range c.ackTimes {
			acks[via] = append(acks[via], ds...)
		}
		c.mu.Unlock()
	}
	for _, via := range []string{transportDC, transportWS} {
		ds := acks[via]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		if len(ds) > 0 {
			t.Logf("ack latency over %s (send to ack, first send only): n=%d p50=%v p99=%v", via, len(ds), ds[len(ds)/2], ds[len(ds)*99/100])
		}
	}
	if overDC == 0 || overWS == 0 {
		t.Fatalf("frames over data channels %d, over WebSockets %d: both should carry chat", overDC, overWS)
	}
	t.Logf("acked sends %d (all stored once at their acked seq); messages checked at receivers %d (lost 0, out of order 0); "+
		"duplicates on the wire dropped by seq %d; frames received over data channels %d, WebSockets %d; worst rtc_stop %v after kill",
		acked, checked, wireDups, overDC, overWS, worst)
}

func login(t *testing.T, base string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	req, _ := http.NewRequest("POST", base+"/api/auth/login", strings.NewReader(`{"email":"admin@parley.local","password":"`+adminPass+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base) // the agent app's own origin
	res, err := hc.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login: %v %v", err, res)
	}
	res.Body.Close()
	return hc
}

func firstSite(t *testing.T, hc *http.Client, base string) string {
	t.Helper()
	res, err := hc.Get(base + "/api/sites")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("sites: %v %v", err, res)
	}
	defer res.Body.Close()
	var out struct{ Sites []struct{ ID string } }
	json.NewDecoder(res.Body).Decode(&out)
	if len(out.Sites) == 0 {
		t.Fatal("no site")
	}
	return out.Sites[0].ID
}

// waitAssigned waits until the agent owns every visitor's conversation.
func waitAssigned(t *testing.T, hc *http.Client, base string, vs []*client) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		res, err := hc.Get(base + "/api/conversations")
		if err == nil {
			var out struct{ Conversations []protocol.ConversationInfo }
			json.NewDecoder(res.Body).Decode(&out)
			res.Body.Close()
			open := map[string]bool{}
			for _, c := range out.Conversations {
				open[c.ID] = c.Status == protocol.ConversationOpen
			}
			all := true
			for _, v := range vs {
				all = all && open[v.convs[0]]
			}
			if all {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("conversations not assigned to the agent within 15s")
}

func storedMessages(t *testing.T, hc *http.Client, base, conv string) []protocol.Message {
	t.Helper()
	var all []protocol.Message
	after := int64(0)
	for {
		res, err := hc.Get(fmt.Sprintf("%s/api/conversations/%s/messages?after=%d", base, conv, after))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("messages: %v %v", err, res)
		}
		var out struct{ Messages []protocol.Message }
		json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if len(out.Messages) == 0 {
			break
		}
		all = append(all, out.Messages...)
		after = out.Messages[len(out.Messages)-1].Seq
	}
	return all
}

const (
	transportDC = "datachannel"
	transportWS = "websocket"
)

// client plays a browser as the widget and the agent app do it: a
// WebSocket, a data channel when negotiated, sends with client ids kept
// until acked and resent after a switch, and messages kept by seq.
type client struct {
	name string
	ws   *websocket.Conn
	wmu  sync.Mutex

	mu       sync.Mutex
	pc       *webrtc.PeerConnection
	dc       *webrtc.DataChannel
	dcOpen   bool
	opened   chan struct{}
	stopped  time.Time
	convs    []string
	unacked  map[string]protocol.Send
	order    []string // unacked client ids in send order
	acks     map[string]protocol.Ack
	msgs     map[string]map[int64]protocol.Message
	dupCount map[string]int
	via      map[string]int
	next     int
	replies  chan []byte // frames with a ref the test waits for
	problems []string    // broken promises seen by the reader
	sentAt   map[string]time.Time
	ackTimes map[string][]time.Duration // send → ack, by the transport the ack came on
}

func dialClient(t *testing.T, name, url string, h http.Header) *client {
	t.Helper()
	ws, res, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		t.Fatalf("%s dial: %v %v", name, err, res)
	}
	c := &client{name: name, ws: ws, opened: make(chan struct{}), unacked: map[string]protocol.Send{},
		acks: map[string]protocol.Ack{}, msgs: map[string]map[int64]protocol.Message{}, dupCount: map[string]int{},
		via: map[string]int{}, replies: make(chan []byte, 64), sentAt: map[string]time.Time{}, ackTimes: map[string][]time.Duration{}}
	done := make(chan struct{})
	go func() { defer close(done); c.readWS() }()
	t.Cleanup(func() {
		c.mu.Lock()
		pc := c.pc
		c.mu.Unlock()
		if pc != nil {
			pc.Close()
		}
		ws.Close()
		<-done
	})
	return c
}

func dialAgent(t *testing.T, base string, hc *http.Client) *client {
	h := http.Header{"Origin": {base}}
	u, _ := http.NewRequest("GET", base, nil)
	for _, ck := range hc.Jar.Cookies(u.URL) {
		h.Add("Cookie", ck.Name+"="+ck.Value)
	}
	return dialClient(t, "agent", "ws"+strings.TrimPrefix(base, "http")+"/ws/agent", h)
}

func dialVisitor(t *testing.T, base, site, name string) *client {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"site_id": site, "locale": "en-US"})
	req, _ := http.NewRequest("POST", base+"/api/widget/session", bytes.NewReader(body))
	req.Header.Set("Origin", base)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("widget session: %v %v", err, res)
	}
	var out struct{ Token string }
	json.NewDecoder(res.Body).Decode(&out)
	res.Body.Close()
	return dialClient(t, name, "ws"+strings.TrimPrefix(base, "http")+"/ws/visitor?token="+out.Token, http.Header{"Origin": {base}})
}

func (c *client) write(v any) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.ws.WriteJSON(v)
}

func (c *client) hello(t *testing.T) {
	t.Helper()
	c.write(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello, Ref: "hello"}, V: 1})
	if c.waitRef("hello") == nil {
		t.Fatalf("%s: no welcome", c.name)
	}
}

// waitRef returns the reply to ref, nil after 15s.
func (c *client) waitRef(ref string) []byte {
	timeout := time.After(15 * time.Second)
	for {
		select {
		case b := <-c.replies:
			var env protocol.Envelope
			json.Unmarshal(b, &env)
			if env.Ref == ref {
				return b
			}
		case <-timeout:
			return nil
		}
	}
}

func (c *client) startConversation(t *testing.T) {
	c.write(protocol.Start{Envelope: protocol.Envelope{Type: protocol.TypeStart, Ref: "start"}})
	var f protocol.Conversation
	json.Unmarshal(c.waitRef("start"), &f)
	if f.Conversation.ID == "" {
		t.Fatalf("%s: no conversation", c.name)
	}
	c.mu.Lock()
	c.convs = []string{f.Conversation.ID}
	c.mu.Unlock()
}

// negotiate asks for a data channel and waits until it is open.
func (c *client) negotiate(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	c.opened = make(chan struct{})
	c.stopped = time.Time{}
	opened := c.opened
	c.mu.Unlock()
	c.write(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}})
	// On a loaded machine the server may give the attempt up (rtc_stop
	// after PARLEY_RTC_TIMEOUT); then ask again, as the widget does.
	deadline := time.After(45 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-opened:
			done = true
		case <-tick.C:
			c.mu.Lock()
			stopped := !c.stopped.IsZero()
			if stopped {
				c.stopped = time.Time{}
			}
			c.mu.Unlock()
			if stopped {
				t.Logf("%s: data channel attempt given up by the server; asking again", c.name)
				c.write(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}})
			}
		case <-deadline:
			t.Fatalf("%s: data channel not open in 45s", c.name)
		}
	}
}

func (c *client) onDC() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dcOpen
}

func (c *client) stoppedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

func (c *client) readWS() {
	relaytest.ReadFrames(c.ws, func(typ string, data []byte) {
		switch typ {
		case protocol.TypeRTCOffer:
			c.answer(relaytest.Offer(data))
		case protocol.TypeRTCCandidate:
			c.mu.Lock()
			pc := c.pc
			c.mu.Unlock()
			relaytest.AddCandidate(pc, data)
		case protocol.TypeRTCStop:
			c.fallBack()
		default:
			c.frame(data, transportWS)
		}
	})
}

// fallBack is the widget's rtc_stop: back to the WebSocket, resend what is
// unacked, resume every conversation from its last contiguous seq.
func (c *client) fallBack() {
	c.mu.Lock()
	c.dcOpen = false
	c.stopped = time.Now()
	dc, pc := c.dc, c.pc
	c.dc, c.pc = nil, nil
	c.mu.Unlock()
	if dc != nil {
		dc.Close()
	}
	if pc != nil {
		pc.Close()
	}
	c.catchUp("")
}

// catchUp resends over the WebSocket what is unacked, in send order, and
// resumes every conversation from its last contiguous seq (the resume frame
// carries ref); it returns how many sends it resent.
func (c *client) catchUp(ref string) int {
	c.mu.Lock()
	var resend []protocol.Send
	for _, id := range c.order {
		if s, ok := c.unacked[id]; ok {
			resend = append(resend, s)
		}
	}
	resume := map[string]int64{}
	for _, conv := range c.convs {
		resume[conv] = c.contiguous(conv)
	}
	c.mu.Unlock()
	for _, s := range resend {
		c.write(s)
	}
	c.write(protocol.Resume{Envelope: protocol.Envelope{Type: protocol.TypeResume, Ref: ref}, Conversations: resume})
	return len(resend)
}

func (c *client) contiguous(conv string) int64 {
	n := int64(0)
	for {
		if _, ok := c.msgs[conv][n+1]; !ok {
			return n
		}
		n++
	}
}

// answer does what the widget does with rtc_offer.
func (c *client) answer(o protocol.RTCOffer) {
	pc, err := relaytest.NewPeer()
	if err != nil {
		return
	}
	c.mu.Lock()
	old := c.pc
	c.pc = pc
	opened := c.opened
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
	relaytest.Answer(pc, o, relaytest.Handlers{
		Send: func(frame any) { c.write(frame) },
		OnOpen: func(dc *webrtc.DataChannel) {
			c.mu.Lock()
			if c.pc == pc {
				c.dc, c.dcOpen = dc, true
			}
			c.mu.Unlock()
			select {
			case <-opened:
			default:
				close(opened)
			}
		},
		OnMessage: func(data []byte) { c.frame(data, transportDC) },
	})
}

// frame takes a frame from either transport.
func (c *client) frame(data []byte, via string) {
	var env protocol.Envelope
	json.Unmarshal(data, &env)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.via[via]++
	switch env.Type {
	case protocol.TypeAck:
		var a protocol.Ack
		json.Unmarshal(data, &a)
		if prev, ok := c.acks[a.ClientID]; ok && prev.Seq != a.Seq {
			c.problems = append(c.problems, fmt.Sprintf("%s acked at seq %d and at %d", a.ClientID, prev.Seq, a.Seq))
		}
		if _, first := c.unacked[a.ClientID]; first {
			c.ackTimes[via] = append(c.ackTimes[via], time.Since(c.sentAt[a.ClientID]))
		}
		c.acks[a.ClientID] = a
		delete(c.unacked, a.ClientID)
	case protocol.TypeMessage:
		var m protocol.Message
		json.Unmarshal(data, &m)
		if c.msgs[m.Conversation] == nil {
			c.msgs[m.Conversation] = map[int64]protocol.Message{}
		}
		if prev, ok := c.msgs[m.Conversation][m.Seq]; ok {
			if prev.ClientID != m.ClientID {
				c.problems = append(c.problems, fmt.Sprintf("seq %d of %s is %s and %s", m.Seq, m.Conversation, prev.ClientID, m.ClientID))
			}
			c.dupCount[m.Conversation]++
			return
		}
		c.msgs[m.Conversation][m.Seq] = m
	case protocol.TypeError:
		// Retryable errors leave the send unacked: it is resent.
	default:
		if env.Ref != "" {
			select {
			case c.replies <- data:
			default:
			}
		}
	}
}

// sendLoop sends a message every sendEvery, round robin over the client's
// conversations, over the data channel when open.
func (c *client) sendLoop(ctx context.Context) {
	t := time.NewTicker(sendEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		conv := c.convs[c.next%len(c.convs)]
		id := fmt.Sprintf("%s-%d", c.name, c.next)
		c.next++
		s := protocol.Send{Envelope: protocol.Envelope{Type: protocol.TypeSend, Ref: id}, ClientID: id, Conversation: conv, Body: "message " + id}
		c.unacked[id] = s
		c.sentAt[id] = time.Now()
		c.order = append(c.order, id)
		dc := c.dc
		if !c.dcOpen {
			dc = nil
		}
		c.mu.Unlock()
		if dc != nil {
			b, _ := json.Marshal(s)
			if dc.SendText(string(b)) == nil {
				continue
			}
		}
		c.write(s)
	}
}

// flush resends what is still unacked and resumes every conversation over
// the WebSocket until everything is acked and the client is synced.
func (c *client) flush(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resent := c.catchUp("flush")
		time.Sleep(500 * time.Millisecond)
		if resent == 0 {
			return
		}
	}
	t.Fatalf("%s: sends still unacked after 20s", c.name)
}

func (c *client) ackCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.acks)
}

func (c *client) ackedIn(conv string) map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int64{}
	for id, a := range c.acks {
		if a.Conversation == conv {
			out[id] = a.Seq
		}
	}
	return out
}

func (c *client) received(conv string) []protocol.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]protocol.Message, 0, len(c.msgs[conv]))
	for _, m := range c.msgs[conv] {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

func (c *client) dups(conv string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dupCount[conv]
}

func (c *client) count(via string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.via[via]
}
