package routing

import (
	"context"
	"testing"
	"time"
)

// Two engines (two signaling nodes) route the same workspace with stale
// views of each other; the shared Assigner keeps them honest.
func TestTwoNodesShareOneAssigner(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryAssigner()
	clk := &clock{t: t0}
	node := func() (*Engine, *recorder) {
		rec := &recorder{}
		e, err := New(Config{Now: clk.Now, Assigner: store, OnEvent: rec.on})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []Agent{{ID: "ana", Status: StatusOnline, Capacity: 2}, {ID: "bob", Status: StatusAway, Capacity: 1}} {
			if err := e.SetAgent(ctx, "w", a); err != nil {
				t.Fatal(err)
			}
		}
		return e, rec
	}
	a, ra := node()
	b, rb := node()
	enq := func(e *Engine, id string) {
		t.Helper()
		if err := e.Enqueue(ctx, Request{ConversationID: id, WorkspaceID: "w", EnqueuedAt: clk.Now()}); err != nil {
			t.Fatal(err)
		}
	}

	enq(a, "c1")
	if as := find[Assigned](ra.take()); len(as) != 1 || as[0].AgentID != "ana" {
		t.Fatalf("node A: %+v", as)
	}
	// The same conversation reaches node B too (a retried request): B's
	// claim loses, and B drops it instead of assigning it twice.
	enq(b, "c1")
	evs := rb.take()
	if lost := find[Lost](evs); len(lost) != 1 || len(find[Assigned](evs)) != 0 {
		t.Fatalf("node B: %+v", evs)
	}
	if len(b.Snapshot("w").Queue) != 0 || store.Claims("w", "c1") != 1 {
		t.Fatal("c1 must be claimed once and not left queued on B")
	}
	// B does not know about c1's load and fills ana's second slot.
	enq(b, "c2")
	if as := find[Assigned](rb.take()); len(as) != 1 || as[0].AgentID != "ana" {
		t.Fatalf("node B c2: %+v", as)
	}
	// A thinks ana has room; the store says she is full, so A tries the
	// next candidate (bob, back online) and then queues.
	if err := a.SetStatus(ctx, "w", "bob", StatusOnline); err != nil {
		t.Fatal(err)
	}
	ra.take()
	enq(a, "c3")
	enq(a, "c4")
	evs = ra.take()
	as := find[Assigned](evs)
	if len(as) != 1 || as[0].ConversationID != "c3" || as[0].AgentID != "bob" {
		t.Fatalf("node A after losing the race for ana: %+v", evs)
	}
	if store.Load("w", "ana") != 2 || store.MaxLoad("w", "ana") != 2 || store.Load("w", "bob") != 1 {
		t.Fatalf("store loads: ana %d (max %d), bob %d", store.Load("w", "ana"), store.MaxLoad("w", "ana"), store.Load("w", "bob"))
	}
	if q := a.Snapshot("w").Queue; len(q) != 1 || q[0].ConversationID != "c4" {
		t.Fatalf("c4 should wait on A: %+v", q)
	}
	// When A's own conversation ends, A asks the store again.
	clk.Advance(time.Minute)
	if err := a.Release(ctx, "w", "c1"); err != nil {
		t.Fatal(err)
	}
	if as := find[Assigned](ra.take()); len(as) != 1 || as[0].ConversationID != "c4" || as[0].AgentID != "ana" {
		t.Fatalf("c4 after c1 ended: %+v", as)
	}
	if store.MaxLoad("w", "ana") != 2 {
		t.Fatal("ana went above capacity")
	}
}
