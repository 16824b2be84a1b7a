package store

import (
	"context"
	"math/bits"
	"slices"
	"strings"
)

// A batch's messages are stored with three statements whatever its size
// (issue 15: two statements per message were half of a stored message's
// CPU, and on PostgreSQL two round trips each): one SELECT finds the
// conversations that already hold one of the batch's client ids, one
// UPDATE … FROM advances each conversation by its count of messages and
// checks its conditions, and one INSERT stores them all with the seqs that
// UPDATE made room for. What this common case cannot decide alone goes
// member by member (txAppend.append), in the same transaction: a
// conversation that refuses the UPDATE, holds a resent client id, or whose
// members differ in their conditions or repeat a client id.

// convRun is one conversation's members in a sorted batch:
// batch[first:end].
type convRun struct{ first, end int }

// appendMany stores what it can of batch (sorted by conversation) in its
// transaction, fills in out for those members, and returns the indexes of
// the members it left to append one by one, in batch order.
func (t txAppend) appendMany(ctx context.Context, batch []*appendReq, out []appendResult) (rest []int, err error) {
	runs, rest := t.runs(batch)
	if len(runs) == 0 {
		return rest, nil
	}
	resent, err := t.resent(ctx, batch, runs)
	if err != nil {
		return nil, err
	}
	if len(resent) > 0 {
		runs = slices.DeleteFunc(runs, func(c convRun) bool {
			if resent[batch[c.first].m.ConversationID] {
				rest = appendRange(rest, c)
				return true
			}
			return false
		})
	}
	advanced, err := t.advanceMany(ctx, batch, runs)
	if err != nil {
		return nil, err
	}
	taken := runs[:0]
	for _, c := range runs {
		if _, ok := advanced[batch[c.first].m.ConversationID]; ok {
			taken = append(taken, c)
		} else {
			rest = appendRange(rest, c) // refused: append says why, member by member
		}
	}
	if err := t.insertMany(ctx, batch, taken, advanced, out); err != nil {
		return nil, err
	}
	slices.Sort(rest)
	return rest, nil
}

func appendRange(to []int, c convRun) []int {
	for i := c.first; i < c.end; i++ {
		to = append(to, i)
	}
	return to
}

// runs splits batch into its conversations' runs, and leaves to one by one
// the members of a conversation whose members differ in their conditions
// or repeat a client id (a resend queued behind the first send).
func (t txAppend) runs(batch []*appendReq) (runs []convRun, rest []int) {
	for i := 0; i < len(batch); {
		j, alike := i+1, true
		for ; j < len(batch) && batch[j].m.ConversationID == batch[i].m.ConversationID; j++ {
			client := batch[j].m.ClientID
			if batch[j].need != batch[i].need || slices.ContainsFunc(batch[i:j], func(r *appendReq) bool { return r.m.ClientID == client }) {
				alike = false
			}
		}
		if alike {
			runs = append(runs, convRun{i, j})
		} else {
			rest = appendRange(rest, convRun{i, j})
		}
		i = j
	}
	return runs, rest
}

// manyKind names appendMany's statements.
type manyKind int

const (
	resentRows manyKind = iota
	advanceRows
	insertRows
	manyKinds
)

// manySQL is kind's statement for rows rows, with ? placeholders. On
// SQLite the writes are OR FAIL: a statement that writes several rows and
// may abort halfway keeps a statement journal to undo its own rows, which
// spilled to a temporary file (a tenth of the batch's CPU in writes); a
// failed statement fails its whole transaction here anyway.
func manySQL(kind manyKind, rows int, postgres bool) string {
	var b strings.Builder
	with := func(name, row string) {
		b.WriteString("WITH " + name + " AS (VALUES ")
		for i := range rows {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(row)
		}
		b.WriteString(") ")
	}
	orFail := " OR FAIL"
	if postgres {
		orFail = ""
	}
	switch kind {
	case resentRows:
		with("v(conv, client)", "(?, ?)")
		b.WriteString(`SELECT v.conv FROM v WHERE EXISTS (SELECT 1 FROM messages WHERE conversation_id = v.conv AND client_id = v.client)`)
	case advanceRows:
		// PostgreSQL types a VALUES list from its values: parameters are
		// text unless cast. SQLite must not cast the time (its affinity
		// would make a number of it).
		row := "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
		if postgres {
			row = "(?, ?, CAST(? AS bigint), ?, CAST(? AS timestamptz), ?, ?, ?, ?)"
		}
		with("v(id, ws, n, preview, at, visitor, w0, w1, agent)", row)
		b.WriteString(`UPDATE` + orFail + ` conversations SET last_seq = conversations.last_seq + v.n, last_body = v.preview, updated_at = v.at
	FROM v WHERE conversations.id = v.id AND conversations.workspace_id = v.ws AND conversations.status <> 'closed'
	AND (v.visitor = '' OR conversations.visitor_id = v.visitor) AND conversations.status NOT IN (v.w0, v.w1)
	AND (v.agent = '' OR conversations.agent_id = v.agent OR conversations.status IN ('queued', 'offline'))
	RETURNING conversations.id, conversations.last_seq, conversations.status, conversations.language, conversations.inbox_state`)
	case insertRows:
		b.WriteString(`INSERT` + orFail + ` INTO messages (workspace_id, conversation_id, seq, client_id, author_kind, author_id, author_name, body, audience, sources, attachment, created_at) VALUES `)
		for i := range rows {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		}
		// RETURNING's order is not the VALUES' order (SQLite says so):
		// rows are matched by conversation and seq.
		b.WriteString(" RETURNING id, conversation_id, seq")
	}
	return b.String()
}

