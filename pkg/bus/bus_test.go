package bus

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

func TestMemoryFanOut(t *testing.T) {
	b := NewMemory()
	ctx := context.Background()
	var a, c atomic.Int32
	unA, _ := b.Subscribe("t1", func(topic string, p []byte) {
		if topic != "t1" || string(p) != "x" {
			t.Errorf("got %s %s", topic, p)
		}
		a.Add(1)
	})
	b.Subscribe("t1", func(string, []byte) { c.Add(1) })
	b.Subscribe("t2", func(string, []byte) { t.Error("t2 must not get t1's publication") })
	b.Publish(ctx, "t1", []byte("x"))
	unA()
	unA() // idempotent
	b.Publish(ctx, "t1", []byte("x"))
	if a.Load() != 1 || c.Load() != 2 {
		t.Fatalf("a=%d c=%d", a.Load(), c.Load())
	}
	b.Close()
	if err := b.Publish(ctx, "t1", nil); err != ErrClosed {
		t.Fatal(err)
	}
	if _, err := b.Subscribe("t1", func(string, []byte) {}); err != ErrClosed {
		t.Fatal(err)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	b := NewMemory()
	var n atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				un, _ := b.Subscribe("topic", func(string, []byte) { n.Add(1) })
				b.Publish(context.Background(), "topic", []byte("p"))
				un()
			}
		}()
	}
	wg.Wait()
	if n.Load() < 20*200 {
		t.Fatalf("each publisher must at least reach its own subscription: %d", n.Load())
	}
}
