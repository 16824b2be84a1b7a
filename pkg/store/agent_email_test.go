package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/store"
)

// One address may be an agent of several workspaces, once in each.
func TestAgentEmailIsUniquePerWorkspace(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		email := uuid.NewString() + "@both.test"
		var wss []string
		for _, name := range []string{"First", "Second"} {
			ws := store.Workspace{ID: uuid.NewString(), Name: name}
			admin := store.Agent{ID: uuid.NewString(), Email: " " + email + " ", Name: "Ann", Role: "admin", PasswordHash: "x"}
			if err := s.CreateWorkspace(ctx, ws, store.Site{ID: uuid.NewString(), Name: "site", Secret: "s"}, admin); err != nil {
				t.Fatalf("%s workspace with an address another workspace has: %v", name, err)
			}
			wss = append(wss, ws.ID)
		}
		as, err := s.AgentsByEmail(ctx, email)
		if err != nil || len(as) != 2 || as[0].WorkspaceID != wss[0] || as[1].WorkspaceID != wss[1] {
			t.Fatalf("agents by email: %+v %v", as, err)
		}
		second := s.Workspace(wss[1])
		if _, err := second.CreateAgent(ctx, store.Agent{ID: uuid.NewString(), Email: email, Name: "Again", Role: "agent", PasswordHash: "x"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("the same address twice in one workspace: %v", err)
		}
		if a, err := second.AgentByEmail(ctx, email); err != nil || a.WorkspaceID != wss[1] {
			t.Fatalf("the workspace's agent by email: %+v %v", a, err)
		}
		if _, err := s.Workspace(uuid.NewString()).AgentByEmail(ctx, email); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace finds the agent: %v", err)
		}
	})
}
