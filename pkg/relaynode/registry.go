package relaynode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Info is what a relay reports in each heartbeat.
type Info struct {
	ID         string `json:"id"`
	ControlURL string `json:"control_url"` // http(s)://host:port; the control link is at /control
	Peers      int    `json:"peers"`       // live peer connections (its load)
	Links      int    `json:"links"`       // signaling nodes connected to it
	Draining   bool   `json:"draining,omitempty"`
	// IntervalMs is the relay's heartbeat period: it is dead after three
	// missed heartbeats.
	IntervalMs int64     `json:"interval_ms"`
	Seen       time.Time `json:"seen"` // set by the registry
}

func (i Info) validate() error {
	if i.ID == "" || len(i.ID) > 128 {
		return errors.New("id: 1 to 128 characters")
	}
	// Signaling dials this URL with the secret: only http(s) URLs.
	if u, err := url.Parse(i.ControlURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(i.ControlURL) > 512 {
		return errors.New("control_url: http(s)://host:port")
	}
	if i.IntervalMs <= 0 || i.IntervalMs > 60_000 {
		return errors.New("interval_ms: 1 to 60000")
	}
	if i.Peers < 0 || i.Links < 0 {
		return errors.New("peers, links: not negative")
	}
	return nil
}

// ttl is how long a relay stays live after a heartbeat.
func (i Info) ttl() time.Duration {
	return max(3*time.Duration(i.IntervalMs)*time.Millisecond, time.Second)
}

// conversationTTL keeps the conversation → relay choice for a day of
// silence; a later peer for the conversation picks again.
const conversationTTL = 24 * time.Hour

// Registry is signaling's view of the relays: which are live (heard from
// within three heartbeats) and which relay serves each conversation.
// Memory serves one signaling node; Redis shares it across a fleet. Safe
// for concurrent use.
type Registry interface {
	// Heartbeat records (or refreshes) a relay, stamping Seen.
	Heartbeat(ctx context.Context, i Info) error
	// Remove forgets a relay at once (its control link broke); it comes
	// back with its next heartbeat if it is alive after all.
	Remove(ctx context.Context, id string) error
	// Live lists the relays heard from within their TTL.
	Live(ctx context.Context) ([]Info, error)
	// RelayOf returns the relay recorded for a conversation, "" if none.
	RelayOf(ctx context.Context, conversation string) (string, error)
	// SetRelayOf records the relay serving a conversation.
	SetRelayOf(ctx context.Context, conversation, relayID string) error
}

// Memory is the in-process Registry.
type Memory struct {
	now    func() time.Time
	mu     sync.Mutex
	relays map[string]Info
	convs  map[string]convRelay
}

type convRelay struct {
	relay   string
	expires time.Time
}

// NewMemory returns an empty in-process registry.
func NewMemory() *Memory {
	return &Memory{now: time.Now, relays: map[string]Info{}, convs: map[string]convRelay{}}
}

// Heartbeat implements Registry.
func (m *Memory) Heartbeat(_ context.Context, i Info) error {
	if err := i.validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i.Seen = m.now()
	m.relays[i.ID] = i
	return nil
}

// Remove implements Registry.
func (m *Memory) Remove(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.relays, id)
	return nil
}

// Live implements Registry.
func (m *Memory) Live(context.Context) ([]Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := make([]Info, 0, len(m.relays))
	for id, i := range m.relays {
		if now.Sub(i.Seen) > i.ttl() {
			delete(m.relays, id)
			continue
		}
		out = append(out, i)
	}
	return out, nil
}

// RelayOf implements Registry.
func (m *Memory) RelayOf(_ context.Context, conversation string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.convs[conversation]
	if !ok || m.now().After(c.expires) {
		delete(m.convs, conversation)
		return "", nil
	}
	return c.relay, nil
}

// SetRelayOf implements Registry.
func (m *Memory) SetRelayOf(_ context.Context, conversation, relayID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	// Forget expired choices now and then so the map stays bounded by the
	// conversations of the last day.
	if len(m.convs) > 1024 && len(m.convs)%1024 == 0 {
		for k, c := range m.convs {
			if now.After(c.expires) {
				delete(m.convs, k)
			}
		}
	}
	m.convs[conversation] = convRelay{relay: relayID, expires: now.Add(conversationTTL)}
	return nil
}

// Redis is the Registry shared by every signaling node: each relay is a
// key that expires after three missed heartbeats, indexed by a sorted set
// scored by expiry; each conversation's relay is a key with a day's TTL.
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// NewRedis returns a registry on rdb; prefix (default "parley:") namespaces
// its keys.
func NewRedis(rdb redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = "parley:"
	}
	return &Redis{rdb: rdb, prefix: prefix, now: time.Now}
}

func (r *Redis) relayKey(id string) string  { return r.prefix + "relay:" + id }
func (r *Redis) indexKey() string           { return r.prefix + "relays" }
func (r *Redis) convKey(conv string) string { return r.prefix + "relay-of:" + conv }
func score(t time.Time) string              { return strconv.FormatInt(t.UnixMilli(), 10) }

// Heartbeat implements Registry.
func (r *Redis) Heartbeat(ctx context.Context, i Info) error {
	if err := i.validate(); err != nil {
		return err
	}
	i.Seen = r.now()
	b, err := json.Marshal(i)
	if err != nil {
		return err
	}
	expires := i.Seen.Add(i.ttl())
	_, err = r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, r.relayKey(i.ID), b, i.ttl())
		p.ZAdd(ctx, r.indexKey(), redis.Z{Score: float64(expires.UnixMilli()), Member: i.ID})
		return nil
	})
	if err != nil {
		return fmt.Errorf("relay registry (redis): %w", err)
	}
	return nil
}

// Remove implements Registry.
func (r *Redis) Remove(ctx context.Context, id string) error {
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, r.relayKey(id))
		p.ZRem(ctx, r.indexKey(), id)
		return nil
	})
	return err
}

// Live implements Registry.
func (r *Redis) Live(ctx context.Context) ([]Info, error) {
	now := score(r.now())
	r.rdb.ZRemRangeByScore(ctx, r.indexKey(), "-inf", "("+now)
	ids, err := r.rdb.ZRangeByScore(ctx, r.indexKey(), &redis.ZRangeBy{Min: now, Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("relay registry (redis): %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for n, id := range ids {
		keys[n] = r.relayKey(id)
	}
	vals, err := r.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("relay registry (redis): %w", err)
	}
	out := make([]Info, 0, len(vals))
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // expired between the two reads
		}
		var i Info
		if json.Unmarshal([]byte(s), &i) == nil {
			out = append(out, i)
		}
	}
	return out, nil
}

// RelayOf implements Registry.
func (r *Redis) RelayOf(ctx context.Context, conversation string) (string, error) {
	id, err := r.rdb.Get(ctx, r.convKey(conversation)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return id, err
}

// SetRelayOf implements Registry.
func (r *Redis) SetRelayOf(ctx context.Context, conversation, relayID string) error {
	return r.rdb.Set(ctx, r.convKey(conversation), relayID, conversationTTL).Err()
}
