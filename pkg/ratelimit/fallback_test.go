package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// syncBuffer collects log output from concurrent Allow calls.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// deadRedis is a real Redis client aimed at a loopback port nobody listens on.
func deadRedis(t *testing.T) *redis.Client {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestFallbackWhenRedisIsDown(t *testing.T) {
	ctx := context.Background()
	logs := &syncBuffer{}
	l := FallbackWithLogger(NewRedis(deadRedis(t)), NewMemory(), slog.New(slog.NewTextHandler(logs, nil)))
	limit := PerMinute(3)

	// Chat goes on with limits enforced by the secondary.
	for i := range 3 {
		if res, err := l.Allow(ctx, "rl:msg:visitor:v1", limit); err != nil || !res.Allowed {
			t.Fatalf("call %d: %+v %v", i+1, res, err)
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if res, err := l.Allow(ctx, "rl:msg:visitor:v1", limit); err != nil || res.Allowed {
				t.Errorf("past the limit: %+v %v", res, err)
			}
		})
	}
	wg.Wait()
	// During the cool-off calls skip Redis and pay no dial timeout.
	if d := time.Since(start); d > 150*time.Millisecond {
		t.Fatalf("20 calls during the outage took %v", d)
	}
	if n := strings.Count(logs.String(), "primary failed"); n != 1 {
		t.Fatalf("outage logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("outage not logged as a warning:\n%s", logs)
	}
}

func TestFallbackPassesCallerErrors(t *testing.T) {
	l := FallbackWithLogger(NewRedis(deadRedis(t)), NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := l.Allow(context.Background(), "k", Limit{}); !errors.Is(err, ErrInvalidLimit) {
		t.Fatalf("invalid limit: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Allow(ctx, "k", PerMinute(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// proxy forwards loopback TCP to Redis and can cut every connection, to
// stage an outage and a recovery of a real Redis.
type proxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target}
	p.up("127.0.0.1:0")
	t.Cleanup(p.down)
	return p
}

func (p *proxy) up(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r, err := net.DialTimeout("tcp", p.target, time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, r)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(r, c); r.Close() }()
			go func() { _, _ = io.Copy(c, r); c.Close() }()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestFallbackRecovers(t *testing.T) {
	target := os.Getenv("PARLEY_TEST_REDIS")
	if target == "" {
		t.Skip("PARLEY_TEST_REDIS not set; skipping the Redis outage and recovery test")
	}
	redisClient(t) // fails fast if the configured Redis is unreachable; cleans this run's keys
	p := startProxy(t, target)
	c := redis.NewClient(&redis.Options{Addr: p.addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	logs := &syncBuffer{}
	f := FallbackWithLogger(NewRedis(c), NewMemory(), slog.New(slog.NewTextHandler(logs, nil))).(*fallback)
	clk := &clock{t: time.Now()}
	f.now = clk.now
	ctx := context.Background()
	key := testKey(t, "k")
	limit := PerHour(100)

	if res, err := f.Allow(ctx, key, limit); err != nil || res.Remaining != 99 {
		t.Fatalf("through redis: %+v %v", res, err)
	}
	p.down()
	// Redis gone: answered by memory, where the key is fresh.
	if res, err := f.Allow(ctx, key, limit); err != nil || !res.Allowed || res.Remaining != 99 {
		t.Fatalf("during outage: %+v %v", res, err)
	}
	p.up(p.addr)
	// Within the cool-off the fallback does not look at Redis yet.
	if res, _ := f.Allow(ctx, key, limit); res.Remaining != 98 {
		t.Fatalf("in cool-off, want memory's answer: %+v", res)
	}
	clk.add(fallbackCooloff + time.Second)
	// The probe reaches Redis, which still holds the pre-outage state.
	res, err := f.Allow(ctx, key, limit)
	if err != nil || res.Remaining != 98 {
		t.Fatalf("after recovery: %+v %v", res, err)
	}
	if res, _ := f.Allow(ctx, key, limit); res.Remaining != 97 {
		t.Fatalf("after recovery, second call: %+v", res)
	}
	out := logs.String()
	if strings.Count(out, "primary failed") != 1 || strings.Count(out, "answers again") != 1 {
		t.Fatalf("want one outage and one recovery line:\n%s", out)
	}
}
