package ratelimit

import (
	"context"
	"fmt"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// NewRedis returns a Limiter whose state lives in Redis (redis_rate's GCRA
// script, keys "rate:<key>" expiring when they recover), shared by every
// node using the same Redis. A *redis.Client, *redis.ClusterClient or
// *redis.Ring all fit. Redis errors are returned, not hidden: wrap it with
// Fallback so an outage degrades to per-node limits instead of blocking chat.
// Give the client short timeouts (e.g. DialTimeout 500ms, ReadTimeout
// 200ms): Allow sits on the path of every message.
func NewRedis(client redis.UniversalClient) Limiter {
	return redisLimiter{rl: redis_rate.NewLimiter(client)}
}

type redisLimiter struct{ rl *redis_rate.Limiter }

func (r redisLimiter) Allow(ctx context.Context, key string, limit Limit) (Result, error) {
	if err := limit.validate(); err != nil {
		return Result{}, err
	}
	res, err := r.rl.Allow(ctx, key, redis_rate.Limit{Rate: limit.Rate, Burst: limit.Burst, Period: limit.Period})
	if err != nil {
		return Result{}, fmt.Errorf("rate limit %s: redis: %w", key, err)
	}
	out := Result{Allowed: res.Allowed > 0, Remaining: res.Remaining, ResetAfter: max(res.ResetAfter, 0)}
	if !out.Allowed {
		out.RetryAfter = max(res.RetryAfter, 0)
	}
	return out, nil
}
