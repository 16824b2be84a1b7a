// Package fleet builds what every process of a Parley fleet — signaling
// nodes and committing relays — must set up the same way: the Redis client,
// the rate limiter, and the script that deletes a key only for its owner.
// One place, so the relay cannot drift from signaling.
package fleet

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/pkg/ratelimit"
)

// Redis connects to url (PARLEY_REDIS_URL); nil when url is empty (one
// node: in-process bus and limiter). The client reconnects by itself.
func Redis(url string) (*redis.Client, error) {
	if url == "" {
		return nil, nil
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("PARLEY_REDIS_URL: %w", err)
	}
	// Fail fast while Redis is away (the bus may drop, the limiter falls
	// back to memory, clients resume from the store) instead of holding a
	// sender for the default 5 s × retries.
	opts.DialTimeout = time.Second
	opts.MaxRetries = 1
	return redis.NewClient(opts), nil
}

// Limiter returns the rate limiter: Redis (shared by every process, with an
// in-process fallback while Redis is down) when rdb is set, else in
// process; nil when limits are off (PARLEY_RATE_LIMITS=off).
func Limiter(enabled bool, rdb *redis.Client, log *slog.Logger) ratelimit.Limiter {
	if !enabled {
		log.Warn("rate limits are OFF (PARLEY_RATE_LIMITS=off): use this only for benchmarks")
		return nil
	}
	if rdb == nil {
		return ratelimit.NewMemory()
	}
	return ratelimit.FallbackWithLogger(ratelimit.NewRedis(rdb), ratelimit.NewMemory(), log)
}

// ReleaseIfOwner deletes KEYS[1] only while it holds ARGV[1]: a lock or
// lease that expired meanwhile may belong to another process now.
var ReleaseIfOwner = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)
