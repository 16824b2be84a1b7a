package service

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// The node purges as soon as it starts (not an hour later) and its purge
// goroutine ends with the node.
func TestPurgeRunsAtStartAndStops(t *testing.T) {
	st := storetest.SQLite(t)
	ts := newTestServer(t, st)
	ctx, cancel := context.WithCancel(context.Background())
	if err := st.CreateSession(ctx, store.Session{TokenHash: "dead", AgentID: "a", WorkspaceID: ts.site.WorkspaceID, CSRFToken: "c", ExpiresAt: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { runPurge(ctx, st, ts.srv.blobs, slog.New(slog.NewTextHandler(io.Discard, nil))); close(done) }()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var n int64
		st.Gorm().Model(&store.Session{}).Where("token_hash = ?", "dead").Count(&n)
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired session was not purged at start")
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the purge goroutine did not stop with its context")
	}
}
