package routing

import (
	"context"
	"errors"
	"testing"
)

// brokenFor is a MemoryAssigner whose store rejects one agent (say its row
// was deleted), as a real store would answer.
type brokenFor struct {
	*MemoryAssigner
	agent string
}

var errGone = errors.New("agent row is gone")

func (b brokenFor) Claim(ctx context.Context, ws, conv, agent string, capacity int) (ClaimResult, error) {
	if agent == b.agent {
		return 0, errGone
	}
	return b.MemoryAssigner.Claim(ctx, ws, conv, agent, capacity)
}

func TestAssignerErrorOnOneAgentDoesNotStallTheQueue(t *testing.T) {
	f := newFixture(t)
	rec := &recorder{}
	e, err := New(Config{Now: f.clk.Now, Assigner: brokenFor{f.as, "ana"}, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	f.e = e
	f.agent(Agent{ID: "ana", Capacity: 5}) // least busy and idle the longest: picked first
	f.clk.Advance(1)
	f.agent(Agent{ID: "bob", Capacity: 5})
	f.mustEnqueue("c1", Request{})
	evs := rec.take()
	if fail := find[AssignFailed](evs); len(fail) != 1 || !errors.Is(fail[0].Err, errGone) {
		t.Fatalf("failures %+v", fail)
	}
	if as := find[Assigned](evs); len(as) != 1 || as[0].AgentID != "bob" {
		t.Fatalf("c1 should go to bob after ana's claim failed: %+v", evs)
	}
	// The next Tick asks the store about ana again (still broken), and the
	// engine keeps serving with bob.
	f.e.Tick(f.ctx)
	f.mustEnqueue("c2", Request{})
	if as := find[Assigned](rec.take()); len(as) != 1 || as[0].AgentID != "bob" {
		t.Fatalf("c2: %+v", as)
	}
}
