package service

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/parleychat/parley/pkg/store"
)

// seenDelay is how long a last-seen note waits to be written with others;
// seenTimeout bounds that write.
const (
	seenDelay   = time.Second
	seenTimeout = 10 * time.Second
)

// lastSeen records when agents sign in and when their sockets open and
// close (the team list's "last seen") off the request path: a note is kept
// in memory and written with the others of the next second in one
// statement, by a timer's goroutine. A store write on the WebSocket upgrade
// held SQLite's only connection while a restarted node took 1,000
// reconnects and stalled it for 15 s (issue 15): no handler waits for this
// write. A note lost with the process only leaves last seen a little older.
type lastSeen struct {
	st  *store.Store
	log *slog.Logger

	mu    sync.Mutex
	due   []string // agent ids noted since the last write
	timer *time.Timer
	write sync.Mutex // one write at a time (the timer's, or flush's at shutdown)
}

// note records that the agent is seen now.
func (l *lastSeen) note(agentID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.due = append(l.due, agentID)
	if l.timer == nil {
		l.timer = time.AfterFunc(seenDelay, l.flush)
	}
}

// flush writes what is due now (the server calls it at shutdown).
func (l *lastSeen) flush() {
	l.write.Lock()
	defer l.write.Unlock()
	l.mu.Lock()
	ids := l.due
	l.due = nil
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), seenTimeout)
	defer cancel()
	if err := l.st.TouchAgentsSeen(ctx, ids, time.Now().UTC()); err != nil {
		l.log.Warn("agents' last seen not stored", "agents", len(ids), "err", err)
	}
}
