package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/parleychat/parley/pkg/report/tally"
)

// Reports need, per conversation, what its messages say: who wrote, and
// how long each answer took. Reading that from the messages of a year is
// a million rows, so it is computed once per conversation into
// conversation_stats when the conversation ends (closed or offline), and
// counted in the report buckets (report_buckets.go) in the same
// transaction. A row is for the conversation as it was at Seq (its
// LastSeq then): a change after that (a message, a rating, a reopening)
// marks the conversation dirty, and reports read it from its messages and
// its own columns until it is computed and counted again.
//
// Rows are written by RefreshConversationStats (every node, a catch-up
// loop: conversations that ended before this table existed, or while no
// node could compute them) and by ComputeConversationStats (the close
// path). A conversation is claimed before it is computed: the claim sets
// the row's lease in one upsert that only succeeds when no other node
// holds it, so two nodes do not compute the same conversation; a node that
// dies holding claims leaves them to be taken again when the lease runs
// out. Computing is idempotent: the same messages give the same row.

// ConversationStat is a conversation's message figures at Seq.
type ConversationStat struct {
	ConversationID string `gorm:"primaryKey;size:36"`
	WorkspaceID    string `gorm:"size:36;not null;index"`
	// Seq: the conversation's LastSeq these figures are of; -1 while a
	// node holds the claim of a conversation never computed. (No default
	// tags here: gorm would leave a zero out of an upsert.)
	Seq               int64 `gorm:"not null"`
	VisitorMessages   int   `gorm:"not null"`
	AgentMessages     int   `gorm:"not null"`
	AssistantMessages int   `gorm:"not null"`
	// ResponseAgents: the agents who answered, comma-separated; Responses:
	// each answer in order as "i:ns" (index into ResponseAgents, wait in
	// nanoseconds), space-separated. The first one is the first response.
	ResponseAgents string `gorm:"type:text;not null"`
	Responses      string `gorm:"type:text;not null"`
	ComputedAt     *time.Time
	LeaseUntil     *time.Time
	// Counted: the conversation's facts (tally.Facts, JSON) as counted in
	// the report buckets with this row's figures; "" when not counted
	// (report_buckets.go).
	Counted string `gorm:"type:text;not null"`
}

// v832ConversationStat is the table as 2026120832_reports_conversation_stats
// made it.
type v832ConversationStat struct {
	ConversationID    string `gorm:"primaryKey;size:36"`
	WorkspaceID       string `gorm:"size:36;not null;index:idx_conversation_stats_workspace_id"`
	Seq               int64  `gorm:"not null;default:-1"`
	VisitorMessages   int    `gorm:"not null;default:0"`
	AgentMessages     int    `gorm:"not null;default:0"`
	AssistantMessages int    `gorm:"not null;default:0"`
	ResponseAgents    string `gorm:"type:text;not null;default:''"`
	Responses         string `gorm:"type:text;not null;default:''"`
	ComputedAt        *time.Time
	LeaseUntil        *time.Time
}

func (v832ConversationStat) TableName() string { return "conversation_stats" }

func migrateConversationStats(tx *gorm.DB) error {
	return tx.AutoMigrate(&v832ConversationStat{})
}

// Response and ConversationFigures are what a report reads of a
// conversation's messages (tally.Response, tally.Figures).
type (
	Response            = tally.Response
	ConversationFigures = tally.Figures
)

// figureMessage is what figures read of one message.
type figureMessage struct {
	ConversationID, AuthorKind, AuthorID string
	Seq                                  int64
	CreatedAt                            time.Time
}

// figuresOf walks one conversation's messages in seq order.
func figuresOf(ms []figureMessage) ConversationFigures {
	var f ConversationFigures
	var waitingSince time.Time
	for _, m := range ms {
		switch m.AuthorKind {
		case "visitor":
			f.VisitorMessages++
			if waitingSince.IsZero() {
				waitingSince = m.CreatedAt
			}
		case "assistant":
			f.AssistantMessages++
		case "agent":
			f.AgentMessages++
			if waitingSince.IsZero() {
				continue
			}
			f.Responses = append(f.Responses, Response{AgentID: m.AuthorID, Wait: m.CreatedAt.Sub(waitingSince)})
			waitingSince = time.Time{}
		}
	}
	return f
}

