package store

// PendingAppends is how many AppendMessage calls wait for a batch (not yet
// in a transaction), for tests that line up a batch.
func PendingAppends(s *Store) int {
	s.commits.mu.Lock()
	defer s.commits.mu.Unlock()
	return len(s.commits.pending)
}
