package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// Twenty claims race for one agent of capacity 3 and for the same
// conversations twice over: exactly three conversations get the agent, each
// once, whatever the interleaving (row lock on PostgreSQL, one writer on
// SQLite).
func TestClaimNeverExceedsCapacityOrAssignsTwice(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, first := seed(t, s)
		ctx := context.Background()
		agents, err := sc.Agents(ctx)
		if err != nil || len(agents) != 1 {
			t.Fatal(agents, err)
		}
		agent := agents[0].ID
		convs := []string{first.ID}
		for i := 0; i < 9; i++ {
			c, err := sc.CreateConversation(ctx, store.Conversation{ID: uuid.NewString(), SiteID: first.SiteID, VisitorID: first.VisitorID, Status: "queued"})
			if err != nil {
				t.Fatal(err)
			}
			convs = append(convs, c.ID)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := map[string]int{}
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(conv string) {
				defer wg.Done()
				err := sc.Claim(ctx, conv, agent, 3)
				switch {
				case err == nil:
					mu.Lock()
					won[conv]++
					mu.Unlock()
				case errors.Is(err, store.ErrAgentFull), errors.Is(err, store.ErrConflict):
				default:
					t.Errorf("claim: %v", err)
				}
			}(convs[i%len(convs)])
		}
		wg.Wait()
		if len(won) != 3 {
			t.Fatalf("claimed %v, want 3 conversations", won)
		}
		for c, n := range won {
			if n != 1 {
				t.Fatalf("%s claimed %d times", c, n)
			}
		}
		loads, _ := sc.OpenLoads(ctx)
		if loads[agent] != 3 {
			t.Fatalf("load %d", loads[agent])
		}
		// Another workspace's agent cannot claim here.
		if err := sc.Claim(ctx, convs[9], uuid.NewString(), 5); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown agent: %v", err)
		}
		// Move to a second agent, then unassign back to the queue.
		b, err := sc.CreateAgent(ctx, store.Agent{ID: uuid.NewString(), Email: "B@x.test", Name: "Bo", Role: "agent", PasswordHash: "x", Capacity: 1})
		if err != nil || b.Email != "b@x.test" {
			t.Fatal(b, err)
		}
		var moved string
		for c := range won {
			moved = c
			break
		}
		if err := sc.Move(ctx, moved, agent, b.ID, 1, "billing question"); err != nil {
			t.Fatal(err)
		}
		if err := sc.Move(ctx, moved, agent, b.ID, 5, ""); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second move: %v", err)
		}
		for c := range won {
			if c != moved {
				if err := sc.Move(ctx, c, agent, b.ID, 1, ""); !errors.Is(err, store.ErrAgentFull) {
					t.Fatalf("move to a full agent: %v", err)
				}
				break
			}
		}
		if err := sc.Unassign(ctx, moved, b.ID); err != nil {
			t.Fatal(err)
		}
		c, _ := sc.Conversation(ctx, moved)
		if c.Status != "queued" || c.AgentID != nil || c.TransferNote != "billing question" {
			t.Fatalf("after unassign %+v", c)
		}
	})
}

// BenchmarkClaim is the store's side of one routing decision: the
// compare-and-set transaction (agent row lock, load count, conditional
// update) plus the release that frees the slot again.
func BenchmarkClaim(b *testing.B) {
	for name, s := range storetest.Stores(b) {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			ws := store.Workspace{ID: uuid.NewString(), Name: "Bench"}
			site := store.Site{ID: uuid.NewString(), Name: "bench", Secret: "s"}
			agent := store.Agent{ID: uuid.NewString(), Email: uuid.NewString() + "@bench.test", Name: "A", Role: "agent", PasswordHash: "x", Capacity: 5}
			if err := s.CreateWorkspace(ctx, ws, site, agent); err != nil {
				b.Fatal(err)
			}
			sc := s.Workspace(ws.ID)
			c, err := sc.CreateConversation(ctx, store.Conversation{ID: uuid.NewString(), SiteID: site.ID, VisitorID: "v", Status: "queued"})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := sc.Claim(ctx, c.ID, agent.ID, 5); err != nil {
					b.Fatal(err)
				}
				if err := sc.Unassign(ctx, c.ID, agent.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
