package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/store"
)

// A freshly opened store (a restarted node: nothing prepared yet) serves a
// burst of concurrent first uses of many statements, single writes and
// transactions among them, without stalling: a transaction that waited for
// gorm's statement cache while holding SQLite's only connection deadlocked
// a restarted node until the 15 s handle timeout (issue 15).
func TestFreshStoreServesABurstOfFirstStatements(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	sc, c := seed(t, s)
	agent := addAgent(t, sc, "agent")
	s.Close()
	now := time.Now().UTC()
	ops := []func(ctx context.Context, s *store.Store) error{
		func(ctx context.Context, s *store.Store) error {
			_, err := s.SessionByTokenHash(ctx, "x", now)
			return err
		},
		func(ctx context.Context, s *store.Store) error {
			return s.TouchAgentsSeen(ctx, []string{agent.ID}, now)
		},
		func(ctx context.Context, s *store.Store) error {
			return s.Workspace(sc.WorkspaceID()).SetAgentStatus(ctx, agent.ID, "online")
		},
		func(ctx context.Context, s *store.Store) error {
			_, err := s.Workspace(sc.WorkspaceID()).SetAgentRole(ctx, agent.ID, "agent")
			return err
		},
		func(ctx context.Context, s *store.Store) error {
			_, err := s.Workspace(sc.WorkspaceID()).Agent(ctx, agent.ID)
			return err
		},
		func(ctx context.Context, s *store.Store) error {
			_, err := s.Workspace(sc.WorkspaceID()).Agents(ctx)
			return err
		},
		func(ctx context.Context, s *store.Store) error {
			_, err := s.Workspace(sc.WorkspaceID()).Conversation(ctx, c.ID)
			return err
		},
		func(ctx context.Context, s *store.Store) error {
			_, err := s.Workspace(sc.WorkspaceID()).Inbox(ctx, agent.ID, now)
			return err
		},
		func(ctx context.Context, s *store.Store) error {
			_, err := s.Workspace(sc.WorkspaceID()).MessagesAfter(ctx, c.ID, 0, 50)
			return err
		},
		func(ctx context.Context, s *store.Store) error {
			return s.Workspace(sc.WorkspaceID()).TouchVisitor(ctx, c.VisitorID, now)
		},
		func(ctx context.Context, s *store.Store) error {
			_, err := s.Workspace(sc.WorkspaceID()).OpenLoads(ctx)
			return err
		},
		func(ctx context.Context, s *store.Store) error {
			_, err := s.Workspace(sc.WorkspaceID()).LiveSessions(ctx, []string{"x"}, now)
			return err
		},
	}
	for round := 0; round < 10; round++ {
		s, err := store.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		var (
			wg      sync.WaitGroup
			stalled atomic.Int64
			other   atomic.Value
		)
		bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		for i := 0; i < 300; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := ops[i%len(ops)](bctx, s)
				switch {
				case errors.Is(err, context.DeadlineExceeded):
					stalled.Add(1)
				case err != nil && !errors.Is(err, store.ErrNotFound):
					other.Store(err)
				}
			}()
		}
		wg.Wait()
		cancel()
		s.Close()
		if n := stalled.Load(); n > 0 {
			t.Fatalf("round %d: %d of 300 calls stalled for 5 s on a fresh store", round, n)
		}
		if err, _ := other.Load().(error); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}
