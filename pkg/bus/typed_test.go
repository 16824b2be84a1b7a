package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

type note struct {
	Node string `json:"node"`
	N    int    `json:"n"`
}

func TestTopicPublishSubscribe(t *testing.T) {
	b := NewMemory()
	defer b.Close()
	topic := Topic[note]{"notes"}
	got := make(chan note, 4)
	bad := make(chan error, 4)
	off, err := topic.Subscribe(b, func(n note) { got <- n }, func(err error) { bad <- err })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := topic.Publish(ctx, b, note{"a", 1}); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != (note{"a", 1}) {
		t.Fatalf("got %+v", n)
	}
	// Another version's message: dropped and reported, never delivered.
	if err := b.Publish(ctx, "notes", []byte(`{"node":7}`)); err != nil {
		t.Fatal(err)
	}
	if err := <-bad; err == nil {
		t.Fatal("no decode error reported")
	}
	off()
	topic.Publish(ctx, b, note{"a", 2})
	select {
	case n := <-got:
		t.Fatalf("delivered after unsubscribe: %+v", n)
	default:
	}
}

func TestSerialKeepsOrderAndStops(t *testing.T) {
	var mu sync.Mutex
	var seen []int
	done := make(chan struct{})
	s := NewSerial(func(batch []int) {
		mu.Lock()
		seen = append(seen, batch...)
		last := len(seen) == 1000
		mu.Unlock()
		if last {
			close(done)
		}
	})
	for i := range 1000 {
		s.Push(i)
	}
	<-done
	for i, n := range seen {
		if n != i {
			t.Fatalf("ran %d at %d", n, i)
		}
	}
	// The worker ends once the queue is empty.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		running := s.running
		s.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker did not stop")
		}
		time.Sleep(time.Millisecond)
	}
}

var errNope = errors.New("nope")

func TestAskAnswer(t *testing.T) {
	b := NewMemory()
	defer b.Close()
	codec := ErrorCodec{"nope": errNope}
	questions := Topic[Request[int]]{"questions"}
	// The answering node: doubles, refuses negatives, ignores 1000.
	off, err := questions.Subscribe(b, func(r Request[int]) {
		go func() {
			switch {
			case r.Body == 1000:
			case r.Body < 0:
				Answer(context.Background(), b, r, "", fmt.Errorf("%w: %d is negative", errNope, r.Body), codec)
			case r.Body == 0:
				Answer(context.Background(), b, r, "", errors.New("zero"), codec)
			default:
				Answer(context.Background(), b, r, fmt.Sprint(2*r.Body), nil, codec)
			}
		}()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer off()
	a := NewAsker[int, string](b, "replies:node-1", codec)
	defer a.Close()
	ctx := context.Background()

	var wg sync.WaitGroup
	for i := 1; i <= 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := a.Ask(ctx, questions, i, 5*time.Second)
			if err != nil || got != fmt.Sprint(2*i) {
				t.Errorf("ask %d: %q %v", i, got, err)
			}
		}()
	}
	wg.Wait()

	_, err = a.Ask(ctx, questions, -2, 5*time.Second)
	if !errors.Is(err, errNope) || err.Error() != "nope: -2 is negative" {
		t.Fatalf("remote sentinel: %v", err)
	}
	if _, err = a.Ask(ctx, questions, 0, 5*time.Second); err == nil || errors.Is(err, errNope) || err.Error() != "zero" {
		t.Fatalf("remote other error: %v", err)
	}
	if _, err = a.Ask(ctx, questions, 1000, 50*time.Millisecond); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("unanswered: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err = a.Ask(cctx, questions, 1000, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	a.mu.Lock()
	left := len(a.pending)
	a.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d requests still pending", left)
	}
	// Fire and forget: no reply topic, no answer sent.
	if err := Answer(ctx, b, Request[int]{ID: "x"}, "ignored", nil, codec); err != nil {
		t.Fatal(err)
	}
}
