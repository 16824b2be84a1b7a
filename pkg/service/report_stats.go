package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/parleychat/parley/pkg/store"
)

// reportStatsEvery is how often a node looks for ended conversations
// whose report figures are missing or stale (store.RefreshConversationStats):
// those that ended before the figures existed, or whose close-time
// computation failed or was lost in a crash. The close path computes a
// conversation's figures at once, so this is only the catch-up.
const reportStatsEvery = time.Minute

// reportStatsBatch is how many conversations one catch-up transaction
// computes and counts. Small, because on SQLite that transaction holds the
// only writer and chat sends wait behind it: the backfill of an archive
// after an upgrade (every conversation) took about 5 ms a conversation on
// a loaded machine, so 500 held sends for seconds at a time.
const reportStatsBatch = 64

// runReportStats computes conversations' report figures until ctx ends,
// in batches, at once and then every reportStatsEvery. Every node runs it;
// claims keep two nodes off the same conversation.
func runReportStats(ctx context.Context, st *store.Store, log *slog.Logger) {
	t := time.NewTicker(reportStatsEvery)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			n, err := st.RefreshConversationStats(ctx, reportStatsBatch)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("reports: cannot compute conversation figures", "err", err)
				}
				break
			}
			if n == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
