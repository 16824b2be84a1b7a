package bus

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the Bus for several nodes: a publication goes to Redis PUBLISH,
// and each node keeps one subscription connection (go-redis PubSub) on which
// it subscribes to the topics its local connections need, and hands
// publications to them through an in-process Memory bus.
//
// Redis Pub/Sub is at most once: a node disconnected from Redis misses what
// was published meanwhile. That is allowed by the Bus contract (clients
// resume from the store), but clients must be told to resume: Redis calls
// OnReconnect after it has resubscribed, and the server makes every
// connection resume then.
type Redis struct {
	client *redis.Client
	local  *Memory
	log    *slog.Logger

	mu       sync.Mutex
	topics   map[string]*redisTopic // topics with local subscribers, or about to have
	pubsub   *redis.PubSub
	closed   bool
	onResync []func()
	// resyncDue is set while a resync waits out resyncSettle: requests
	// meanwhile join it.
	resyncDue bool
	// repairing is set while failed publications wait to be announced on
	// resyncTopic (one announcer at a time); lost counts the failures, so
	// the announcer knows whether one came after what it announced.
	repairing bool
	lost      uint64
	// wake tells the announcer that the subscription is back: Redis is
	// likely up, announce now rather than after the retry's back-off.
	wake chan struct{}
	done chan struct{}

	// A publication that failed marks Redis down: until retryAt the
	// others fail at once; then one at a time (probing) asks Redis.
	down    atomic.Bool
	retryAt atomic.Int64 // Unix ns
	probing atomic.Bool
}

// redisTopic is one topic's local subscriptions. Its lock is held while
// the topic's SUBSCRIBE or UNSUBSCRIBE is sent, so they reach Redis in the
// order its count changed: an UNSUBSCRIBE sent after the count was
// released could overtake a newcomer's SUBSCRIBE and leave the node deaf
// to a topic it counted subscribers for. A subscriber returns once Redis
// has its SUBSCRIBE, so what it reads next from the store cannot miss a
// publication.
type redisTopic struct {
	mu      sync.Mutex
	refs    int // local subscriptions (under mu)
	holders int // subscriptions and subscribers in progress (under Redis.mu): the entry lives while > 0
}

// publishCooloff is how long after a failed publication the bus fails
// publications at once rather than wait for Redis again; then one
// publication at a time probes it.
const publishCooloff = 500 * time.Millisecond

// ErrUnavailable refuses a publication at once while Redis is known to be
// down (see Redis.Publish).
var ErrUnavailable = errors.New("bus: redis is unavailable")

// resyncSettle is how long a resync waits before the hooks run: after a
// Redis restart every node reconnects within a few hundred milliseconds,
// and the nodes that lost publications announce them as they do, so this
// node's own reconnect and those announcements make one resync of its
// clients, not one each (issue 15, defect 4: 2–3 per client).
const resyncSettle = 500 * time.Millisecond

// resyncTopic is the Redis channel on which a node that failed to publish
// asks every node (itself included) to make its clients resume: the
// subscribers' own link may never have broken, so they would not know.
const resyncTopic = "parley:bus:resync"

var _ interface {
	Bus
	Checker
	Resyncer
} = (*Redis)(nil)

// RedisOptions configure NewRedis.
type RedisOptions struct {
	// Logger receives connection losses and recoveries; nil: slog.Default().
	Logger *slog.Logger
}

// NewRedis starts a Redis bus on client.
func NewRedis(client *redis.Client, o RedisOptions) *Redis {
	r := &Redis{client: client, local: NewMemory(), log: o.Logger, topics: map[string]*redisTopic{},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	if r.log == nil {
		r.log = slog.Default()
	}
	// The control channel is subscribed for the bus's whole life; go-redis
	// resubscribes it after every reconnect, like the topics.
	r.pubsub = client.Subscribe(context.Background(), resyncTopic)
	go r.receive()
	return r
}

// OnResync registers f to run after the bus reconnected to Redis and
// resubscribed, or after any node announced that one of its publications
// failed: publications may have been missed, so local clients should resume
// from the store. Requests within resyncSettle of the first run f once,
// after it. f must not block.
func (r *Redis) OnResync(f func()) {
	r.mu.Lock()
	r.onResync = append(r.onResync, f)
	r.mu.Unlock()
}

// Publish sends payload to every node's subscribers of topic. While Redis
// is known to be down it fails at once with ErrUnavailable (a publication
// every publishCooloff probes Redis): a sender, and the ack it waits for,
// is not held for Redis's timeouts; what was not published is announced
// once Redis is back, and clients resume it from the store.
func (r *Redis) Publish(ctx context.Context, topic string, payload []byte) error {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if r.down.Load() {
		if time.Now().UnixNano() < r.retryAt.Load() || !r.probing.CompareAndSwap(false, true) {
			r.repairLater()
			return ErrUnavailable
		}
		defer r.probing.Store(false)
	}
	err := r.client.Publish(ctx, topic, payload).Err()
	if err == nil {
		r.down.Store(false)
		return nil
	}
	// A caller that gave up (its context cancelled or past its deadline) is
	// not a Redis failure: announcing a lost publication would make every
	// node's clients resume and every committing relay drop its peers.
	if ctx.Err() == nil {
		r.retryAt.Store(time.Now().Add(publishCooloff).UnixNano())
		r.down.Store(true)
		r.repairLater()
	}
	return err
}

// repairLater announces on resyncTopic, once Redis takes publications
// again, that a publication was lost, so every node's clients resume. A
// publication that fails while the announcement goes out is announced
// again after it: an announcement covers only what failed before it.
func (r *Redis) repairLater() {
	r.mu.Lock()
	r.lost++
	if r.repairing || r.closed {
		r.mu.Unlock()
		return
	}
	r.repairing = true
	r.mu.Unlock()
	go func() {
		wait := 100 * time.Millisecond
		for {
			r.mu.Lock()
			closed, lost := r.closed, r.lost
			r.mu.Unlock()
			if closed {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := r.client.Publish(ctx, resyncTopic, "lost").Err()
			cancel()
			if err == nil {
				r.down.Store(false) // Redis takes publications again
				r.mu.Lock()
				done := r.lost == lost
				r.repairing = !done
				r.mu.Unlock()
				if done {
					return
				}
				continue
			}
			select {
			case <-r.done:
				return
			case <-r.wake:
			case <-time.After(wait):
			}
			wait = min(2*wait, 2*time.Second)
		}
	}()
}

// Subscribe registers h for topic on this node, subscribing the node to the
// topic in Redis for its first local subscriber.
func (r *Redis) Subscribe(topic string, h Handler) (func(), error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	t := r.topics[topic]
	if t == nil {
		t = &redisTopic{}
		r.topics[topic] = t
	}
	t.holders++
	r.mu.Unlock()
	un, err := r.local.Subscribe(topic, h)
	if err != nil {
		r.release(topic, t)
		return nil, err
	}
	t.mu.Lock()
	t.refs++
	if t.refs == 1 {
		// If Redis is down this fails; the topic is in topics, so the
		// reconnect path subscribes it again.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := r.pubsub.Subscribe(ctx, topic); err != nil {
			r.log.Warn("bus: redis subscribe failed; will resubscribe on reconnect", "topic", topic, "err", err)
		}
		cancel()
	}
	t.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			un()
			t.mu.Lock()
			t.refs--
			if t.refs == 0 && !r.isClosed() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				r.pubsub.Unsubscribe(ctx, topic)
				cancel()
			}
			t.mu.Unlock()
			r.release(topic, t)
		})
	}, nil
}

