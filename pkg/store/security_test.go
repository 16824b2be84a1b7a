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

// An invite is accepted once: concurrent accepts of one link create one
// agent; a used, expired, revoked or other workspace's invite does nothing.
func TestInvitesAreSingleUseAndExpire(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, _ := seed(t, s)
		other, _ := seed(t, s)
		now := time.Now().UTC()
		newInvite := func(email, hash string, ttl time.Duration) store.Invite {
			inv, err := sc.CreateInvite(ctx, store.Invite{ID: uuid.NewString(), Email: email, Role: "agent", TokenHash: hash, CreatedBy: "a", ExpiresAt: now.Add(ttl), CreatedAt: now})
			if err != nil {
				t.Fatal(err)
			}
			return inv
		}
		inv := newInvite(" New@Acme.test ", "h1", time.Hour)
		if inv.Email != "new@acme.test" {
			t.Fatalf("email %q, want lower-case and trimmed", inv.Email)
		}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, _, errs[i] = s.AcceptInvite(ctx, "h1", store.Agent{ID: uuid.NewString(), Name: "New", PasswordHash: "x"}, now)
			}(i)
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, store.ErrInviteUsed):
			default:
				t.Fatalf("concurrent accept: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d accepts won, want 1", won)
		}
		a, err := sc.AgentByEmail(ctx, "new@acme.test")
		if err != nil || a.WorkspaceID != sc.WorkspaceID() || a.Role != "agent" {
			t.Fatalf("invited agent: %+v %v", a, err)
		}
		if _, err := s.InviteByTokenHash(ctx, "h1", now); !errors.Is(err, store.ErrInviteUsed) {
			t.Fatalf("used invite: %v", err)
		}
		if _, err := sc.CreateInvite(ctx, store.Invite{ID: uuid.NewString(), Email: "new@acme.test", Role: "agent", TokenHash: "h2", ExpiresAt: now.Add(time.Hour)}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("invite of an existing agent: %v", err)
		}

		newInvite("late@acme.test", "h3", -time.Second)
		if _, _, err := s.AcceptInvite(ctx, "h3", store.Agent{ID: uuid.NewString(), Name: "Late", PasswordHash: "x"}, now); !errors.Is(err, store.ErrInviteExpired) {
			t.Fatalf("expired invite: %v", err)
		}
		if _, _, err := s.AcceptInvite(ctx, "nope", store.Agent{ID: uuid.NewString()}, now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown invite: %v", err)
		}

		pending := newInvite("later@acme.test", "h4", time.Hour)
		list, err := sc.PendingInvites(ctx, now)
		if err != nil || len(list) != 1 || list[0].ID != pending.ID {
			t.Fatalf("pending: %+v %v (want only the unused, unexpired one)", list, err)
		}
		if _, err := other.RevokeInvite(ctx, pending.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoke from another workspace: %v", err)
		}
		if _, err := sc.RevokeInvite(ctx, pending.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.InviteByTokenHash(ctx, "h4", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoked invite: %v", err)
		}
	})
}

func TestAuditLogIsScopedAndPaged(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, _ := seed(t, s)
		other, _ := seed(t, s)
		for _, a := range []string{"one", "two", "three"} {
			if err := sc.Audit(ctx, store.AuditEntry{ActorID: "a", Action: a}); err != nil {
				t.Fatal(err)
			}
		}
		if err := other.Audit(ctx, store.AuditEntry{Action: "elsewhere"}); err != nil {
			t.Fatal(err)
		}
		page, err := sc.AuditEntries(ctx, 0, 2)
		if err != nil || len(page) != 2 || page[0].Action != "three" || page[1].Action != "two" {
			t.Fatalf("first page: %+v %v", page, err)
		}
		page, err = sc.AuditEntries(ctx, page[1].ID, 2)
		if err != nil || len(page) != 1 || page[0].Action != "one" {
			t.Fatalf("second page: %+v %v", page, err)
		}
	})
}

func TestSignOutEverywhereDeletesOnlyThatAgentsSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, _ := seed(t, s)
		other, _ := seed(t, s)
		now := time.Now().UTC()
		for i, agent := range []string{"ann", "ann", "bob"} {
			if err := s.CreateSession(ctx, store.Session{TokenHash: uuid.NewString(), AgentID: agent, WorkspaceID: sc.WorkspaceID(), CSRFToken: "c", ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(i, err)
			}
		}
		if n, err := other.DeleteAgentSessions(ctx, "ann"); err != nil || n != 0 {
			t.Fatalf("another workspace ended %d sessions (%v)", n, err)
		}
		if n, err := sc.DeleteAgentSessions(ctx, "ann"); err != nil || n != 2 {
			t.Fatalf("ended %d sessions (%v), want 2", n, err)
		}
		if n, _ := sc.DeleteAgentSessions(ctx, "bob"); n != 1 {
			t.Fatalf("bob's session: %d", n)
		}
	})
}
