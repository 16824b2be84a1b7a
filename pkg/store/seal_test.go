package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parleychat/parley/pkg/keyring"
	"github.com/parleychat/parley/pkg/store"
)

func rawBodies(t *testing.T, s *store.Store) []string {
	var out []string
	if err := s.Gorm().Raw("SELECT body FROM messages UNION ALL SELECT last_body FROM conversations").Scan(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBodiesAreEncryptedAtRest(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, c := seed(t, s)
		ctx := context.Background()
		secret := "my card number is 4111 1111 1111 1111"
		if _, _, err := sc.AppendMessage(ctx, msg(c.ID, "c1", secret)); err != nil {
			t.Fatal(err)
		}
		for _, raw := range rawBodies(t, s) {
			if strings.Contains(raw, "4111") {
				t.Fatalf("plaintext in the database: %q", raw)
			}
		}
		ms, _ := sc.MessagesAfter(ctx, c.ID, 0, 10)
		got, _ := sc.Conversation(ctx, c.ID)
		if ms[0].Body != secret || got.LastBody != secret {
			t.Fatalf("read back %q / %q", ms[0].Body, got.LastBody)
		}
		// A sealed body copied into another row does not open there.
		if _, _, err := sc.AppendMessage(ctx, msg(c.ID, "c2", "second")); err != nil {
			t.Fatal(err)
		}
		s.Gorm().Exec("UPDATE messages SET body = (SELECT body FROM messages WHERE client_id = 'c1') WHERE client_id = 'c2'")
		if _, err := sc.MessagesAfter(ctx, c.ID, 0, 10); err == nil {
			t.Fatal("a body moved to another row must not decrypt")
		}
	})
}

func TestKeyRotationKeepsOldMessagesReadable(t *testing.T) {
	ctx := context.Background()
	rot := store.NewKeyRotation(t)
	s1 := rot.Old()
	sc, c := seed(t, s1)
	sc.AppendMessage(ctx, msg(c.ID, "old", "sealed with k1"))
	s2, ring2 := rot.Rotated() // k2 primary, k1 still reads
	sc2 := s2.Workspace(sc.WorkspaceID())
	sc2.AppendMessage(ctx, msg(c.ID, "new", "sealed with k2"))
	ms, err := sc2.MessagesAfter(ctx, c.ID, 0, 10)
	if err != nil || len(ms) != 2 || ms[0].Body != "sealed with k1" || ms[1].Body != "sealed with k2" {
		t.Fatalf("after rotation: %+v %v", ms, err)
	}
	n, err := s2.Reencrypt(ctx, ring2)
	if err != nil || n < 1 {
		t.Fatalf("reencrypt: %d %v", n, err)
	}
	for _, raw := range rawBodies(t, s2) {
		if id, err := keyring.KeyID(raw); raw != "" && (err != nil || id != "k2") {
			t.Fatalf("after reencrypt a value is under %q (%v)", id, err)
		}
	}
	s3 := rot.Final() // now k1 can go
	ms, err = s3.Workspace(sc.WorkspaceID()).MessagesAfter(ctx, c.ID, 0, 10)
	if err != nil || len(ms) != 2 {
		t.Fatalf("without k1: %v", err)
	}
	// Personal fields were re-encrypted too.
	if v, err := s3.Workspace(sc.WorkspaceID()).Visitor(ctx, c.VisitorID); err != nil || v.Name != "Visitor" {
		t.Fatalf("visitor name without k1: %q %v", v.Name, err)
	}
}

func TestVisitorPersonalFieldsAreEncryptedAtRest(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, c := seed(t, s)
		ctx := context.Background()
		v, err := sc.CreateVisitor(ctx, store.Visitor{ID: "v-personal", SiteID: c.SiteID, Name: "Grace Hopper", UserID: "u-1"})
		if err != nil || v.Name != "Grace Hopper" {
			t.Fatalf("create: %+v %v", v, err)
		}
		if err := sc.SetContact(ctx, c.ID, "Ada Lovelace", "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		var raw []string
		if err := s.Gorm().Raw("SELECT name FROM visitors UNION ALL SELECT contact_name FROM conversations UNION ALL SELECT contact_email FROM conversations").Scan(&raw).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range raw {
			if strings.Contains(r, "Grace") || strings.Contains(r, "Ada") || strings.Contains(r, "example.com") {
				t.Fatalf("plaintext personal data in the database: %q", r)
			}
		}
		if got, err := sc.VisitorByUser(ctx, c.SiteID, "u-1"); err != nil || got.Name != "Grace Hopper" {
			t.Fatalf("read back: %q %v", got.Name, err)
		}
		got, err := sc.Conversation(ctx, c.ID)
		if err != nil || got.ContactName != "Ada Lovelace" || got.ContactEmail != "ada@example.com" {
			t.Fatalf("contact read back: %+v %v", got, err)
		}
		// A name copied to another visitor's row does not open there.
		s.Gorm().Exec("UPDATE visitors SET name = (SELECT name FROM visitors WHERE id = 'v-personal') WHERE id = ?", c.VisitorID)
		if _, err := sc.Visitor(ctx, c.VisitorID); err == nil {
			t.Fatal("a sealed name moved to another row must not decrypt")
		}
	})
}
