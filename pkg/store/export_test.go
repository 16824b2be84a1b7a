package store

import (
	"context"
	"time"
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