// encodeFigures writes f into row's columns.
func encodeFigures(f ConversationFigures, row *ConversationStat) {
	row.VisitorMessages, row.AgentMessages, row.AssistantMessages = f.VisitorMessages, f.AgentMessages, f.AssistantMessages
	var agents []string
	index := map[string]int{}
	var b strings.Builder
	for i, r := range f.Responses {
		at, ok := index[r.AgentID]
		if !ok {
			at = len(agents)
			index[r.AgentID] = at
			agents = append(agents, r.AgentID)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(at))
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(int64(r.Wait), 10))
	}
	row.ResponseAgents, row.Responses = strings.Join(agents, ","), b.String()
}

// decodeFigures reads the columns encode wrote.
func decodeFigures(visitor, agent, assistant int, agents, responses string) (ConversationFigures, error) {
	f := ConversationFigures{VisitorMessages: visitor, AgentMessages: agent, AssistantMessages: assistant}
	if responses == "" {
		return f, nil
	}
	ids := strings.Split(agents, ",")
	for _, r := range strings.Split(responses, " ") {
		i, ns, ok := strings.Cut(r, ":")
		at, err1 := strconv.Atoi(i)
		wait, err2 := strconv.ParseInt(ns, 10, 64)
		if !ok || err1 != nil || err2 != nil || at < 0 || at >= len(ids) {
			return f, fmt.Errorf("store: conversation stats: bad response %q", r)
		}
		f.Responses = append(f.Responses, Response{AgentID: ids[at], Wait: time.Duration(wait)})
	}
	return f, nil
}

// liveFigures computes the figures of the workspace's conversations ids
// from their messages up to upto[id] (all of them when absent).
func liveFigures(ctx context.Context, db *gorm.DB, ws string, ids []string, upto map[string]int64) (map[string]ConversationFigures, error) {
	out := make(map[string]ConversationFigures, len(ids))
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		rows, err := db.WithContext(ctx).Raw(`SELECT conversation_id, author_kind, author_id, seq, created_at FROM messages
			WHERE workspace_id = ? AND conversation_id IN ? AND author_kind IN ('visitor', 'agent', 'assistant')
			ORDER BY conversation_id, seq`, ws, part).Rows()
		if err != nil {
			return nil, err
		}
		var cur []figureMessage
		flush := func() {
			if len(cur) > 0 {
				out[cur[0].ConversationID] = figuresOf(cur)
				cur = cur[:0]
			}
		}
		for rows.Next() {
			var m figureMessage
			if err := rows.Scan(&m.ConversationID, &m.AuthorKind, &m.AuthorID, &m.Seq, &m.CreatedAt); err != nil {
				rows.Close()
				return nil, err
			}
			if last, ok := upto[m.ConversationID]; ok && m.Seq > last {
				continue
			}
			if len(cur) > 0 && cur[0].ConversationID != m.ConversationID {
				flush()
			}
			cur = append(cur, m)
		}
		flush()
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ConversationStatsLease is how long a claim on a conversation's figures
// holds before another node may take it.
const ConversationStatsLease = 2 * time.Minute

// claimStats claims the workspace's conversations ids until until and
// returns those this node now holds (see the type's comment).
func claimStats(ctx context.Context, db *gorm.DB, ws string, ids []string, now, until time.Time) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows := make([]ConversationStat, len(ids))
	for i, id := range ids {
		rows[i] = ConversationStat{ConversationID: id, WorkspaceID: ws, Seq: -1, LeaseUntil: &until}
	}
	// Microseconds: what PostgreSQL keeps, so the lease reads back equal.
	until = until.UTC().Truncate(time.Microsecond)
	for i := range rows {
		rows[i].LeaseUntil = &until
	}
	var got []ConversationStat
	err := db.WithContext(ctx).Model(&ConversationStat{}).Clauses(
		clause.OnConflict{Columns: []clause.Column{{Name: "conversation_id"}},
			DoUpdates: clause.Assignments(map[string]any{"lease_until": until}),
			Where: clause.Where{Exprs: []clause.Expression{clause.Expr{
				SQL: "conversation_stats.workspace_id = ? AND (conversation_stats.lease_until IS NULL OR conversation_stats.lease_until < ?)", Vars: []any{ws, now}}}}},
	).Create(&rows).Error
	if err != nil {
		return nil, err
	}
	// The ones whose lease is now ours.
	err = db.WithContext(ctx).Model(&ConversationStat{}).Where("workspace_id = ? AND conversation_id IN ? AND lease_until = ?", ws, ids, until).
		Find(&got).Error
	out := make([]string, len(got))
	for i, r := range got {
		out[i] = r.ConversationID
	}
	return out, err
}

