// Package bus fans published payloads out to the subscribers of a topic: the
// connections of a conversation's participants, wherever they are connected.
//
// The bus is allowed to lose a publication (a node disconnected from Redis, a
// subscriber too slow): the delivery promise does not rest on it. Every
// message is committed to the store before it is published, and clients
// recover anything they missed from the store by seq. The bus only makes
// delivery fast.
package bus

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("bus: closed")

// Handler receives a publication. It runs on the publisher's (or the bus's
// receive) goroutine and must not block: queue the payload and return.
// Handlers must not modify payload.
type Handler func(topic string, payload []byte)

// Bus is implemented by Memory (one process) and, for several nodes, by a
// Redis implementation with the same contract.
type Bus interface {
	// Publish delivers payload to every current subscriber of topic, on
	// every node. It does not wait for handlers beyond calling them.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe registers h for topic until the returned func is called.
	// The func is idempotent.
	Subscribe(topic string, h Handler) (unsubscribe func(), err error)
	// Close stops the bus; later calls return ErrClosed.
	Close() error
}

// Checker is implemented by a Bus that depends on a remote service (Redis):
// Healthy says whether publications can go out now. /readyz uses it.
type Checker interface {
	Healthy(ctx context.Context) error
}

// Resyncer is implemented by a Bus that can miss publications while its
// link to other nodes is down (Redis): f runs after the link is back and
// the node's topics are subscribed again, so the server can make its
// clients resume from the store.
type Resyncer interface {
	OnResync(f func())
}

// Topic names. Keeping them here lets every implementation and caller agree.

// ConversationTopic carries a conversation's messages and typing to its
// visitor's connections.
func ConversationTopic(id string) string { return "conv:" + id }

// VisitorTopic carries events for one visitor (conversation state, queue).
func VisitorTopic(id string) string { return "visitor:" + id }

// AgentsTopic carries a workspace's events to all of its agents' connections:
// new and changed conversations, and every message (for inbox previews).
func AgentsTopic(workspaceID string) string { return "agents:" + workspaceID }

// SiteTopic carries a site's settings changes to its visitors' connections.
func SiteTopic(siteID string) string { return "site:" + siteID }

const shards = 64

// Memory is the in-process Bus. Its state is sharded by topic so that
// publishers of different conversations do not contend on one lock.
type Memory struct {
	seed   maphash.Seed
	shards [shards]shard
	mu     sync.RWMutex
	closed bool
}

type shard struct {
	mu     sync.RWMutex
	topics map[string]map[uint64]Handler
	next   uint64
}

// NewMemory returns an empty in-process bus.
func NewMemory() *Memory {
	m := &Memory{seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].topics = map[string]map[uint64]Handler{}
	}
	return m
}

func (m *Memory) shard(topic string) *shard {
	return &m.shards[maphash.String(m.seed, topic)%shards]
}

// Publish calls every handler subscribed to topic.
func (m *Memory) Publish(_ context.Context, topic string, payload []byte) error {
	m.mu.RLock()
	closed := m.closed
	m.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	sh := m.shard(topic)
	sh.mu.RLock()
	subs := sh.topics[topic]
	hs := make([]Handler, 0, len(subs))
	for _, h := range subs {
		hs = append(hs, h)
	}
	sh.mu.RUnlock()
	for _, h := range hs {
		h(topic, payload)
	}
	return nil
}

// Subscribe registers h for topic.
func (m *Memory) Subscribe(topic string, h Handler) (func(), error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	sh := m.shard(topic)
	sh.mu.Lock()
	sh.next++
	id := sh.next
	if sh.topics[topic] == nil {
		sh.topics[topic] = map[uint64]Handler{}
	}
	sh.topics[topic][id] = h
	sh.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			sh.mu.Lock()
			delete(sh.topics[topic], id)
			if len(sh.topics[topic]) == 0 {
				delete(sh.topics, topic)
			}
			sh.mu.Unlock()
		})
	}, nil
}

// Close stops the bus.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}
