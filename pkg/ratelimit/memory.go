package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// shardCount spreads keys over independently locked maps, so Allow calls
// for different keys rarely contend.
const shardCount = 64

// sweepInterval is how often a shard drops keys that have fully recovered.
// Such a key behaves exactly as an absent one, so dropping it changes no
// decision; memory is bounded by the keys active within the longest window
// (Burst × Period/Rate) plus this interval.
const sweepInterval = 10 * time.Second

// NewMemory returns an in-process Limiter with the same GCRA arithmetic as
// the Redis one (redis_rate's Lua script), for single-node installs and as
// the Fallback secondary. Limits are per process.
func NewMemory() Limiter { return newMemory(time.Now) }

type memory struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [shardCount]shard
}

type shard struct {
	mu        sync.Mutex
	tat       map[string]int64 // theoretical arrival time, Unix ns
	lastSweep int64
}

func newMemory(now func() time.Time) *memory {
	m := &memory{now: now, seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].tat = make(map[string]int64)
	}
	return m
}

// Allow implements Limiter with GCRA, step for step as redis_rate's allowN
// script with cost 1.
func (m *memory) Allow(ctx context.Context, key string, limit Limit) (Result, error) {
	if err := limit.validate(); err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	emission := int64(limit.emission())
	burstOffset := emission * int64(limit.Burst)

	sh := &m.shards[maphash.String(m.seed, key)%shardCount]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := m.now().UnixNano()
	if now-sh.lastSweep >= int64(sweepInterval) {
		sh.sweep(now)
	}

	tat, ok := sh.tat[key]
	if !ok || tat < now {
		tat = now
	}
	newTat := tat + emission
	diff := now - (newTat - burstOffset)
	if diff < 0 {
		return Result{Allowed: false, RetryAfter: time.Duration(-diff), ResetAfter: time.Duration(tat - now)}, nil
	}
	sh.tat[key] = newTat
	return Result{Allowed: true, Remaining: int(diff / emission), ResetAfter: time.Duration(newTat - now)}, nil
}

// sweep drops keys whose theoretical arrival time has passed.
func (s *shard) sweep(now int64) {
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
	}
	s.lastSweep = now
}

// size counts tracked keys (for tests of the memory bound).
func (m *memory) size() int {
	n := 0
	for i := range m.shards {
		m.shards[i].mu.Lock()
		n += len(m.shards[i].tat)
		m.shards[i].mu.Unlock()
	}
	return n
}