// ComputeConversationStats claims, computes and stores the figures of the
// workspace's conversations ids as they are now, counts the ended ones in
// the report buckets in the same transaction (report_buckets.go), and
// returns how many it stored (those another node holds are left to it).
func (s *Scoped) ComputeConversationStats(ctx context.Context, ids ...string) (int, error) {
	now := time.Now().UTC()
	held, err := claimStats(ctx, s.s.plain, s.ws, ids, now, now.Add(ConversationStatsLease))
	if err != nil || len(held) == 0 {
		return 0, err
	}
	n := 0
	err = s.s.transaction(ctx, func(tx *gorm.DB) error {
		// Settled first: see report_buckets.go. An open conversation stays
		// dirty (reports read it live).
		if err := tx.Exec(`UPDATE conversations SET report_dirty = FALSE WHERE workspace_id = ? AND id IN ? AND status IN ('closed', ?)`,
			s.ws, held, StatusOffline).Error; err != nil {
			return err
		}
		var convs []Conversation
		if err := tx.Select("id, site_id, agent_id, team, status, handed_off, csat_rating, created_at, assigned_at, closed_at, last_seq").
			Where("workspace_id = ? AND id IN ?", s.ws, held).Find(&convs).Error; err != nil {
			return err
		}
		var old []ConversationStat
		if err := tx.Where("workspace_id = ? AND conversation_id IN ? AND counted <> ''", s.ws, held).Find(&old).Error; err != nil {
			return err
		}
		deltas := bucketDeltas{}
		for _, r := range old {
			c, err := r.countedAs()
			if err != nil {
				return err
			}
			deltas.add(*c, -1)
		}
		upto := make(map[string]int64, len(convs))
		ids := make([]string, len(convs))
		for i, c := range convs {
			upto[c.ID], ids[i] = c.LastSeq, c.ID
		}
		figs, err := liveFigures(ctx, tx, s.ws, ids, upto)
		if err != nil {
			return err
		}
		rows := make([]ConversationStat, 0, len(convs))
		for _, c := range convs {
			r := ConversationStat{ConversationID: c.ID, WorkspaceID: s.ws, Seq: c.LastSeq, ComputedAt: &now}
			encodeFigures(figs[c.ID], &r)
			if facts := factsOf(c); facts.Ended {
				b, err := json.Marshal(facts)
				if err != nil {
					return err
				}
				r.Counted = string(b)
				deltas.add(tally.Conversation{Facts: facts, Figures: figs[c.ID]}, 1)
			}
			rows = append(rows, r)
		}
		if err := deltas.apply(tx, s.ws); err != nil {
			return err
		}
		if len(rows) > 0 {
			if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "conversation_id"}}, UpdateAll: true}).
				CreateInBatches(rows, 200).Error; err != nil {
				return err
			}
		}
		n = len(rows)
		return nil
	})
	return n, err
}

// RefreshConversationStats computes and counts up to batch ended
// conversations (of any workspace) that are dirty (report_buckets.go) and
// not claimed by another node, and returns how many it stored: the
// catch-up loop's step, and the backfill of an archive.
func (s *Store) RefreshConversationStats(ctx context.Context, batch int) (int, error) {
	var due []struct{ ID, WorkspaceID string }
	err := s.plain.WithContext(ctx).Raw(`SELECT c.id, c.workspace_id FROM conversations c
		WHERE c.report_dirty AND c.status IN ('closed', ?) AND NOT EXISTS (SELECT 1 FROM conversation_stats s
			WHERE s.conversation_id = c.id AND s.lease_until >= ?)
		LIMIT ?`, StatusOffline, time.Now().UTC(), batch).Scan(&due).Error
	if err != nil {
		return 0, err
	}
	byWS := map[string][]string{}
	for _, d := range due {
		byWS[d.WorkspaceID] = append(byWS[d.WorkspaceID], d.ID)
	}
	n := 0
	for ws, ids := range byWS {
		k, err := s.Workspace(ws).ComputeConversationStats(ctx, ids...)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
