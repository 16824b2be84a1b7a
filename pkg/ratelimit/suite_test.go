package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// runID makes every key of this test process unique, so runs against a
// shared Redis never see each other's state; cleanup deletes only these.
var runID = func() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "parley-test:" + hex.EncodeToString(b)
}()

func testKey(t *testing.T, name string) string { return runID + ":" + t.Name() + ":" + name }

// runLimiterSuite is the behaviour every Limiter must have; TestMemory and
// TestRedis run it against each implementation.
func runLimiterSuite(t *testing.T, newLimiter func(t *testing.T) Limiter) {
	ctx := context.Background()

	t.Run("burst allowed then denied", func(t *testing.T) {
		l, key := newLimiter(t), testKey(t, "k")
		limit := Limit{Rate: 1, Burst: 5, Period: time.Minute}
		for i := range 5 {
			res, err := l.Allow(ctx, key, limit)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Allowed || res.Remaining != 4-i || res.RetryAfter != 0 {
				t.Fatalf("call %d: %+v, want allowed with %d remaining", i+1, res, 4-i)
			}
		}
		for range 3 {
			res, err := l.Allow(ctx, key, limit)
			if err != nil {
				t.Fatal(err)
			}
			if res.Allowed || res.Remaining != 0 {
				t.Fatalf("call past the burst: %+v", res)
			}
			// One event costs a minute; the burst was spent just now.
			if res.RetryAfter <= 55*time.Second || res.RetryAfter > time.Minute {
				t.Fatalf("RetryAfter %v, want just under 1m", res.RetryAfter)
			}
			if res.ResetAfter <= 4*time.Minute+55*time.Second || res.ResetAfter > 5*time.Minute {
				t.Fatalf("ResetAfter %v, want just under 5m", res.ResetAfter)
			}
		}
	})

	t.Run("refills after the emission interval", func(t *testing.T) {
		l, key := newLimiter(t), testKey(t, "k")
		limit := Limit{Rate: 2, Burst: 2, Period: time.Second} // one event per 500ms
		for range 2 {
			if res, err := l.Allow(ctx, key, limit); err != nil || !res.Allowed {
				t.Fatalf("burst: %+v %v", res, err)
			}
		}
		res, err := l.Allow(ctx, key, limit)
		if err != nil || res.Allowed {
			t.Fatalf("past burst: %+v %v", res, err)
		}
		if res.RetryAfter <= 0 || res.RetryAfter > 500*time.Millisecond {
			t.Fatalf("RetryAfter %v, want (0, 500ms]", res.RetryAfter)
		}
		time.Sleep(res.RetryAfter + 30*time.Millisecond)
		if res, err := l.Allow(ctx, key, limit); err != nil || !res.Allowed || res.Remaining != 0 {
			t.Fatalf("after RetryAfter: %+v %v, want exactly one allowed", res, err)
		}
		if res, err := l.Allow(ctx, key, limit); err != nil || res.Allowed {
			t.Fatalf("second after RetryAfter: %+v %v", res, err)
		}
		// A full period of idleness restores the whole burst.
		time.Sleep(time.Second + 30*time.Millisecond)
		for i := range 2 {
			if res, err := l.Allow(ctx, key, limit); err != nil || !res.Allowed {
				t.Fatalf("burst after idle, call %d: %+v %v", i+1, res, err)
			}
		}
	})

	t.Run("keys are independent", func(t *testing.T) {
		l := newLimiter(t)
		a, b := testKey(t, "a"), testKey(t, "b")
		limit := PerHour(1)
		if res, _ := l.Allow(ctx, a, limit); !res.Allowed {
			t.Fatal("a first")
		}
		if res, _ := l.Allow(ctx, a, limit); res.Allowed {
			t.Fatal("a second allowed")
		}
		if res, err := l.Allow(ctx, b, limit); err != nil || !res.Allowed {
			t.Fatalf("b blocked by a: %+v %v", res, err)
		}
	})

	t.Run("50 concurrent callers never exceed the burst", func(t *testing.T) {
		l, key := newLimiter(t), testKey(t, "k")
		limit := Limit{Rate: 1, Burst: 10, Period: time.Hour}
		var allowed, denied atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, 50)
		for range 50 {
			wg.Go(func() {
				<-start
				res, err := l.Allow(ctx, key, limit)
				if err != nil {
					errs <- err
					return
				}
				if res.Allowed {
					allowed.Add(1)
				} else {
					denied.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if allowed.Load() != 10 || denied.Load() != 40 {
			t.Fatalf("allowed %d denied %d, want 10 and 40", allowed.Load(), denied.Load())
		}
	})

	t.Run("invalid limits are errors", func(t *testing.T) {
		l := newLimiter(t)
		for _, limit := range []Limit{{}, {Rate: 0, Burst: 1, Period: time.Second}, {Rate: 1, Burst: 0, Period: time.Second},
			{Rate: 1, Burst: 1, Period: -time.Second}, {Rate: 1 << 40, Burst: 1, Period: time.Second}, {Rate: 1, Burst: 1 << 62, Period: time.Hour}} {
			if res, err := l.Allow(ctx, testKey(t, "k"), limit); !errors.Is(err, ErrInvalidLimit) || res != (Result{}) {
				t.Fatalf("%s: %+v %v", limit, res, err)
			}
		}
	})

	t.Run("cancelled context is an error", func(t *testing.T) {
		l := newLimiter(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := l.Allow(cctx, testKey(t, "k"), PerMinute(1)); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestMemory(t *testing.T) {
	runLimiterSuite(t, func(*testing.T) Limiter { return NewMemory() })
}

// redisClient connects to PARLEY_TEST_REDIS or skips; a configured but
// unreachable Redis fails the test.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	addr := os.Getenv("PARLEY_TEST_REDIS")
	if addr == "" {
		t.Skip("PARLEY_TEST_REDIS not set (e.g. 127.0.0.1:6379); skipping Redis rate limiter tests")
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PARLEY_TEST_REDIS=%s: %v", addr, err)
	}
	t.Cleanup(func() {
		// Delete only this run's keys (redis_rate prefixes "rate:").
		ctx := context.Background()
		iter := c.Scan(ctx, 0, "rate:"+runID+":*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return c
}

func TestRedis(t *testing.T) {
	c := redisClient(t)
	runLimiterSuite(t, func(*testing.T) Limiter { return NewRedis(c) })
}

// The two implementations give the same answers to the same sequence.
func TestRedisAgreesWithMemory(t *testing.T) {
	c := redisClient(t)
	ctx := context.Background()
	impls := map[string]Limiter{"memory": NewMemory(), "redis": NewRedis(c)}
	for _, limit := range []Limit{
		{Rate: 3, Burst: 5, Period: time.Minute},
		PerSecond(1),
		{Rate: 20, Burst: 20, Period: 10 * time.Second},
		{Rate: 10, Burst: 1, Period: time.Hour},
	} {
		got := map[string][]Result{}
		for name, l := range impls {
			key := testKey(t, limit.String())
			for range 8 {
				res, err := l.Allow(ctx, key, limit)
				if err != nil {
					t.Fatal(err)
				}
				got[name] = append(got[name], res)
			}
		}
		for i := range got["memory"] {
			m, r := got["memory"][i], got["redis"][i]
			if m.Allowed != r.Allowed || m.Remaining != r.Remaining ||
				absDur(m.RetryAfter-r.RetryAfter) > 100*time.Millisecond || absDur(m.ResetAfter-r.ResetAfter) > 100*time.Millisecond {
				t.Fatalf("%s call %d: memory %+v, redis %+v", limit, i+1, m, r)
			}
		}
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func BenchmarkRedisAllow(b *testing.B) {
	addr := os.Getenv("PARLEY_TEST_REDIS")
	if addr == "" {
		b.Skip("PARLEY_TEST_REDIS not set")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	l := NewRedis(c)
	ctx := context.Background()
	key := runID + ":bench"
	defer c.Del(ctx, "rate:"+key)
	for b.Loop() {
		if _, err := l.Allow(ctx, key, PerSecond(1_000_000)); err != nil {
			b.Fatal(err)
		}
	}
}
