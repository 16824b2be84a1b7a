package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/parleychat/parley/pkg/store"
)

// Data hygiene: what can no longer be used is deleted, not kept forever.
// Every node runs the purge (it is idempotent, and cheap when there is
// nothing to do), so there is no leader to elect.

const purgeEvery = time.Hour

var purgeRules = store.PurgeRules{
	InviteKeep:    7 * 24 * time.Hour,
	RefreshMaxAge: refreshRules.MaxAge,
	Batch:         500,
}

// runPurge purges at once and then every purgeEvery until ctx ends.
func runPurge(ctx context.Context, st *store.Store, log *slog.Logger) {
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		n, err := st.Purge(ctx, time.Now().UTC(), purgeRules)
		if err != nil && ctx.Err() == nil {
			log.Warn("purge of old invites, sessions and refresh secrets failed; next try in an hour", "err", err)
		} else if n != (store.Purged{}) {
			log.Info("purged", "invites", n.Invites, "sessions", n.Sessions, "refresh_secrets", n.RefreshSecrets)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
