package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/keyring"
)

// PendingAppends is how many AppendMessage calls wait for a batch (not yet
// in a transaction), for tests that line up a batch.
func PendingAppends(s *Store) int {
	s.commits.mu.Lock()
	defer s.commits.mu.Unlock()
	return len(s.commits.pending)
}

// HoldCommits keeps batches from starting until release is called, so a
// test can line appends up into one batch. The store must be idle.
func HoldCommits(s *Store) (release func()) {
	c := &s.commits
	c.mu.Lock()
	held := c.max - c.running
	c.running = c.max
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.running -= held - 1 // one batch goroutine takes what is pending
		c.mu.Unlock()
		go s.commitLoop(nil)
	}
}

// PurgeRefresh and DeleteKeys are Purge's second steps, so a test can
// renew a row between the selection and them.
func PurgeRefresh(ctx context.Context, s *Store, ids []string, cut time.Time) (int64, error) {
	return s.purgeRefresh(ctx, ids, cut)
}

func DeleteKeys(ctx context.Context, s *Store, table, key, where string, keys []string, args ...any) (int64, error) {
	return s.deleteKeys(ctx, table, key, where, keys, args...)
}

// CreateConversations stores many conversations in batches (for the inbox
// measurement on a large workspace).
func CreateConversations(ctx context.Context, s *Scoped, cs []Conversation) error {
	for i := range cs {
		cs[i].WorkspaceID = s.ws
	}
	return s.s.db.WithContext(ctx).CreateInBatches(cs, 500).Error
}

// Insert stores rows as they are (fixtures another API would make).
func Insert(ctx context.Context, s *Store, rows any) error {
	return s.db.WithContext(ctx).Create(rows).Error
}

// KeyRotation walks a store file through a key rotation as an operator
// does it: sealed under k1 (Old); reopened with k2 as the primary key and k1
// still read (Rotated), where Reencrypt runs; reopened under k2 alone once
// the old key is gone (Final). Each step closes the store the step before
// opened; the last one is closed when the test ends.
type KeyRotation struct {
	t      testing.TB
	path   string
	k1, k2 keyring.Key
	open   *Store
}

func NewKeyRotation(t testing.TB) *KeyRotation {
	t.Helper()
	k1, err := keyring.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := keyring.GenerateKey("k2")
	if err != nil {
		t.Fatal(err)
	}
	r := &KeyRotation{t: t, path: filepath.Join(t.TempDir(), "p.db"), k1: k1, k2: k2}
	t.Cleanup(r.close)
	return r
}

// Old opens the file under k1, the key before the rotation.
func (r *KeyRotation) Old() *Store { return r.reopen(r.k1) }

// Rotated opens the file with k2 primary and k1 still read, and returns the
// ring to pass to Reencrypt.
func (r *KeyRotation) Rotated() (*Store, *keyring.Keyring) {
	ring := r.ring(r.k2, r.k1)
	return r.openWith(ring), ring
}

// Final opens the file under k2 alone: what k1 sealed no longer opens.
func (r *KeyRotation) Final() *Store { return r.reopen(r.k2) }

func (r *KeyRotation) reopen(keys ...keyring.Key) *Store { return r.openWith(r.ring(keys...)) }

func (r *KeyRotation) ring(keys ...keyring.Key) *keyring.Keyring {
	ring, err := keyring.New(keys...)
	if err != nil {
		r.t.Fatal(err)
	}
	return ring
}

func (r *KeyRotation) openWith(ring *keyring.Keyring) *Store {
	r.t.Helper()
	r.close()
	s, err := Open(context.Background(), r.path, WithSealer(ring))
	if err != nil {
		r.t.Fatal(err)
	}
	r.open = s
	return s
}

func (r *KeyRotation) close() {
	if r.open != nil {
		r.open.Close()
		r.open = nil
	}
}
