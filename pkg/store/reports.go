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
// times and authors of its messages, the latter computed once per
// conversation (conversation_stats.go). Reads are bounded by the
// conversations' creation time, which an index (workspace_id, created_at)
// serves, so a report over a month of a year's archive reads that month
// only.

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

// ReportConversation is what a report reads of one conversation: its own
// fields and its message figures (conversation_stats.go).
type ReportConversation struct {
	ID, SiteID, VisitorID, AgentID, Team, Status string
	HandedOff                                    bool
	CsatRating                                   int
	CreatedAt                                    time.Time
	AssignedAt, ClosedAt                         *time.Time
	Figures                                      ConversationFigures
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

// ReportConversations calls fn with each conversation f chooses and its
// figures: the stored ones when they are of its last message, else (open
// conversations, ended ones not computed yet, reopened ones) computed from
// its messages now.
func (s *Scoped) ReportConversations(ctx context.Context, f ReportFilter, fn func(ReportConversation) error) error {
	where, args := f.where("c.")
	args[0] = s.ws
	rows, err := s.s.plain.WithContext(ctx).Raw(`SELECT c.id, c.site_id, c.visitor_id, c.agent_id, c.team, c.status, c.handed_off, c.csat_rating,
		c.created_at, c.assigned_at, c.closed_at, s.seq, s.visitor_messages, s.agent_messages, s.assistant_messages, s.response_agents, s.responses
		FROM conversations c LEFT JOIN conversation_stats s ON s.conversation_id = c.id AND s.workspace_id = c.workspace_id AND s.seq = c.last_seq
		WHERE `+where, args...).Rows()
	if err != nil {
		return err
	}
	var (
		all  []ReportConversation
		live []string
	)
	for rows.Next() {
		var (
			c                          ReportConversation
			agent, ragents, responses  sql.NullString
			seq                        sql.NullInt64
			visitor, agentN, assistant sql.NullInt64
		)
		if err := rows.Scan(&c.ID, &c.SiteID, &c.VisitorID, &agent, &c.Team, &c.Status, &c.HandedOff, &c.CsatRating,
			&c.CreatedAt, &c.AssignedAt, &c.ClosedAt, &seq, &visitor, &agentN, &assistant, &ragents, &responses); err != nil {
			rows.Close()
			return err
		}
		c.AgentID = agent.String
		if seq.Valid {
			if c.Figures, err = decodeFigures(int(visitor.Int64), int(agentN.Int64), int(assistant.Int64), ragents.String, responses.String); err != nil {
				rows.Close()
				return err
			}
		} else {
			live = append(live, c.ID)
		}
		all = append(all, c)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return err
	}
	figs, err := liveFigures(ctx, s.s.plain, s.ws, live, nil)
	if err != nil {
		return err
	}
	for _, c := range all {
		if f, ok := figs[c.ID]; ok {
			c.Figures = f
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

// assignedNow is the update that gives a waiting conversation to agentID;
// assigned_at keeps the first assignment, so a requeued or transferred
// conversation's queue wait is its first one.
func assignedNow(agentID string) map[string]any {
	now := time.Now().UTC()
	return map[string]any{"agent_id": agentID, "status": "open", "updated_at": now,
		"assigned_at": gorm.Expr("COALESCE(assigned_at, ?)", now)}
}
