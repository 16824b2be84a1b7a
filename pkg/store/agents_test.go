package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/store"
)

func addAgent(t *testing.T, sc *store.Scoped, role string) store.Agent {
	t.Helper()
	a, err := sc.CreateAgent(context.Background(), store.Agent{ID: uuid.NewString(), Email: uuid.NewString() + "@acme.test", Name: role, Role: role, PasswordHash: "x", Status: "online"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func enabledAdmins(t *testing.T, sc *store.Scoped) int {
	t.Helper()
	agents, err := sc.Agents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range agents {
		if a.Role == "admin" && a.DisabledAt == nil {
			n++
		}
	}
	return n
}

// Two admins demoting (or disabling) each other at the same moment: one
// wins, the other gets ErrLastAdmin, and the workspace keeps an admin.
func TestLastAdminSurvivesConcurrentChanges(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, _ := seed(t, s)
		ann := addAgent(t, sc, "admin")
		bob := addAgent(t, sc, "admin")
		// The seeded admin steps down: Ann and Bob are the admins.
		agents, _ := sc.Agents(ctx)
		for _, a := range agents {
			if a.ID != ann.ID && a.ID != bob.ID {
				if _, err := sc.SetAgentRole(ctx, a.ID, "agent"); err != nil {
					t.Fatal(err)
				}
			}
		}
		for round := 0; round < 20; round++ {
			for _, a := range []store.Agent{ann, bob} {
				if _, err := sc.EnableAgent(ctx, a.ID); err != nil {
					t.Fatal(err)
				}
				if _, err := sc.SetAgentRole(ctx, a.ID, "admin"); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, a := range []store.Agent{ann, bob} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if round%2 == 0 {
						_, errs[i] = sc.SetAgentRole(ctx, a.ID, "supervisor")
					} else {
						_, _, errs[i] = sc.DisableAgent(ctx, a.ID, time.Now().UTC())
					}
				}()
			}
			wg.Wait()
			refused := 0
			for _, err := range errs {
				if errors.Is(err, store.ErrLastAdmin) {
					refused++
				} else if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if refused != 1 || enabledAdmins(t, sc) != 1 {
				t.Fatalf("round %d: %d refused, %d enabled admins; want 1 and 1", round, refused, enabledAdmins(t, sc))
			}
		}
	})
}

func TestDisableAndEnableAgent(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, _ := seed(t, s)
		other, _ := seed(t, s)
		al := addAgent(t, sc, "agent")
		now := time.Now().UTC()
		for i := 0; i < 2; i++ {
			if err := s.CreateSession(ctx, store.Session{TokenHash: uuid.NewString(), AgentID: al.ID, WorkspaceID: sc.WorkspaceID(), CSRFToken: "c", ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := other.DisableAgent(ctx, al.ID, now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace disables: %v", err)
		}
		if _, err := other.SetAgentRole(ctx, al.ID, "admin"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace changes the role: %v", err)
		}
		a, ended, err := sc.DisableAgent(ctx, al.ID, now)
		if err != nil || ended != 2 || a.DisabledAt == nil || a.Status != store.StatusOffline {
			t.Fatalf("disable: %+v %d %v", a, ended, err)
		}
		if n, _ := sc.DeleteAgentSessions(ctx, al.ID); n != 0 {
			t.Fatalf("%d sessions left", n)
		}
		if a, ended, err = sc.DisableAgent(ctx, al.ID, now.Add(time.Minute)); err != nil || ended != 0 || a.DisabledAt.Sub(now).Abs() > time.Millisecond {
			t.Fatalf("disable again: %+v %d %v", a, ended, err)
		}
		a, err = sc.EnableAgent(ctx, al.ID)
		if err != nil || a.DisabledAt != nil || a.Status != "away" {
			t.Fatalf("enable: %+v %v", a, err)
		}
		if err := s.TouchAgentsSeen(ctx, []string{al.ID}, now); err != nil {
			t.Fatal(err)
		}
		if a, _ = sc.Agent(ctx, al.ID); a.LastSeenAt == nil || a.LastSeenAt.Sub(now).Abs() > time.Millisecond {
			t.Fatalf("last seen: %v", a.LastSeenAt)
		}
	})
}
