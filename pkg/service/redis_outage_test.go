package service

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// testRedis is a redis-server of a test's own, which the test may kill and
// start again (never the shared one other tests use).
type testRedis struct {
	t    *testing.T
	port int
	addr string
	dir  string
	cmd  *exec.Cmd
}

// startTestRedis starts a redis-server on a free port, or skips the test
// when none is installed.
func startTestRedis(t *testing.T) *testRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &testRedis{t: t, port: port, addr: fmt.Sprintf("127.0.0.1:%d", port), dir: t.TempDir()}
	r.start()
	t.Cleanup(r.kill)
	return r
}

// start runs the server and waits until it accepts connections.
func (r *testRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", r.addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatal("redis-server did not start")
		}
	}
}

// kill stops the server at once (SIGKILL), as a crash would.
func (r *testRedis) kill() {
	if r.cmd != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// bus returns a Redis bus on this server with the client options a fleet
// process uses (fleet.Redis).
func (r *testRedis) bus(t *testing.T) *bus.Redis {
	rc := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: 1, DialTimeout: time.Second})
	rb := bus.NewRedis(rc, bus.RedisOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { rb.Close(); rc.Close() })
	return rb
}

// A Redis restart under two signaling nodes (issue 15, defect 4): every
// client is told to resume exactly once, a data-channel client keeps its
// data channel, and sends during the outage are stored and acked without
// waiting for Redis. Before, each node resynced for its own reconnect,
// again for every node's announcement of a lost publication, and once
// more when an announcement came during a running pass: 2–3 resync frames
// per client.
func TestRedisRestartResyncsEachClientOnce(t *testing.T) {
	rs := startTestRedis(t)
	st := storetest.SQLite(t)
	node := func() *fleetNode {
		rb := rs.bus(t)
		n := newFleetNode(t, st, rb, nil)
		rb.OnResync(n.srv.Resync) // as Run does
		return n
	}
	a, b := node(), node()

	ag, _ := b.rtcAgent(t)
	ag.hello()
	dc := a.rtcVisitor(t, a.visitorToken(t))
	dc.hello()
	dcConv := dc.start().ID
	dc.negotiate()
	ws := a.rtcVisitor(t, a.visitorToken(t))
	ws.hello()
	wsConv := ws.start().ID

	// sendAll sends n messages one at a time and returns the slowest
	// send-to-ack time; each time is logged.
	sendAll := func(c *rtcClient, viaDC bool, conv, tag string, n int) (worst time.Duration) {
		t.Helper()
		for i := range n {
			id := fmt.Sprintf("%s-%d", tag, i)
			start := time.Now()
			if viaDC {
				c.sendDC(sendFrame(conv, id, "message "+id))
			} else {
				c.send(sendFrame(conv, id, "message "+id))
			}
			f := nextFrame(t, c.in, protocol.TypeAck, id, tag)
			if viaDC && f.via != transportDataChannel {
				t.Fatalf("%s acked over %s", id, f.via)
			}
			took := time.Since(start)
			t.Logf("%s acked in %v", id, took.Round(time.Millisecond))
			worst = max(worst, took)
		}
		return worst
	}
	sendAll(dc, true, dcConv, "dc-before", 1)
	sendAll(ws, false, wsConv, "ws-before", 1)

	rs.kill()
	const during = 10
	worst := max(sendAll(dc, true, dcConv, "dc-down", during), sendAll(ws, false, wsConv, "ws-down", during))
	t.Logf("worst send-to-ack while Redis was down: %v", worst)
	if limit := 300 * time.Millisecond * raceSlowdown; worst > limit {
		t.Errorf("a send waited %v for its ack while Redis was down (limit %v)", worst, limit)
	}
	rs.start()

	// Each client gets its first resync; then, for longer than the bus
	// takes to announce a lost publication (its retries back off to 2 s),
	// no other.
	clients := map[string]*rtcClient{"agent": ag, "data-channel visitor": dc, "websocket visitor": ws}
	for tag, c := range clients {
		nextFrame(t, c.in, protocol.TypeResync, "", tag)
	}
	quiet := time.After(4 * time.Second)
	extra := map[string]int{}
	for wait := true; wait; {
		select {
		case <-quiet:
			wait = false
		case f := <-ag.in:
			if f.typ == protocol.TypeResync {
				extra["agent"]++
			}
		case f := <-dc.in:
			if f.typ == protocol.TypeResync {
				extra["data-channel visitor"]++
			}
		case f := <-ws.in:
			if f.typ == protocol.TypeResync {
				extra["websocket visitor"]++
			}
		}
	}
	for tag, n := range extra {
		if n > 0 {
			t.Errorf("%s: %d resync frames after the first for one Redis restart", tag, n)
		}
	}
	select {
	case r := <-dc.stopped:
		t.Fatalf("the data channel was stopped (%s)", r)
	default:
	}

	// What was sent during the outage reaches the agent on the other
	// node through its resume.
	ag.send(protocol.Resume{Envelope: protocol.Envelope{Type: protocol.TypeResume, Ref: "r"}, Conversations: map[string]int64{dcConv: 0, wsConv: 0}})
	synced := map[string]int64{}
	for len(synced) < 2 {
		var s protocol.Synced
		json.Unmarshal(nextFrame(t, ag.in, protocol.TypeSynced, "", "agent").data, &s)
		synced[s.Conversation] = s.Seq
	}
	for _, conv := range []string{dcConv, wsConv} {
		if synced[conv] < during+1 {
			t.Fatalf("agent synced %s at seq %d, want at least %d", conv, synced[conv], during+1)
		}
	}
	sendAll(dc, true, dcConv, "dc-after", 1)
}
