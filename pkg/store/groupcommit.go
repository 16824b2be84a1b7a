package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// Group commit: concurrent AppendMessage calls, of any conversations and
// workspaces, are stored together in one transaction. A commit costs a WAL
// write (SQLite) or a WAL flush (PostgreSQL) and a round of transaction
// statements whatever it holds, and SQLite has a single writer: one
// transaction per message capped the node at a few hundred messages/s
// (docs/benchmarks.md, Store). Under light load a batch holds one message
// and costs what the plain transaction did; under heavy load batches grow,
// and the per-message cost falls.
//
// What each message keeps: its seq is assigned by the same UPDATE …
// RETURNING inside the batch's transaction (gap-free: the batch commits or
// rolls back whole), a resend of a client id finds the stored message, and
// the caller gets its result only after the commit that holds its message.
// A batch that fails is not dropped: each member is retried alone, so one
// bad member (or a race lost to a concurrent resend) decides only its own
// result.

// maxBatch bounds one transaction: long enough to amortize the commit,
// short enough that the first member does not wait on hundreds of others.
const maxBatch = 128

// batchTimeout bounds one batch's transaction on PostgreSQL (a network
// peer that may stop answering). It is not a member's context: members come
// from different requests, and one caller that gives up must not roll back
// the others' messages. SQLite's batches run without a deadline: a local
// file does not hang (busy_timeout bounds lock waits), and its driver
// starts a watcher goroutine per statement for a context that can end,
// which was a tenth of a message's cost.
const batchTimeout = 30 * time.Second

type appendReq struct {
	ctx     context.Context // the caller's: a member whose caller left is not tried again
	ws      string
	m       Message // body sealed
	preview string  // sealed preview for the conversation's last_body
	retried bool
	done    chan appendResult // buffered: the committer never blocks on a caller that left
}

type appendResult struct {
	m   Message
	dup bool
	err error
}

// committer queues appends for the batch goroutines. A batch goroutine runs
// only while there is something to commit, so an idle store has none.
type committer struct {
	mu      sync.Mutex
	pending []*appendReq
	running int
	max     int // batch goroutines at once: 1 on SQLite (one writer)
}

// appendGrouped queues r and waits for the commit that holds it, or for
// ctx. A caller that leaves early gets ctx's error and no result: its
// message may still be committed, and its resend (same client id) then
// finds it.
func (s *Store) appendGrouped(ctx context.Context, r *appendReq) (appendResult, error) {
	if err := ctx.Err(); err != nil {
		return appendResult{}, err
	}
	r.ctx, r.done = ctx, make(chan appendResult, 1)
	c := &s.commits
	c.mu.Lock()
	c.pending = append(c.pending, r)
	start := c.running < c.max
	if start {
		c.running++
	}
	c.mu.Unlock()
	if start {
		go s.commitLoop()
	}
	select {
	case res := <-r.done:
		return res, nil
	case <-ctx.Done():
		return appendResult{}, ctx.Err()
	}
}

// commitLoop commits batches until nothing is pending, then ends.
func (s *Store) commitLoop() {
	c := &s.commits
	for {
		c.mu.Lock()
		n := min(len(c.pending), maxBatch)
		if n == 0 {
			c.running--
			c.pending = nil // drop the backing array a burst grew
			c.mu.Unlock()
			return
		}
		batch := slices.Clone(c.pending[:n])
		c.pending = slices.Delete(c.pending, 0, n)
		c.mu.Unlock()
		// Row locks are taken in conversation order, so two batches
		// committing at once (PostgreSQL) cannot deadlock; the sort is
		// stable, so a conversation's messages keep their queue order.
		slices.SortStableFunc(batch, func(a, b *appendReq) int { return strings.Compare(a.m.ConversationID, b.m.ConversationID) })
		s.commitBatch(batch)
	}
}

// commitBatch stores batch in one transaction and hands each member its
// result after the commit. When the transaction fails, each member is
// tried alone.
func (s *Store) commitBatch(batch []*appendReq) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- appendResult{err: err}
			continue
		}
		live = append(live, r)
	}
	if batch = live; len(batch) == 0 {
		return
	}
	results, err := s.appendTx(batch)
	if err == nil {
		for i, r := range batch {
			r.done <- results[i]
		}
		return
	}
	if len(batch) > 1 {
		for _, r := range batch {
			s.commitBatch([]*appendReq{r})
		}
		return
	}
	r := batch[0]
	if errors.Is(err, gorm.ErrDuplicatedKey) && !r.retried {
		// A concurrent resend of the same client id committed between our
		// check and our insert: the second attempt finds it.
		r.retried = true
		s.commitBatch(batch)
		return
	}
	r.done <- appendResult{err: err}
}

// appendTx runs one transaction over batch. A missing or closed
// conversation is its member's result, not the batch's failure: nothing was
// written for it.
func (s *Store) appendTx(batch []*appendReq) ([]appendResult, error) {
	ctx := context.Background()
	if s.dialect == "postgres" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, batchTimeout)
		defer cancel()
	}
	out := make([]appendResult, len(batch))
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for i, r := range batch {
			m, dup, err := appendIn(tx, r)
			if errors.Is(err, ErrNotFound) || errors.Is(err, ErrClosed) {
				out[i].err = err
				continue
			}
			if err != nil {
				return err
			}
			out[i] = appendResult{m: m, dup: dup}
		}
		return nil
	})
	return out, err
}

// appendIn stores one message inside tx: the stored one when its client id
// is already there (dup), else the next seq of its conversation.
func appendIn(tx *gorm.DB, r *appendReq) (Message, bool, error) {
	m := r.m
	var prev Message
	err := tx.Where("conversation_id = ? AND client_id = ? AND workspace_id = ?", m.ConversationID, m.ClientID, r.ws).Take(&prev).Error
	if err == nil {
		return prev, true, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return m, false, err
	}
	var seq []int64
	err = tx.Raw(`UPDATE conversations SET last_seq = last_seq + 1, last_body = ?, updated_at = ?
		WHERE id = ? AND workspace_id = ? AND status <> 'closed' RETURNING last_seq`,
		r.preview, m.CreatedAt, m.ConversationID, r.ws).Scan(&seq).Error
	if err != nil {
		return m, false, err
	}
	if len(seq) == 0 {
		// Not updated: tell a missing conversation from a closed one.
		var c Conversation
		if err := tx.Where("id = ? AND workspace_id = ?", m.ConversationID, r.ws).Take(&c).Error; err != nil {
			return m, false, notFound(err)
		}
		return m, false, ErrClosed
	}
	m.Seq = seq[0]
	return m, false, tx.Create(&m).Error
}
