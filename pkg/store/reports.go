package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Reports (pkg/report) are computed from what is stored: each
// conversation's times (created, assigned, closed), its rating, and the
// times and authors of its messages. These are the two streams they read.
// Both are bounded by the conversations' creation time, which an index
// (workspace_id, created_at) serves, so a report over a month of a year's
// archive reads that month only.

// The schema change of 2026120830_reports_assigned_at: when a conversation
// was first given to an agent (queue wait is assigned_at - created_at), and
// the index reports range over.
type v830Conversation struct {
	WorkspaceID string    `gorm:"size:36;not null;index:idx_conv_ws_created,priority:1"`
	CreatedAt   time.Time `gorm:"index:idx_conv_ws_created,priority:2"`
	AssignedAt  *time.Time
}

func (v830Conversation) TableName() string { return "conversations" }

func migrateReportsAssignedAt(tx *gorm.DB) error {
	if err := tx.Migrator().AddColumn(&v830Conversation{}, "AssignedAt"); err != nil {
		return err
	}
	return tx.Migrator().CreateIndex(&v830Conversation{}, "idx_conv_ws_created")
}

// ReportFilter chooses the conversations a report covers: created in
// [From, To), and, when set, of one site, one agent (the conversation's
// agent) or one team.
type ReportFilter struct {
	From, To              time.Time
	SiteID, AgentID, Team string
}

// ReportConversation is what a report reads of one conversation.
type ReportConversation struct {
	ID, SiteID, VisitorID, AgentID, Team, Status string
	HandedOff                                    bool
	CsatRating                                   int
	CreatedAt                                    time.Time
	AssignedAt, ClosedAt                         *time.Time
}

// ReportMessage is what a report reads of one message: who wrote it, when.
type ReportMessage struct {
	ConversationID, AuthorKind, AuthorID string
	CreatedAt                            time.Time
}

func (f ReportFilter) where(prefix string) (string, []any) {
	conds := []string{prefix + "workspace_id = ?", prefix + "created_at >= ?", prefix + "created_at < ?"}
	args := []any{nil, f.From.UTC(), f.To.UTC()}
	for _, c := range []struct{ col, v string }{{"site_id", f.SiteID}, {"agent_id", f.AgentID}, {"team", f.Team}} {
		if c.v != "" {
			conds = append(conds, prefix+c.col+" = ?")
			args = append(args, c.v)
		}
	}
	return strings.Join(conds, " AND "), args
}

// ReportConversations calls fn with each conversation f chooses.
func (s *Scoped) ReportConversations(ctx context.Context, f ReportFilter, fn func(ReportConversation) error) error {
	where, args := f.where("")
	args[0] = s.ws
	rows, err := s.s.plain.WithContext(ctx).Raw(`SELECT id, site_id, visitor_id, agent_id, team, status, handed_off, csat_rating,
		created_at, assigned_at, closed_at FROM conversations WHERE `+where, args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c     ReportConversation
			agent sql.NullString
		)
		if err := rows.Scan(&c.ID, &c.SiteID, &c.VisitorID, &agent, &c.Team, &c.Status, &c.HandedOff, &c.CsatRating,
			&c.CreatedAt, &c.AssignedAt, &c.ClosedAt); err != nil {
			return err
		}
		c.AgentID = agent.String
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ReportMessages calls fn with the visitor's, agents' and the assistant's
// messages (not system notices) of the conversations f chooses, each
// conversation's together and in seq order.
func (s *Scoped) ReportMessages(ctx context.Context, f ReportFilter, fn func(ReportMessage) error) error {
	where, args := f.where("c.")
	args[0] = s.ws
	args = append([]any{s.ws}, args...)
	rows, err := s.s.plain.WithContext(ctx).Raw(`SELECT m.conversation_id, m.author_kind, m.author_id, m.created_at
		FROM conversations c JOIN messages m ON m.conversation_id = c.id AND m.workspace_id = ?
		WHERE `+where+` AND m.author_kind IN ('visitor', 'agent', 'assistant')
		ORDER BY m.conversation_id, m.seq`, args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var m ReportMessage
		if err := rows.Scan(&m.ConversationID, &m.AuthorKind, &m.AuthorID, &m.CreatedAt); err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return rows.Err()
}

// assignedNow is the update that gives a waiting conversation to agentID;
// assigned_at keeps the first assignment, so a requeued or transferred
// conversation's queue wait is its first one.
func assignedNow(agentID string) map[string]any {
	now := time.Now().UTC()
	return map[string]any{"agent_id": agentID, "status": "open", "updated_at": now,
		"assigned_at": gorm.Expr("COALESCE(assigned_at, ?)", now)}
}
