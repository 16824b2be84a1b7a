package bus

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// privateRedis starts a redis-server of this test's own on a free loopback
// port, so it can be restarted without disturbing other tests.
func privateRedis(t *testing.T, port int) func() {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitPort(t, port, true)
	stop := func() {
		cmd.Process.Kill()
		cmd.Wait()
		waitPort(t, port, false)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			stop()
		}
	})
	return stop
}

func waitPort(t *testing.T, port int, up bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		if (err == nil) == up {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redis on port %d: want up=%v", port, up)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func recv(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no %q within 10 s", want)
	}
}

// Two nodes share a topic through Redis; Redis restarts; both resubscribe,
// tell their clients to resume, and publications flow again.
func TestRedisBusAcrossNodesAndRestart(t *testing.T) {
	port := freePort(t)
	stop := privateRedis(t, port)
	opts := &redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: 1, DialTimeout: time.Second}
	ca, cb := redis.NewClient(opts), redis.NewClient(opts)
	defer ca.Close()
	defer cb.Close()
	a, b := NewRedis(ca, RedisOptions{}), NewRedis(cb, RedisOptions{})
	defer a.Close()
	defer b.Close()

	got := make(chan string, 10)
	resynced := make(chan struct{}, 10)
	b.OnResync(func() { resynced <- struct{}{} })
	un, err := b.Subscribe(ConversationTopic("c1"), func(_ string, p []byte) { got <- string(p) })
	if err != nil {
		t.Fatal(err)
	}
	b.Subscribe(ConversationTopic("c2"), func(string, []byte) { t.Error("c2 got c1's publication") })
	ctx := context.Background()
	if err := a.Publish(ctx, ConversationTopic("c1"), []byte("before")); err != nil {
		t.Fatal(err)
	}
	recv(t, got, "before")

	stop()
	if err := a.Publish(ctx, ConversationTopic("c1"), []byte("lost")); err == nil {
		t.Log("publish while Redis is down did not fail (buffered by the client)")
	}
	privateRedis(t, port)
	select {
	case <-resynced:
	case <-time.After(20 * time.Second):
		t.Fatal("node b did not resync after the Redis restart")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := a.Publish(ctx, ConversationTopic("c1"), []byte("after")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("publish never worked again")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		select {
		case m := <-got:
			if m == "after" {
				goto unsub
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no publication after the restart")
		}
	}
unsub:
	un()
	a.Publish(ctx, ConversationTopic("c1"), []byte("after unsubscribe"))
	select {
	case m := <-got:
		t.Fatalf("got %q after unsubscribe", m)
	case <-time.After(300 * time.Millisecond):
	}
}

// A node whose publication failed announces it on the control channel once
// Redis takes publications again; every node, the announcer included, then
// tells its clients to resume (their own subscription never broke).
func TestRedisBusResyncAnnouncement(t *testing.T) {
	addr := testRedisAddr(t)
	ca, cb := redis.NewClient(&redis.Options{Addr: addr}), redis.NewClient(&redis.Options{Addr: addr})
	defer ca.Close()
	defer cb.Close()
	a, b := NewRedis(ca, RedisOptions{}), NewRedis(cb, RedisOptions{})
	defer a.Close()
	defer b.Close()
	resynced := make(chan string, 10)
	a.OnResync(func() { resynced <- "a" })
	b.OnResync(func() { resynced <- "b" })
	// Wait until both control subscriptions are live: a round trip through
	// a topic subscribed after them on the same connections.
	got := make(chan string, 100)
	for name, n := range map[string]*Redis{"a": a, "b": b} {
		if _, err := n.Subscribe("probe:"+t.Name(), func(string, []byte) { got <- name }); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	live := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(live) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("subscriptions not live: %v", live)
		}
		if err := a.Publish(ctx, "probe:"+t.Name(), []byte("x")); err != nil {
			t.Fatal(err)
		}
		select {
		case n := <-got:
			live[n] = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	a.repairLater() // what a failed Publish does
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case n := <-resynced:
			seen[n] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("only %v resynced after the announcement", seen)
		}
	}
}

// testRedisAddr is the shared test Redis (PARLEY_TEST_REDIS), or a skip.
func testRedisAddr(t *testing.T) string {
	addr := os.Getenv("PARLEY_TEST_REDIS")
	if addr == "" {
		t.Skip("PARLEY_TEST_REDIS not set")
	}
	return addr
}

// A publication the caller gave up on is not a lost publication: only a
// Redis failure under a live context asks every node to resync.
func TestRedisBusCancelledPublishIsNotLost(t *testing.T) {
	// Nothing listens on the port: a publication can only fail, and a
	// repair, once started, keeps trying until Close.
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), MaxRetries: -1})
	defer c.Close()
	r := NewRedis(c, RedisOptions{})
	defer r.Close()
	repairing := func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.repairing
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Publish(ctx, "t", []byte("x")); err == nil {
		t.Fatal("publish with a cancelled context succeeded")
	}
	if repairing() {
		t.Fatal("a publication cancelled by its caller was announced as lost")
	}
	if err := r.Publish(context.Background(), "t", []byte("x")); err == nil {
		t.Fatal("publish to a closed port succeeded")
	}
	if !repairing() {
		t.Fatal("a publication Redis refused was not announced as lost")
	}
}

