package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/parleychat/parley/pkg/worker"
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

// sqliteBatch bounds one transaction on SQLite: long enough to amortize
// the commit, short enough that the first member does not wait on hundreds
// of others. PostgreSQL commits transactions side by side (row locks, not
// one writer), pgCommitters at once: a batch costs about five round
// trips whatever its size (groupinsert.go), so few committers, whose batches
// grow under load, store more messages for less CPU than one per pool
// connection did (issue 15: 4 committers of up to 64 stored about twice
// as many messages/s as 32 of up to 8, at half the client's CPU per
// message, BenchmarkAppendMessage at 64 and 256 senders).
const (
	sqliteBatch  = 128
	pgBatch      = 64
	pgCommitters = 4
)

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
	need    Require
	retried bool
	done    chan appendResult // buffered: the committer never blocks on a caller that left
}

type appendResult struct {
	m    Message
	dup  bool
	conv AppendedTo // not for a dup
	err  error
}

// committer queues appends for the committers. The caller that finds no
// committer running (fewer than max) becomes one: it commits batches on its
// own goroutine until its own message is committed, then hands what is
// still pending to a goroutine of the pool and returns. Under light load a
// message is committed by its sender's goroutine, with no hand-off at all;
// under heavy load one committer runs batch after batch on a long-lived
// goroutine whose stack has grown to the driver's depth (issue 15: fresh
// goroutines growing their stacks into SQLite's frames were a visible share
// of a message's CPU). An idle store runs none.
type committer struct {
	mu      sync.Mutex
	pending []*appendReq
	running int
	max     int // committers at once: 1 on SQLite (one writer)
	batch   int // members per transaction at most
}

// committers runs the committers that carry on after their caller's
// message was committed.
var committers = worker.New(2 * time.Second)

// appendGrouped queues r and waits for the commit that holds it, or for
// ctx. A caller that leaves early gets ctx's error and no result: its
// message may still be committed, and its resend (same client id) then
// finds it. A caller that commits (see committer) waits for its batch's
// transaction, bounded on PostgreSQL by batchTimeout.
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
		s.commitLoop(r)
	}
	select {
	case res := <-r.done:
		return res, nil
	case <-ctx.Done():
		return appendResult{}, ctx.Err()
	}
}

