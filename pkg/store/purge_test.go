package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/store"
)

// Purge deletes what can no longer be used, in small batches, and nothing
// else: pending invites, recently used or expired ones (their link still
// says so), live sessions and refresh secrets in their lifetime stay.
func TestPurgeDeletesOnlyWhatIsDead(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, c := seed(t, s)
		now := time.Now().UTC()
		day := 24 * time.Hour
		rules := store.PurgeRules{InviteKeep: 7 * day, RefreshMaxAge: 30 * day, Batch: 2}
		db := s.Gorm()

		invite := func(expires time.Time, accepted *time.Time) string {
			inv, err := sc.CreateInvite(ctx, store.Invite{ID: uuid.NewString(), Email: uuid.NewString() + "@acme.test", Role: "agent",
				TokenHash: uuid.NewString(), CreatedBy: "a", ExpiresAt: expires, CreatedAt: now})
			if err != nil {
				t.Fatal(err)
			}
			if accepted != nil {
				db.Model(&store.Invite{}).Where("id = ?", inv.ID).Update("accepted_at", *accepted)
			}
			return inv.ID
		}
		longAgo, lately := now.Add(-8*day), now.Add(-day)
		var keepInvites []string
		for range 3 {
			invite(now.Add(day), &longAgo) // used long ago
		}
		invite(longAgo, nil) // expired long ago
		invite(longAgo, nil)
		keepInvites = append(keepInvites, invite(now.Add(day), &lately), invite(lately, nil), invite(now.Add(day), nil))

		for i, exp := range []time.Time{now.Add(-time.Minute), now.Add(-day), longAgo, now.Add(time.Hour)} {
			if err := s.CreateSession(ctx, store.Session{TokenHash: uuid.NewString(), AgentID: "ann", WorkspaceID: sc.WorkspaceID(), CSRFToken: "c", ExpiresAt: exp}); err != nil {
				t.Fatal(i, err)
			}
		}

		visitor := func(hash string, refreshed time.Time) string {
			v, err := sc.CreateVisitor(ctx, store.Visitor{ID: uuid.NewString(), SiteID: c.SiteID, Name: "V"})
			if err != nil {
				t.Fatal(err)
			}
			db.Model(&store.Visitor{}).Where("id = ?", v.ID).Updates(map[string]any{"refresh_hash": hash, "prev_refresh_hash": "old", "refreshed_at": refreshed})
			return v.ID
		}
		var dead []string
		for range 3 {
			dead = append(dead, visitor(uuid.NewString(), now.Add(-31*day)))
		}
		liveHash := uuid.NewString()
		live := visitor(liveHash, now.Add(-29*day))

		got, err := s.Purge(ctx, now, rules)
		if err != nil {
			t.Fatal(err)
		}
		if want := (store.Purged{Invites: 5, Sessions: 3, RefreshSecrets: 3}); got != want {
			t.Fatalf("purged %+v, want %+v", got, want)
		}
		var left []string
		db.Model(&store.Invite{}).Where("workspace_id = ?", sc.WorkspaceID()).Order("id").Pluck("id", &left)
		if len(left) != len(keepInvites) {
			t.Fatalf("invites left %v, want %v", left, keepInvites)
		}
		for _, id := range keepInvites {
			if !slices.Contains(left, id) {
				t.Fatalf("invite %s was purged", id)
			}
		}
		// A purged refresh secret is dead: not even the "no secret yet"
		// path of visitors from before refresh secrets lets it be claimed.
		for _, id := range dead {
			v, err := sc.Visitor(ctx, id)
			if err != nil || v.RefreshHash != store.RefreshPurged || v.PrevRefreshHash != "" {
				t.Fatalf("purged visitor %+v %v", v, err)
			}
			if err := sc.RotateVisitorRefresh(ctx, id, "", "new", now, store.RefreshRules{MaxAge: 30 * day, Grace: time.Minute}); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("claiming a purged visitor: %v", err)
			}
		}
		if err := sc.RotateVisitorRefresh(ctx, live, liveHash, "next", now, store.RefreshRules{MaxAge: 30 * day, Grace: time.Minute}); err != nil {
			t.Fatalf("a live secret was purged: %v", err)
		}

		if got, err := s.Purge(ctx, now, rules); err != nil || got != (store.Purged{}) {
			t.Fatalf("second purge: %+v %v", got, err)
		}
	})
}

// A row renewed between Purge's selection and its update or delete is
// live again and stays: a refresh secret rotated meanwhile, a session
// extended meanwhile.
func TestPurgeSparesWhatWasRenewedMeanwhile(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, c := seed(t, s)
		now := time.Now().UTC()
		day := 24 * time.Hour
		db := s.Gorm()

		v, err := sc.CreateVisitor(ctx, store.Visitor{ID: uuid.NewString(), SiteID: c.SiteID, Name: "V"})
		if err != nil {
			t.Fatal(err)
		}
		old := uuid.NewString()
		db.Model(&store.Visitor{}).Where("id = ?", v.ID).Updates(map[string]any{"refresh_hash": old, "refreshed_at": now.Add(-31 * day)})
		// Selected as dead, then rotated by the visitor's widget (rules with a
		// longer MaxAge let the test present the old secret).
		if err := sc.RotateVisitorRefresh(ctx, v.ID, old, "fresh", now, store.RefreshRules{MaxAge: 40 * day, Grace: time.Minute}); err != nil {
			t.Fatal(err)
		}
		if n, err := store.PurgeRefresh(ctx, s, []string{v.ID}, now.Add(-30*day)); err != nil || n != 0 {
			t.Fatalf("purged %d rotated secrets (%v), want 0", n, err)
		}
		if got, err := sc.Visitor(ctx, v.ID); err != nil || got.RefreshHash != "fresh" || got.PrevRefreshHash != old {
			t.Fatalf("rotated visitor after purge: %+v %v", got, err)
		}

		token := uuid.NewString()
		if err := s.CreateSession(ctx, store.Session{TokenHash: token, AgentID: "ann", WorkspaceID: sc.WorkspaceID(), CSRFToken: "c", ExpiresAt: now.Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
		db.Model(&store.Session{}).Where("token_hash = ?", token).Update("expires_at", now.Add(time.Hour))
		if n, err := store.DeleteKeys(ctx, s, "sessions", "token_hash", "expires_at < ?", []string{token}, now); err != nil || n != 0 {
			t.Fatalf("deleted %d extended sessions (%v), want 0", n, err)
		}
		var left int64
		db.Model(&store.Session{}).Where("token_hash = ?", token).Count(&left)
		if left != 1 {
			t.Fatal("an extended session was deleted")
		}
	})
}
