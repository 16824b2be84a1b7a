package store

import (
	"context"
	"time"
)

// RefreshPurged replaces a visitor's refresh secret hash once it is too old
// to be accepted. It is not the empty string on purpose: an empty hash
// means "created before refresh secrets", which RotateVisitorRefresh lets
// claim a first secret; a dead one must stay dead.
const RefreshPurged = "purged"

// PurgeRules say what is old enough to delete.
type PurgeRules struct {
	// InviteKeep is how long a used or expired invite stays, so its link
	// still says "already used" or "expired" rather than "not valid".
	InviteKeep time.Duration
	// RefreshMaxAge is the refresh secrets' lifetime (RefreshRules.MaxAge):
	// older hashes can never be accepted and are dropped.
	RefreshMaxAge time.Duration
	// Batch bounds the rows one statement touches, so a large backlog
	// never holds long locks.
	Batch int
}

// Purged counts what a Purge removed.
type Purged struct {
	Invites, Sessions, RefreshSecrets int64
}

// Purge deletes, across all workspaces (it is the node's maintenance, like
// Reencrypt, not a workspace's query), the invites used or expired more
// than InviteKeep ago, the expired agent sessions, and the visitor refresh
// secrets past RefreshMaxAge. It works in batches of Batch rows until none
// is left or ctx ends.
func (s *Store) Purge(ctx context.Context, now time.Time, r PurgeRules) (Purged, error) {
	var out Purged
	inviteCut := now.Add(-r.InviteKeep)
	steps := []struct {
		n   *int64
		run func() (int64, error)
	}{
		{&out.Invites, func() (int64, error) {
			return s.deleteBatch(ctx, "invites", "id",
				"(accepted_at IS NOT NULL AND accepted_at < ?) OR expires_at < ?", r.Batch, inviteCut, inviteCut)
		}},
		{&out.Sessions, func() (int64, error) {
			return s.deleteBatch(ctx, "sessions", "token_hash", "expires_at < ?", r.Batch, now)
		}},
		{&out.RefreshSecrets, func() (int64, error) {
			cut := now.Add(-r.RefreshMaxAge)
			ids, err := s.deadKeys(ctx, "visitors", "id", refreshDead, r.Batch, RefreshPurged, cut)
			if err != nil || len(ids) == 0 {
				return 0, err
			}
			return s.purgeRefresh(ctx, ids, cut)
		}},
	}
	for _, st := range steps {
		for {
			n, err := st.run()
			*st.n += n
			if err != nil {
				return out, err
			}
			if n < int64(r.Batch) || ctx.Err() != nil {
				break
			}
		}
	}
	return out, ctx.Err()
}

// refreshDead matches the visitors whose refresh secret is past its age
// (args: RefreshPurged, the cut).
const refreshDead = "refresh_hash <> '' AND refresh_hash <> ? AND refreshed_at < ?"

// purgeRefresh kills the refresh secrets of ids that are still older than
// cut: one rotated since it was selected is live and stays.
func (s *Store) purgeRefresh(ctx context.Context, ids []string, cut time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Model(&Visitor{}).Where("id IN ?", ids).Where(refreshDead, RefreshPurged, cut).
		Updates(map[string]any{"refresh_hash": RefreshPurged, "prev_refresh_hash": ""})
	return res.RowsAffected, res.Error
}

// deadKeys selects up to batch keys of table's rows matching where.
func (s *Store) deadKeys(ctx context.Context, table, key, where string, batch int, args ...any) ([]string, error) {
	var keys []string
	err := s.db.WithContext(ctx).Table(table).Where(where, args...).Limit(batch).Pluck(key, &keys).Error
	return keys, err
}

// deleteBatch deletes up to batch rows of table matching where, by their
// key (a DELETE with LIMIT is not portable; a keyed subselect is).
func (s *Store) deleteBatch(ctx context.Context, table, key, where string, batch int, args ...any) (int64, error) {
	keys, err := s.deadKeys(ctx, table, key, where, batch, args...)
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	return s.deleteKeys(ctx, table, key, where, keys, args...)
}

// deleteKeys deletes the rows of keys that still match where: one renewed
// since it was selected (an extended session) is not dead any more.
func (s *Store) deleteKeys(ctx context.Context, table, key, where string, keys []string, args ...any) (int64, error) {
	res := s.db.WithContext(ctx).Exec("DELETE FROM "+table+" WHERE "+key+" IN ? AND ("+where+")", append([]any{keys}, args...)...)
	return res.RowsAffected, res.Error
}
