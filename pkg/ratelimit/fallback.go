package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// fallbackCooloff is how long Fallback stops asking a failed primary before
// one call probes it again; meanwhile calls go straight to the secondary and
// pay no Redis timeout.
const fallbackCooloff = 5 * time.Second

// Fallback returns a Limiter that asks primary (Redis) and, when primary
// fails, answers from secondary (NewMemory()) instead — a Redis outage
// degrades limits to per node but never blocks chat. It logs once through
// slog.Default() when it starts falling back and once when primary answers
// again. After a failure it skips primary for a few seconds, then lets a
// single call probe it while the others keep using secondary.
//
// Errors that are the caller's (ctx done, ErrInvalidLimit) are returned as
// they are, not treated as an outage.
func Fallback(primary, secondary Limiter) Limiter {
	return FallbackWithLogger(primary, secondary, nil)
}

// FallbackWithLogger is Fallback logging to logger (slog.Default() if nil).
func FallbackWithLogger(primary, secondary Limiter, logger *slog.Logger) Limiter {
	return &fallback{primary: primary, secondary: secondary, logger: logger, now: time.Now}
}

type fallback struct {
	primary, secondary Limiter
	logger             *slog.Logger
	now                func() time.Time

	down    atomic.Bool  // primary failed and has not answered since
	retryAt atomic.Int64 // Unix ns before which primary is not asked
	probing atomic.Bool  // one call is asking primary while down
}

func (f *fallback) log() *slog.Logger {
	if f.logger != nil {
		return f.logger
	}
	return slog.Default()
}

func (f *fallback) Allow(ctx context.Context, key string, limit Limit) (Result, error) {
	if f.down.Load() {
		if f.now().UnixNano() < f.retryAt.Load() || !f.probing.CompareAndSwap(false, true) {
			return f.secondary.Allow(ctx, key, limit)
		}
		defer f.probing.Store(false)
	}
	res, err := f.primary.Allow(ctx, key, limit)
	if err == nil {
		if f.down.CompareAndSwap(true, false) {
			f.log().Info("rate limiter: primary answers again; limits are shared across nodes again")
		}
		return res, nil
	}
	if ctx.Err() != nil || errors.Is(err, ErrInvalidLimit) {
		return Result{}, err
	}
	f.retryAt.Store(f.now().Add(fallbackCooloff).UnixNano())
	if f.down.CompareAndSwap(false, true) {
		f.log().Warn("rate limiter: primary failed; using in-process limits (per node) until it recovers", "err", err)
	}
	return f.secondary.Allow(ctx, key, limit)
}
