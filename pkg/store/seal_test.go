package store_test

import (
	"context"
	"path/filepath"
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
	path := filepath.Join(t.TempDir(), "p.db")
	k1, _ := keyring.GenerateKey("k1")
	ring1, _ := keyring.New(k1)
	s1, err := store.Open(ctx, path, store.WithSealer(ring1))
	if err != nil {
		t.Fatal(err)
	}
	sc, c := seed(t, s1)
	sc.AppendMessage(ctx, msg(c.ID, "old", "sealed with k1"))
	s1.Close()

	k2, _ := keyring.GenerateKey("k2")
	ring2, _ := keyring.New(k2, k1) // k2 primary, k1 still reads
	s2, err := store.Open(ctx, path, store.WithSealer(ring2))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
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
	// Now k1 can go.
	ring3, _ := keyring.New(k2)
	s3, _ := store.Open(ctx, path, store.WithSealer(ring3))
	defer s3.Close()
	ms, err = s3.Workspace(sc.WorkspaceID()).MessagesAfter(ctx, c.ID, 0, 10)
	if err != nil || len(ms) != 2 {
		t.Fatalf("without k1: %v", err)
	}
}