// commitLoop commits batches until nothing is pending, then ends; or, when
// own is not nil, until own has its result, and then leaves what is still
// pending to a goroutine of the pool.
func (s *Store) commitLoop(own *appendReq) {
	c := &s.commits
	for {
		c.mu.Lock()
		n := min(len(c.pending), c.batch)
		if n == 0 {
			c.running--
			c.pending = nil // drop the backing array a burst grew
			c.mu.Unlock()
			return
		}
		if own != nil && len(own.done) > 0 {
			// Ours is committed (its result waits in its buffered channel,
			// read by this goroutine after the return): the rest is for a
			// committer of the pool, which counts as this one.
			c.mu.Unlock()
			committers.Go(func() { s.commitLoop(nil) })
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
func (s *Store) appendTx(batch []*appendReq) (out []appendResult, err error) {
	ctx := context.Background()
	if s.dialect == "postgres" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, batchTimeout)
		defer cancel()
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.translate(err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	st := txAppend{appendStmts: s.appendSQL, tx: tx}
	out = make([]appendResult, len(batch))
	rest, err := st.appendMany(ctx, batch, out)
	if err != nil {
		return nil, s.translate(err)
	}
	for _, i := range rest {
		res, err := st.append(ctx, batch[i])
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrClosed) || errors.Is(err, ErrWaiting) || errors.Is(err, ErrNotOwner) {
			out[i].err = err
			continue
		}
		if err != nil {
			return nil, s.translate(err)
		}
		out[i] = res
	}
	return out, s.translate(tx.Commit())
}

// appendStmts are AppendMessage's statements, prepared once on the pool and
// used through database/sql directly. gorm's PrepareStmt does not help
// inside a transaction: a statement it first meets in one is prepared on
// that transaction and prepared anew in every later one (SQL parsing was a
// quarter of the CPU of each append), and its reflection per row was most
// of the rest of Go's share.
type appendStmts struct {
	find, exists    *sql.Stmt
	advance, insert *sql.Stmt // SQLite
	advanceInsert   *sql.Stmt // PostgreSQL: both in one
	// manyStmts[kind][k] is appendMany's statement of kind for 1<<k rows,
	// up to a batch's size.
	manyStmts [manyKinds][]*sql.Stmt
}

// advanceSQL takes a message: the conditions of Require are in the
// UPDATE, so a send needs no read of the conversation before it: the
// visitor's (an empty one: anyone's), not waiting (the two statuses
// given, else two empty strings), the agent's or waiting (an empty one:
// anyone's); and so is the check for a resend of the client id.
const advanceSQL = `UPDATE conversations SET last_seq = last_seq + 1, last_body = ?, updated_at = ?
	WHERE id = ? AND workspace_id = ? AND status <> 'closed' AND (? = '' OR visitor_id = ?) AND status NOT IN (?, ?)
	AND (? = '' OR agent_id = ? OR status IN ('queued', 'offline'))
	AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ? AND client_id = ?)
	RETURNING last_seq, status, language, inbox_state`

// advanceInsertPG is advanceSQL and the insert in one statement: on
// PostgreSQL every statement is a round trip, which the members of a batch
// make one after the other.
const advanceInsertPG = `WITH adv AS (` + advanceSQL + `),
	ins AS (INSERT INTO messages (workspace_id, conversation_id, seq, client_id, author_kind, author_id, author_name, body, audience, sources, attachment, created_at)
		SELECT ?, ?, adv.last_seq, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS timestamptz) FROM adv RETURNING id)
	SELECT adv.last_seq, adv.status, adv.language, adv.inbox_state, ins.id FROM adv, ins`

func prepareAppend(ctx context.Context, db *sql.DB, dialect string, batch int) (*appendStmts, error) {
	var st appendStmts
	stmts := []struct {
		to    **sql.Stmt
		query string
	}{
		{&st.find, `SELECT id, seq, author_kind, author_id, author_name, body, audience, sources, attachment, created_at FROM messages
			WHERE conversation_id = ? AND client_id = ? AND workspace_id = ?`},
		{&st.exists, `SELECT status, visitor_id, COALESCE(agent_id, '') FROM conversations WHERE id = ? AND workspace_id = ?`},
	}
	if dialect == "postgres" {
		stmts = append(stmts, struct {
			to    **sql.Stmt
			query string
		}{&st.advanceInsert, advanceInsertPG})
	} else {
		stmts = append(stmts, []struct {
			to    **sql.Stmt
			query string
		}{
			{&st.advance, advanceSQL},
			{&st.insert, `INSERT INTO messages (workspace_id, conversation_id, seq, client_id, author_kind, author_id, author_name, body, audience, sources, attachment, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`},
		}...)
	}
	for _, p := range stmts {
		q := p.query
		if dialect == "postgres" {
			q = numberedParams(q)
		}
		var err error
		if *p.to, err = db.PrepareContext(ctx, q); err != nil {
			st.close()
			return nil, err
		}
	}
	for kind := range manyKinds {
		for rows := 1; rows <= batch; rows *= 2 {
			q := manySQL(kind, rows, dialect == "postgres")
			if dialect == "postgres" {
				q = numberedParams(q)
			}
			p, err := db.PrepareContext(ctx, q)
			if err != nil {
				st.close()
				return nil, err
			}
			st.manyStmts[kind] = append(st.manyStmts[kind], p)
		}
	}
	return &st, nil
}

func (st *appendStmts) close() {
	for _, s := range []*sql.Stmt{st.find, st.exists, st.advance, st.insert, st.advanceInsert} {
		if s != nil {
			s.Close()
		}
	}
	for _, ss := range st.manyStmts {
		for _, s := range ss {
			s.Close()
		}
	}
}

// numberedParams turns ? into PostgreSQL's $1, $2, … (the queries above
// have no ? in literals).
func numberedParams(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// txAppend is appendStmts used in one transaction: each statement is
// bound to it when used (most batches use none of them: appendMany).
type txAppend struct {
	*appendStmts
	tx *sql.Tx
}

// append stores one message inside the transaction: the next seq of its
// conversation, or the stored one when its client id is already there
// (dup). One statement decides the common case: the UPDATE assigns the seq
// only when the conversation takes the message and the client id is new;
// only an append it refuses looks further.
func (t txAppend) append(ctx context.Context, r *appendReq) (appendResult, error) {
	m := r.m
	waiting := [2]string{"", ""}
	if r.need.Taken {
		waiting = [2]string{"queued", "offline"}
	}
	var to AppendedTo
	advance := []any{r.preview, m.CreatedAt, m.ConversationID, r.ws, r.need.Visitor, r.need.Visitor, waiting[0], waiting[1],
		r.need.Agent, r.need.Agent, m.ConversationID, m.ClientID}
	var err error
	if t.advanceInsert != nil {
		args := append(advance, m.WorkspaceID, m.ConversationID, m.ClientID, m.AuthorKind, m.AuthorID, m.AuthorName, m.Body, m.Audience, m.Sources, m.Attachment, m.CreatedAt)
		err = t.tx.StmtContext(ctx, t.advanceInsert).QueryRowContext(ctx, args...).Scan(&m.Seq, &to.Status, &to.Language, &to.State, &m.ID)
	} else {
		err = t.tx.StmtContext(ctx, t.advance).QueryRowContext(ctx, advance...).Scan(&m.Seq, &to.Status, &to.Language, &to.State)
		if err == nil {
			err = t.tx.StmtContext(ctx, t.insert).QueryRowContext(ctx, m.WorkspaceID, m.ConversationID, m.Seq, m.ClientID, m.AuthorKind, m.AuthorID, m.AuthorName, m.Body, m.Audience, m.Sources, m.Attachment, m.CreatedAt).Scan(&m.ID)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return t.refused(ctx, r)
	}
	if err != nil {
		return appendResult{}, err
	}
	return appendResult{m: m, conv: to}, nil
}

// refused says why the UPDATE took no message: a resend (the stored one),
// or the conversation's state. It costs a statement or two, which only
// resends and refusals pay.
func (t txAppend) refused(ctx context.Context, r *appendReq) (appendResult, error) {
	status, visitor, agent, err := t.state(ctx, r)
	if err != nil {
		return appendResult{}, err
	}
	if r.need.Visitor != "" && visitor != r.need.Visitor {
		// Another visitor's conversation, missing to them: nor may a resend
		// of one of its client ids read the stored message.
		return appendResult{}, ErrNotFound
	}
	prev := Message{WorkspaceID: r.ws, ConversationID: r.m.ConversationID, ClientID: r.m.ClientID}
	err = t.tx.StmtContext(ctx, t.find).QueryRowContext(ctx, r.m.ConversationID, r.m.ClientID, r.ws).
		Scan(&prev.ID, &prev.Seq, &prev.AuthorKind, &prev.AuthorID, &prev.AuthorName, &prev.Body, &prev.Audience, &prev.Sources, &prev.Attachment, &prev.CreatedAt)
	if err == nil {
		return appendResult{m: prev, dup: true}, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return appendResult{}, err
	}
	switch {
	case status == "closed":
		return appendResult{}, ErrClosed
	case r.need.Taken && (status == "queued" || status == "offline"):
		return appendResult{}, ErrWaiting
	case r.need.Agent != "" && agent != r.need.Agent && status != "queued" && status != "offline":
		return appendResult{}, ErrNotOwner
	}
	return appendResult{}, fmt.Errorf("store: append to conversation %s (%s) not applied", r.m.ConversationID, status)
}

// state reads the status, visitor and agent of r's conversation
// (ErrNotFound when it is not in r's workspace), for the rare appends that
// are refused or resent.
func (t txAppend) state(ctx context.Context, r *appendReq) (status, visitor, agent string, err error) {
	err = t.tx.StmtContext(ctx, t.exists).QueryRowContext(ctx, r.m.ConversationID, r.ws).Scan(&status, &visitor, &agent)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	return status, visitor, agent, err
}

// translate maps driver errors to gorm's (ErrDuplicatedKey), as gorm's
// TranslateError does for its own queries.
func (s *Store) translate(err error) error {
	if t, ok := s.db.Dialector.(gorm.ErrorTranslator); ok && err != nil {
		return t.Translate(err)
	}
	return err
}
