package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/parleychat/parley/pkg/blob"
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
func runPurge(ctx context.Context, st *store.Store, blobs blob.Store, log *slog.Logger) {
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		purgeOnce(ctx, st, blobs, log, time.Now().UTC())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// purgeOnce runs one purge: what can no longer be used, then what the
// workspaces' retention periods say is too old (each workspace where that
// deleted something gets an audit entry saying how much). The purged
// conversations' attachment files are deleted after their rows: a file
// whose deletion fails is logged (its row is gone, nobody can reach it).
func purgeOnce(ctx context.Context, st *store.Store, blobs blob.Store, log *slog.Logger, now time.Time) {
	n, err := st.Purge(ctx, now, purgeRules)
	if err != nil && ctx.Err() == nil {
		log.Warn("purge of old invites, sessions and refresh secrets failed; next try in an hour", "err", err)
	} else if n != (store.Purged{}) {
		log.Info("purged", "invites", n.Invites, "sessions", n.Sessions, "refresh_secrets", n.RefreshSecrets)
	}
	// Audited even when a later workspace's purge failed: what was deleted
	// is said.
	purged, err := st.PurgeRetention(ctx, now, purgeRules.Batch)
	if err != nil && ctx.Err() == nil {
		log.Warn("retention purge failed; next try in an hour", "err", err)
	}
	for ws, p := range purged {
		files := 0
		for _, k := range p.Files {
			if err := blobs.Delete(ctx, k); err != nil {
				log.Warn("retention purge: an attachment file could not be deleted", "workspace", ws, "blob", k, "err", err)
				continue
			}
			files++
		}
		e := store.AuditEntry{Action: "retention_purged", CreatedAt: now, ActorName: "retention",
			Detail: fmt.Sprintf("conversations=%d page_views=%d files=%d", p.Conversations, p.PageViews, files)}
		if err := st.Workspace(ws).Audit(ctx, e); err != nil {
			log.Warn("retention purge not audited", "workspace", ws, "err", err)
		}
	}
}