// A topic's last subscriber leaving while another arrives must leave the
// node subscribed in Redis: an UNSUBSCRIBE sent after the lock was released
// could overtake the newcomer's SUBSCRIBE, and the node then counted a
// subscriber for a topic Redis no longer sent it.
func TestRedisBusSubscribeRacingUnsubscribe(t *testing.T) {
	addr := testRedisAddr(t)
	node := redis.NewClient(&redis.Options{Addr: addr})
	defer node.Close()
	pub := redis.NewClient(&redis.Options{Addr: addr})
	defer pub.Close()
	r := NewRedis(node, RedisOptions{})
	defer r.Close()
	// Per topic, churners subscribe and unsubscribe as fast as they can,
	// and each keeps its last subscription.
	const topics, churners, rounds = 500, 3, 100
	prefix := "test:race:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	got := make([]chan struct{}, topics)
	var wg sync.WaitGroup
	for i := range topics {
		got[i] = make(chan struct{}, 1)
		h := func(string, []byte) {
			select {
			case got[i] <- struct{}{}:
			default:
			}
		}
		topic := prefix + strconv.Itoa(i)
		for range churners {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range rounds {
					un, err := r.Subscribe(topic, h)
					if err != nil {
						t.Error(err)
						return
					}
					if k < rounds-1 {
						un()
					}
				}
			}()
		}
	}
	wg.Wait()
	// Every topic has subscribers: a publication reaches each. Topics
	// not heard from yet are published to again every 200 ms, for 5 s.
	heard := make([]bool, topics)
	var deaf []int
	for deadline := time.Now().Add(5 * time.Second); ; {
		deaf = deaf[:0]
		for i := range topics {
			select {
			case <-got[i]:
				heard[i] = true
			default:
			}
			if !heard[i] {
				deaf = append(deaf, i)
				pub.Publish(context.Background(), prefix+strconv.Itoa(i), "x")
			}
		}
		if len(deaf) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(deaf) > 0 {
		t.Fatalf("%d of %d topics have subscribers on the node but receive nothing from Redis: %v", len(deaf), topics, deaf)
	}
}

// frozenRedis accepts connections and never answers, as a Redis that is
// stopped (SIGSTOP) or cut off behind a live TCP stack does.
func frozenRedis(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// While Redis does not answer, a publication fails at once after the first
// one timed out, instead of holding every sender (and its ack) for Redis's
// timeouts: the message is stored, and clients resume from the store once
// the bus is back. After a cool-off one publication probes Redis again.
func TestRedisBusFailsFastWhileRedisIsDown(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: frozenRedis(t), DialTimeout: 300 * time.Millisecond,
		ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, MaxRetries: 1})
	defer c.Close()
	r := NewRedis(c, RedisOptions{})
	defer r.Close()
	ctx := context.Background()
	start := time.Now()
	if err := r.Publish(ctx, "t", []byte("x")); err == nil {
		t.Fatal("publish to a frozen Redis succeeded")
	}
	first := time.Since(start)
	start = time.Now()
	for i := 0; i < 10; i++ {
		if err := r.Publish(ctx, "t", []byte("x")); err == nil {
			t.Fatal("publish to a frozen Redis succeeded")
		}
	}
	if d := time.Since(start); d > first/2 {
		t.Fatalf("10 publications while Redis is known down took %s (the first, which found it down, %s): senders wait for Redis", d, first)
	}
	// After the cool-off, a publication asks Redis again.
	time.Sleep(publishCooloff)
	start = time.Now()
	r.Publish(ctx, "t", []byte("x"))
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("the publication after the cool-off failed in %s without asking Redis", d)
	}
}

// A Redis restart makes one resync per node (issue 15, defect 4), however
// many nodes lost publications during it: each node's own reconnect and
// every node's announcement of a lost publication come within
// resyncSettle of each other and run the hooks once. Before, a node ran
// them for its reconnect and again for each announcement (each client got
// 2–3 resync frames per outage).
func TestRedisRestartResyncsEachNodeOnce(t *testing.T) {
	port := freePort(t)
	stop := privateRedis(t, port)
	opts := &redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: 1, DialTimeout: time.Second}
	var runs [2]atomic.Int32
	var nodes [2]*Redis
	for i := range nodes {
		c := redis.NewClient(opts)
		defer c.Close()
		nodes[i] = NewRedis(c, RedisOptions{})
		defer nodes[i].Close()
		nodes[i].OnResync(func() { runs[i].Add(1) })
		if _, err := nodes[i].Subscribe(ConversationTopic(fmt.Sprint(i)), func(string, []byte) {}); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	// Both nodes lose publications while Redis is away, the first one
	// again after a while (past the fail-fast cool-off).
	ctx := context.Background()
	for _, n := range nodes {
		if err := n.Publish(ctx, ConversationTopic("x"), []byte("lost")); err == nil {
			t.Fatal("a publication with Redis down succeeded")
		}
	}
	time.Sleep(publishCooloff)
	nodes[0].Publish(ctx, ConversationTopic("x"), []byte("lost too"))
	privateRedis(t, port)
	for deadline := time.Now().Add(20 * time.Second); runs[0].Load() == 0 || runs[1].Load() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("resyncs after the restart: %d, %d", runs[0].Load(), runs[1].Load())
		}
	}
	// Longer than a lost publication takes to be announced (its retries
	// back off to 2 s) and settle.
	time.Sleep(3 * time.Second)
	for i := range runs {
		if n := runs[i].Load(); n != 1 {
			t.Errorf("node %d resynced %d times for one Redis restart, want 1", i, n)
		}
	}
}
