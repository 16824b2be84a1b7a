package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source for the in-process limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// The GCRA arithmetic on an exact clock: the message rule (20 per 10s,
// burst 20) lets a visitor send 20 at once, then one every 500ms.
func TestMemoryGCRAExact(t *testing.T) {
	clk := &clock{t: time.Unix(1_780_000_000, 0)}
	m := newMemory(clk.now)
	ctx := context.Background()
	limit := DefaultRules().MessagePerVisitor.Limit
	for i := range 20 {
		if res, _ := m.Allow(ctx, "v", limit); !res.Allowed || res.Remaining != 19-i {
			t.Fatalf("burst %d: %+v", i, res)
		}
	}
	res, _ := m.Allow(ctx, "v", limit)
	if res.Allowed || res.RetryAfter != 500*time.Millisecond || res.ResetAfter != 10*time.Second {
		t.Fatalf("past burst: %+v", res)
	}
	clk.add(499 * time.Millisecond)
	if res, _ := m.Allow(ctx, "v", limit); res.Allowed || res.RetryAfter != time.Millisecond {
		t.Fatalf("1ms early: %+v", res)
	}
	clk.add(time.Millisecond)
	if res, _ := m.Allow(ctx, "v", limit); !res.Allowed || res.Remaining != 0 {
		t.Fatalf("on time: %+v", res)
	}
	// Sustained rate: one per 500ms is always allowed, two are not.
	for range 10 {
		clk.add(500 * time.Millisecond)
		if res, _ := m.Allow(ctx, "v", limit); !res.Allowed {
			t.Fatalf("at rate: %+v", res)
		}
		if res, _ := m.Allow(ctx, "v", limit); res.Allowed {
			t.Fatalf("above rate: %+v", res)
		}
	}
}

// Keys that have recovered are dropped, so memory follows active keys only.
func TestMemoryForgetsIdleKeys(t *testing.T) {
	clk := &clock{t: time.Unix(1_780_000_000, 0)}
	m := newMemory(clk.now)
	ctx := context.Background()
	limit := PerMinute(30) // a key recovers 2s per event
	for i := range 10_000 {
		if _, err := m.Allow(ctx, fmt.Sprintf("ip-%d", i), limit); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.size(); n != 10_000 {
		t.Fatalf("tracking %d keys, want 10000", n)
	}
	clk.add(sweepInterval + 3*time.Second)
	// Touch every shard so each sweeps; the touched keys are new.
	for i := range 2 * shardCount * 8 {
		_, _ = m.Allow(ctx, fmt.Sprintf("new-%d", i), limit)
	}
	if n := m.size(); n != 2*shardCount*8 {
		t.Fatalf("after idle period tracking %d keys, want only the %d new ones", n, 2*shardCount*8)
	}
	// A key still inside its window is kept, and remembers its state.
	clk.add(sweepInterval)
	for range 5 {
		_, _ = m.Allow(ctx, "busy", PerHour(5))
	}
	clk.add(sweepInterval + time.Second)
	for i := range 2 * shardCount * 8 {
		_, _ = m.Allow(ctx, fmt.Sprintf("newer-%d", i), limit)
	}
	if res, _ := m.Allow(ctx, "busy", PerHour(5)); res.Allowed {
		t.Fatalf("busy key forgot its state: %+v", res)
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	m := NewMemory()
	ctx := context.Background()
	limit := PerSecond(1_000_000)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_, _ = m.Allow(ctx, fmt.Sprintf("k%d", i%1024), limit)
			i++
		}
	})
}