// release drops a holder of t, and t once it has none.
func (r *Redis) release(topic string, t *redisTopic) {
	r.mu.Lock()
	t.holders--
	if t.holders == 0 && r.topics[topic] == t {
		delete(r.topics, topic)
	}
	r.mu.Unlock()
}

func (r *Redis) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// receive reads publications and hands them to local subscribers. go-redis
// reconnects the PubSub connection by itself and resubscribes the channels
// it knows; after any receive error we also resubscribe every topic we hold
// and ask clients to resume, since publications may have been missed.
func (r *Redis) receive() {
	defer close(r.done)
	ctx := context.Background()
	broken := false
	for {
		msg, err := r.pubsub.ReceiveTimeout(ctx, 30*time.Second)
		if err != nil {
			r.mu.Lock()
			closed := r.closed
			r.mu.Unlock()
			if closed || errors.Is(err, redis.ErrClosed) {
				return
			}
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				// Idle: check the connection is alive.
				if perr := r.pubsub.Ping(ctx); perr == nil {
					continue
				}
			}
			if !broken {
				r.log.Warn("bus: lost the redis subscription; publications may be missed until it is back", "err", err)
				broken = true
			}
			time.Sleep(250 * time.Millisecond)
			continue
		}
		switch m := msg.(type) {
		case *redis.Message:
			if m.Channel == resyncTopic {
				r.log.Info("bus: a node lost a publication; clients resume from the store")
				r.requestResync()
				continue
			}
			r.local.Publish(ctx, m.Channel, []byte(m.Payload))
		case *redis.Subscription, *redis.Pong:
			if broken {
				broken = false
				r.resync()
			}
		}
	}
}

// resync resubscribes every held topic and tells the server to resume.
func (r *Redis) resync() {
	r.mu.Lock()
	topics := make([]string, 0, len(r.topics))
	for t := range r.topics {
		topics = append(topics, t)
	}
	r.mu.Unlock()
	if len(topics) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := r.pubsub.Subscribe(ctx, topics...); err != nil {
			r.log.Warn("bus: resubscribe failed", "err", err)
		}
		cancel()
	}
	r.log.Info("bus: redis subscription is back; clients resume from the store", "topics", len(topics))
	// A publication waiting to be announced goes out now, while the
	// other nodes' resyncs for this outage still wait to run.
	select {
	case r.wake <- struct{}{}:
	default:
	}
	r.requestResync()
}

// requestResync runs the hooks resyncSettle from now, unless a run is
// already due: that run starts after this request, so it covers it.
func (r *Redis) requestResync() {
	r.mu.Lock()
	if r.resyncDue || r.closed {
		r.mu.Unlock()
		return
	}
	r.resyncDue = true
	r.mu.Unlock()
	time.AfterFunc(resyncSettle, func() {
		r.mu.Lock()
		r.resyncDue = false
		hooks := append([]func(){}, r.onResync...)
		closed := r.closed
		r.mu.Unlock()
		if closed {
			return
		}
		for _, f := range hooks {
			f()
		}
	})
}

// Healthy reports whether Redis answers (for /readyz).
func (r *Redis) Healthy(ctx context.Context) error { return r.client.Ping(ctx).Err() }

// Close stops the bus (the client stays open; its owner closes it).
func (r *Redis) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	err := r.pubsub.Close()
	<-r.done
	r.local.Close()
	return err
}