// many runs kind over rows rows of args (len(args)/rows each) with the
// prepared statements for powers of two, largest first, so that a few
// statements per kind are prepared once (each row count its own statement
// would be up to a batch's size of them, and parsing one per batch was a
// sixth of its CPU).
func (t txAppend) many(ctx context.Context, kind manyKind, rows int, args []any, row func(scan func(...any) error) error) error {
	per := len(args) / rows
	stmts := t.manyStmts[kind]
	for done := 0; done < rows; {
		k := min(bits.Len(uint(rows-done))-1, len(stmts)-1)
		n := 1 << k
		rs, err := t.tx.StmtContext(ctx, stmts[k]).QueryContext(ctx, args[done*per:(done+n)*per]...)
		if err != nil {
			return err
		}
		for rs.Next() {
			if err := row(rs.Scan); err != nil {
				rs.Close()
				return err
			}
		}
		if err := rs.Close(); err != nil {
			return err
		}
		if err := rs.Err(); err != nil {
			return err
		}
		done += n
	}
	return nil
}

// resent returns the conversations of runs that already hold one of their
// members' client ids.
func (t txAppend) resent(ctx context.Context, batch []*appendReq, runs []convRun) (map[string]bool, error) {
	n := 0
	for _, c := range runs {
		n += c.end - c.first
	}
	args := make([]any, 0, 2*n)
	for _, c := range runs {
		for _, r := range batch[c.first:c.end] {
			args = append(args, r.m.ConversationID, r.m.ClientID)
		}
	}
	var out map[string]bool
	err := t.many(ctx, resentRows, n, args, func(scan func(...any) error) error {
		var conv string
		if err := scan(&conv); err != nil {
			return err
		}
		if out == nil {
			out = map[string]bool{}
		}
		out[conv] = true
		return nil
	})
	return out, err
}

// advanced is a conversation as advanceMany left it: its new last seq
// and the state a message reports.
type advanced struct {
	lastSeq int64
	to      AppendedTo
}

// advanceMany advances each run's conversation by its count of messages,
// with the conditions of advanceSQL, and returns those it advanced.
func (t txAppend) advanceMany(ctx context.Context, batch []*appendReq, runs []convRun) (map[string]advanced, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 9*len(runs))
	for _, c := range runs {
		r, last := batch[c.first], batch[c.end-1]
		waiting := [2]string{"", ""}
		if r.need.Taken {
			waiting = [2]string{"queued", "offline"}
		}
		// The conversation's preview and time are its last message's, as
		// if each had been appended in turn.
		args = append(args, r.m.ConversationID, r.ws, int64(c.end-c.first), last.preview, last.m.CreatedAt,
			r.need.Visitor, waiting[0], waiting[1], r.need.Agent)
	}
	out := make(map[string]advanced, len(runs))
	err := t.many(ctx, advanceRows, len(runs), args, func(scan func(...any) error) error {
		var id string
		var a advanced
		if err := scan(&id, &a.lastSeq, &a.to.Status, &a.to.Language, &a.to.State); err != nil {
			return err
		}
		out[id] = a
		return nil
	})
	return out, err
}

// insertMany inserts the members of runs with the seqs advanceMany made
// room for, in queue order, and fills in their results.
func (t txAppend) insertMany(ctx context.Context, batch []*appendReq, runs []convRun, adv map[string]advanced, out []appendResult) error {
	type key struct {
		conv string
		seq  int64
	}
	at := map[key]int{}
	args := make([]any, 0, 12*len(batch))
	for _, c := range runs {
		a := adv[batch[c.first].m.ConversationID]
		first := a.lastSeq - int64(c.end-c.first) + 1
		for i := c.first; i < c.end; i++ {
			m := &batch[i].m
			m.Seq = first + int64(i-c.first)
			out[i] = appendResult{m: *m, conv: a.to}
			at[key{m.ConversationID, m.Seq}] = i
			args = append(args, m.WorkspaceID, m.ConversationID, m.Seq, m.ClientID, m.AuthorKind, m.AuthorID, m.AuthorName, m.Body, m.Audience, m.Sources, m.Attachment, m.CreatedAt)
		}
	}
	if len(at) == 0 {
		return nil
	}
	return t.many(ctx, insertRows, len(at), args, func(scan func(...any) error) error {
		var k key
		var id int64
		if err := scan(&id, &k.conv, &k.seq); err != nil {
			return err
		}
		out[at[k]].m.ID = id
		return nil
	})
}
