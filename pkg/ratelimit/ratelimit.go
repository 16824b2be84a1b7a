// Package ratelimit guards sign-in, visitor creation, messages and offline
// forms against floods. Limits are GCRA (generic cell rate algorithm, a
// leaky bucket without a background refill): one Limiter interface with a
// Redis implementation (github.com/go-redis/redis_rate, shared by every
// node) and an in-process one with the same arithmetic for single-node
// installs, tests and Redis outages (see Fallback).
//
// A Limit allows Burst events at once and then Rate events per Period: each
// event costs Period/Rate (the emission interval) and a key may be at most
// Burst emission intervals "ahead". Remaining is how many more events would
// be allowed right now; RetryAfter, on a denial, is when the next one will be.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalidLimit is returned by Allow for a Limit with a non-positive Rate,
// Burst or Period, or one whose window does not fit in a time.Duration.
var ErrInvalidLimit = errors.New("invalid rate limit")

// Limiter decides whether one more event may happen for key now.
//
// Allow consumes one unit of the key's budget when it allows the event and
// nothing when it denies it. Keys are opaque strings; use Rule.Key to build
// namespaced ones. Implementations are safe for concurrent use. An error
// means the decision could not be made (Redis unreachable, ctx done, invalid
// limit); the Result is then zero.
type Limiter interface {
	Allow(ctx context.Context, key string, limit Limit) (Result, error)
}

// Limit is Rate events per Period with bursts of up to Burst; the same
// fields and meaning as redis_rate.Limit.
type Limit struct {
	Rate   int
	Burst  int
	Period time.Duration
}

// PerSecond is rate events per second, burst rate.
func PerSecond(rate int) Limit { return Limit{Rate: rate, Burst: rate, Period: time.Second} }

// PerMinute is rate events per minute, burst rate.
func PerMinute(rate int) Limit { return Limit{Rate: rate, Burst: rate, Period: time.Minute} }

// PerHour is rate events per hour, burst rate.
func PerHour(rate int) Limit { return Limit{Rate: rate, Burst: rate, Period: time.Hour} }

// String is e.g. "20 per 10s (burst 20)".
func (l Limit) String() string {
	return fmt.Sprintf("%d per %s (burst %d)", l.Rate, l.Period, l.Burst)
}

// emission is the cost of one event: Period/Rate.
func (l Limit) emission() time.Duration { return l.Period / time.Duration(l.Rate) }

// validate rejects limits GCRA cannot evaluate: division by zero, a zero
// emission interval, or a burst window (emission × burst) that overflows.
func (l Limit) validate() error {
	if l.Rate <= 0 || l.Burst <= 0 || l.Period <= 0 {
		return fmt.Errorf("%w: %s: rate, burst and period must be positive", ErrInvalidLimit, l)
	}
	e := l.emission()
	if e <= 0 {
		return fmt.Errorf("%w: %s: period is shorter than rate nanoseconds", ErrInvalidLimit, l)
	}
	if int64(l.Burst) > math.MaxInt64/4/int64(e) {
		return fmt.Errorf("%w: %s: burst window is too long", ErrInvalidLimit, l)
	}
	return nil
}

// Result is one Allow decision.
type Result struct {
	// Allowed reports whether the event may happen.
	Allowed bool
	// Remaining is how many more events would be allowed right now (0 when
	// denied).
	Remaining int
	// RetryAfter is, when denied, the wait until one event will be allowed;
	// 0 when allowed. Suitable for a Retry-After header (round up).
	RetryAfter time.Duration
	// ResetAfter is the wait until the key is back to a full burst.
	ResetAfter time.Duration
}
