package relaynode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/pkg/relay"
)

type testRegistry struct {
	reg     Registry
	advance func(time.Duration) // moves the registry's clock
}

// registries returns a fresh Memory registry and, with PARLEY_TEST_REDIS,
// a Redis one under a prefix of its own; both on a clock the test moves.
func registries(t *testing.T) map[string]testRegistry {
	out := map[string]testRegistry{}
	now := time.Now()
	m := NewMemory()
	m.now = func() time.Time { return now }
	out["memory"] = testRegistry{m, func(d time.Duration) { now = now.Add(d) }}
	if addr := os.Getenv("PARLEY_TEST_REDIS"); addr != "" {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { rdb.Close() })
		b := make([]byte, 6)
		rand.Read(b)
		prefix := "parley-test-" + hex.EncodeToString(b) + ":"
		r := NewRedis(rdb, prefix)
		rnow := time.Now()
		r.now = func() time.Time { return rnow }
		t.Cleanup(func() {
			keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
			if len(keys) > 0 {
				rdb.Del(context.Background(), keys...)
			}
		})
		// Redis expires keys on its own clock: the test moves ours and
		// waits for Redis where a key's TTL matters.
		out["redis"] = testRegistry{r, func(d time.Duration) { rnow = rnow.Add(d); time.Sleep(d) }}
	} else {
		t.Log("PARLEY_TEST_REDIS is not set: the Redis registry is not tested here")
	}
	return out
}

// A relay is live from its heartbeat until three heartbeats are missed,
// gone at once when removed; each conversation keeps its relay.
func TestRegistry(t *testing.T) {
	for name, r := range registries(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			reg := r.reg
			a := Info{ID: "a", ControlURL: "http://127.0.0.1:1", Peers: 3, IntervalMs: 100}
			b := Info{ID: "b", ControlURL: "http://127.0.0.1:2", Peers: 1, IntervalMs: 100}
			for _, i := range []Info{a, b} {
				if err := reg.Heartbeat(ctx, i); err != nil {
					t.Fatal(err)
				}
			}
			live, err := reg.Live(ctx)
			if err != nil || len(live) != 2 {
				t.Fatalf("live: %+v %v", live, err)
			}
			for _, i := range live {
				if i.Seen.IsZero() || (i.ID == "a" && i.Peers != 3) {
					t.Fatalf("stored %+v", i)
				}
			}
			if err := reg.Remove(ctx, "b"); err != nil {
				t.Fatal(err)
			}
			if live, _ := reg.Live(ctx); len(live) != 1 || live[0].ID != "a" {
				t.Fatalf("after remove: %+v", live)
			}
			// Three missed heartbeats (300ms, and Redis's 1s minimum TTL).
			r.advance(1100 * time.Millisecond)
			if live, _ := reg.Live(ctx); len(live) != 0 {
				t.Fatalf("a silent relay is still live: %+v", live)
			}

			if id, err := reg.RelayOf(ctx, "conv-1"); id != "" || err != nil {
				t.Fatalf("relay of an unknown conversation: %q %v", id, err)
			}
			if err := reg.SetRelayOf(ctx, "conv-1", "a"); err != nil {
				t.Fatal(err)
			}
			if id, err := reg.RelayOf(ctx, "conv-1"); id != "a" || err != nil {
				t.Fatalf("relay of conv-1: %q %v", id, err)
			}
		})
	}
}

func TestHeartbeatValidation(t *testing.T) {
	reg := NewMemory()
	for _, bad := range []Info{
		{ControlURL: "http://x", IntervalMs: 100},
		{ID: "a", IntervalMs: 100},
		{ID: "a", ControlURL: "file:///etc/passwd", IntervalMs: 100},
		{ID: "a", ControlURL: "http://", IntervalMs: 100},
		{ID: "a", ControlURL: "http://x"},
		{ID: "a", ControlURL: "http://x", IntervalMs: 100, Peers: -1},
	} {
		if err := reg.Heartbeat(context.Background(), bad); err == nil {
			t.Fatalf("accepted %+v", bad)
		}
	}
}

// New peers go to the relay of most of their conversations first, then
// to the least loaded; draining relays get none.
func TestPoolCandidates(t *testing.T) {
	ctx := context.Background()
	reg := NewMemory()
	pool := NewPool(reg, "secret", slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, i := range []Info{
		{ID: "busy", ControlURL: "http://127.0.0.1:1", Peers: 9, IntervalMs: 1000},
		{ID: "idle", ControlURL: "http://127.0.0.1:2", Peers: 1, IntervalMs: 1000},
		{ID: "mid", ControlURL: "http://127.0.0.1:3", Peers: 4, IntervalMs: 1000},
		{ID: "leaving", ControlURL: "http://127.0.0.1:4", Peers: 0, IntervalMs: 1000, Draining: true},
	} {
		if err := reg.Heartbeat(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(convs ...string) []string {
		c, _, err := pool.candidates(ctx, convs)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, i := range c {
			out = append(out, i.ID)
		}
		return out
	}
	if got := ids(); len(got) != 3 || got[0] != "idle" || got[1] != "mid" || got[2] != "busy" {
		t.Fatalf("new conversation: %v", got)
	}
	reg.SetRelayOf(ctx, "c1", "busy")
	if got := ids("c1"); got[0] != "busy" {
		t.Fatalf("conversation on busy: %v", got)
	}
	reg.SetRelayOf(ctx, "c2", "leaving")
	if got := ids("c2"); got[0] != "idle" {
		t.Fatalf("conversation on a draining relay: %v", got)
	}
	// An agent in several conversations goes where most of them are.
	reg.SetRelayOf(ctx, "c3", "mid")
	reg.SetRelayOf(ctx, "c4", "mid")
	if got := ids("c1", "c3", "c4", "new"); got[0] != "mid" || got[1] != "busy" {
		t.Fatalf("agent's conversations on busy, mid, mid: %v", got)
	}
	// No live relay: ErrNoRelay, and the caller stays on the WebSocket.
	empty := NewPool(NewMemory(), "secret", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := empty.NewPeer(ctx, Owner{}, relay.PeerOptions{}); err != ErrNoRelay {
		t.Fatalf("no relay: %v", err)
	}
}
