package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Messages between nodes.
//
// Besides clients' publications, the nodes of a fleet talk to each other on
// the bus: routing inputs and answers, offers, presence, calls, agent
// revocations. Those protocols share what is here, so that none of them
// encodes, decodes, queues or waits by hand:
//
//   - Topic[T]: a topic whose publications are JSON values of T;
//   - Serial[T]: runs what a handler received in arrival order, in
//     batches, on a worker goroutine that exists only while there is work
//     (handlers must not block, and most inter-node messages lead to
//     store I/O);
//   - Asker and Answer: request/reply with a deadline over two topics, the
//     error travelling as a WireError that each protocol maps back to its
//     sentinel errors with an ErrorCodec.

// Topic names a topic whose publications are JSON values of T.
type Topic[T any] struct{ Name string }

// Publish encodes v and publishes it on b.
func (t Topic[T]) Publish(ctx context.Context, b Bus, v T) error {
	p, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("bus: encode %s: %w", t.Name, err)
	}
	return b.Publish(ctx, t.Name, p)
}

// Subscribe calls h with each publication on b that decodes as T; one that
// does not (another version's message) is dropped and reported to bad, if
// set. h runs on the bus's goroutine: like a Handler, it must not block.
func (t Topic[T]) Subscribe(b Bus, h func(T), bad func(error)) (unsubscribe func(), err error) {
	return b.Subscribe(t.Name, func(_ string, payload []byte) {
		var v T
		if err := json.Unmarshal(payload, &v); err != nil {
			if bad != nil {
				bad(fmt.Errorf("bus: decode %s: %w", t.Name, err))
			}
			return
		}
		h(v)
	})
}

// Serial hands Push'ed values to run in batches, one batch at a time, in
// the order they were pushed: a batch is everything pushed while the
// previous one ran. The worker goroutine starts when a value arrives and
// ends when none is left. Use NewSerial.
type Serial[T any] struct {
	run     func([]T)
	mu      sync.Mutex
	q       []T
	running bool
}

// NewSerial returns a Serial that runs run.
func NewSerial[T any](run func(batch []T)) *Serial[T] { return &Serial[T]{run: run} }

// Push queues v; it never blocks.
func (s *Serial[T]) Push(v T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.q = append(s.q, v)
	if !s.running {
		s.running = true
		go s.drain()
	}
}

func (s *Serial[T]) drain() {
	for {
		s.mu.Lock()
		batch := s.q
		s.q = nil
		if len(batch) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.run(batch)
	}
}

// WireError is an error as it crosses the bus: Kind names the sentinel it
// wraps (see ErrorCodec), Message is its text.
type WireError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// ErrorCodec maps a protocol's sentinel errors to kinds on the wire and
// back, so an error answered by another node reads, to errors.Is, as if
// it had happened here.
type ErrorCodec map[string]error

// Encode returns err for the wire; nil for nil. An error that wraps none
// of the codec's sentinels travels with kind "other".
func (c ErrorCodec) Encode(err error) *WireError {
	if err == nil {
		return nil
	}
	w := &WireError{Kind: "other", Message: err.Error()}
	for kind, sentinel := range c {
		if errors.Is(err, sentinel) {
			w.Kind = kind
			break
		}
	}
	return w
}

// Decode returns the error w stands for: its text, wrapping the sentinel
// its kind names.
func (c ErrorCodec) Decode(w *WireError) error {
	if w == nil {
		return nil
	}
	if sentinel, ok := c[w.Kind]; ok {
		return remoteError{sentinel, w.Message}
	}
	return errors.New(w.Message)
}

type remoteError struct {
	kind error
	msg  string
}

func (e remoteError) Error() string { return e.msg }
func (e remoteError) Unwrap() error { return e.kind }

// Request is what an Asker sends: the question, and where and under which
// id to answer it.
type Request[Q any] struct {
	ID    string `json:"id"`
	Reply string `json:"reply"`
	Body  Q      `json:"body"`
}

// Reply is the answer to a Request.
type Reply[A any] struct {
	ID    string     `json:"id"`
	Error *WireError `json:"error,omitempty"`
	Body  A          `json:"body"`
}

// ErrNoAnswer is returned by Ask when no answer came within its deadline.
var ErrNoAnswer = errors.New("bus: no answer in time")

// Asker sends requests and waits for their answers on one reply topic of
// its own (one per node and protocol), subscribed on first use.
type Asker[Q, A any] struct {
	bus     Bus
	replies Topic[Reply[A]]
	codec   ErrorCodec

	mu      sync.Mutex
	pending map[string]chan Reply[A]
	off     func()
}

// NewAsker returns an Asker whose answers come on replyTopic.
func NewAsker[Q, A any](b Bus, replyTopic string, codec ErrorCodec) *Asker[Q, A] {
	return &Asker[Q, A]{bus: b, replies: Topic[Reply[A]]{replyTopic}, codec: codec, pending: map[string]chan Reply[A]{}}
}

// Ask publishes q on to and waits for its answer for at most within (or
// until ctx ends). The answer's error is decoded with the Asker's codec.
func (a *Asker[Q, A]) Ask(ctx context.Context, to Topic[Request[Q]], q Q, within time.Duration) (A, error) {
	var zero A
	a.mu.Lock()
	if a.off == nil {
		off, err := a.replies.Subscribe(a.bus, a.deliver, nil)
		if err != nil {
			a.mu.Unlock()
			return zero, err
		}
		a.off = off
	}
	req := Request[Q]{ID: uuid.NewString(), Reply: a.replies.Name, Body: q}
	ch := make(chan Reply[A], 1)
	a.pending[req.ID] = ch
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.pending, req.ID)
		a.mu.Unlock()
	}()
	if err := to.Publish(context.WithoutCancel(ctx), a.bus, req); err != nil {
		return zero, err
	}
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case rep := <-ch:
		return rep.Body, a.codec.Decode(rep.Error)
	case <-t.C:
		return zero, ErrNoAnswer
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

func (a *Asker[Q, A]) deliver(rep Reply[A]) {
	a.mu.Lock()
	ch := a.pending[rep.ID]
	delete(a.pending, rep.ID)
	a.mu.Unlock()
	if ch != nil {
		ch <- rep // buffered, and delivered once: never blocks
	}
}

// Close stops listening for answers; Asks under way time out.
func (a *Asker[Q, A]) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.off != nil {
		a.off()
		a.off = nil
	}
}

// Answer sends the answer to req: body, or err encoded with codec. A
// request sent without a reply topic (fire and forget) gets none.
func Answer[Q, A any](ctx context.Context, b Bus, req Request[Q], body A, err error, codec ErrorCodec) error {
	if req.Reply == "" {
		return nil
	}
	return Topic[Reply[A]]{req.Reply}.Publish(ctx, b, Reply[A]{ID: req.ID, Error: codec.Encode(err), Body: body})
}
