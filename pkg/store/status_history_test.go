package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parleychat/parley/pkg/store"
)

// An agent's status changes are kept, newest first; setting the status
// the agent has adds nothing; another workspace's agent is not found.
func TestStatusHistory(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, _ := seed(t, s)
		other, _ := seed(t, s)
		as, _ := sc.Agents(ctx)
		id := as[0].ID
		for _, st := range []string{"online", "online", "away", "offline", "offline", "online"} {
			if err := sc.SetAgentStatus(ctx, id, st); err != nil {
				t.Fatal(err)
			}
		}
		hs, err := sc.StatusHistory(ctx, id, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hs {
			got = append(got, h.Status)
		}
		if len(got) != 4 || got[0] != "online" || got[1] != "offline" || got[2] != "away" || got[3] != "online" {
			t.Fatalf("history %v", got)
		}
		if a, _ := sc.Agent(ctx, id); a.Status != "online" {
			t.Fatalf("status %q", a.Status)
		}
		if _, err := other.StatusHistory(ctx, id, 10); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace's agent: %v", err)
		}
		if err := other.SetAgentStatus(ctx, id, "away"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace sets the status: %v", err)
		}
	})
}
