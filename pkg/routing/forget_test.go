package routing

import "testing"

// A node that stops routing a workspace forgets its conversations without
// touching the store's assignments (the Assigner) and keeps its agents, so
// that a later holder's load starts clean.
func TestForgetConversationsKeepsAgentsAndAssigner(t *testing.T) {
	f := newFixture(t)
	f.agent(Agent{ID: "ana", Capacity: 1})
	f.mustEnqueue("c1", Request{})
	f.mustEnqueue("c2", Request{})
	if f.owner("c1") != "ana" || len(f.e.Snapshot("w").Queue) != 1 {
		t.Fatalf("before: %+v", f.e.Snapshot("w"))
	}
	f.rec.take()
	if err := f.e.ForgetConversations("w"); err != nil {
		t.Fatal(err)
	}
	if evs := f.rec.take(); len(evs) != 0 {
		t.Fatalf("forgetting emitted %+v", evs)
	}
	s := f.e.Snapshot("w")
	if len(s.Queue) != 0 || len(s.Owners) != 0 {
		t.Fatalf("after: queue %+v owners %+v", s.Queue, s.Owners)
	}
	if len(s.Agents) != 1 || s.Agents[0].Status != StatusOnline || s.Agents[0].Load != 0 {
		t.Fatalf("agents after: %+v", s.Agents)
	}
	if f.as.Owner("w", "c1") != "ana" {
		t.Fatal("the Assigner lost the assignment")
	}
	// Loaded again (as a new holder would): adopted and queued as before.
	if err := f.e.Adopt("w", Request{ConversationID: "c1", EnqueuedAt: f.clk.Now()}, "ana", f.clk.Now()); err != nil {
		t.Fatal(err)
	}
	f.mustEnqueue("c2", Request{})
	if s := f.e.Snapshot("w"); s.Owners["c1"] != "ana" || len(s.Queue) != 1 || s.Queue[0].Position.Position != 1 {
		t.Fatalf("reloaded: %+v", s)
	}
}
