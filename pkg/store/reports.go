package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/parleychat/parley/pkg/report/tally"
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
	// Unsettled: only the conversations the report buckets may not hold
	// as they are now (report_dirty), of any agent and team: what they
	// were counted as may have had another (report_buckets.go).
	Unsettled bool
}

// ReportConversation is what a report reads of one conversation: its own
// fields and its message figures (conversation_stats.go), and with
// Unsettled what the buckets counted for it, if anything.
type ReportConversation struct {
	ID string
	tally.Conversation
	Counted *tally.Conversation
}

func (f ReportFilter) where(prefix string) (string, []any) {
	conds := []string{prefix + "workspace_id = ?", prefix + "created_at >= ?", prefix + "created_at < ?"}
	args := []any{nil, f.From.UTC(), f.To.UTC()}
	if f.Unsettled {
		return strings.Join(append(conds, prefix+"report_dirty"), " AND "), args
	}
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
	rows, err := s.s.plain.WithContext(ctx).Raw(`SELECT c.id, c.site_id, c.agent_id, c.team, c.status, c.handed_off, c.csat_rating,
		c.created_at, c.assigned_at, c.closed_at, c.last_seq, s.seq, s.visitor_messages, s.agent_messages, s.assistant_messages,
		s.response_agents, s.responses, s.counted
		FROM conversations c LEFT JOIN conversation_stats s ON s.conversation_id = c.id AND s.workspace_id = c.workspace_id
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
			c                           Conversation
			agent                       sql.NullString
			seq                         sql.NullInt64
			visitor, agentN, assistant  sql.NullInt64
			ragents, responses, counted sql.NullString
		)
		if err := rows.Scan(&c.ID, &c.SiteID, &agent, &c.Team, &c.Status, &c.HandedOff, &c.CsatRating,
			&c.CreatedAt, &c.AssignedAt, &c.ClosedAt, &c.LastSeq, &seq, &visitor, &agentN, &assistant, &ragents, &responses, &counted); err != nil {
			rows.Close()
			return err
		}
		if agent.Valid {
			c.AgentID = &agent.String
		}
		rc := ReportConversation{ID: c.ID, Conversation: tally.Conversation{Facts: factsOf(c)}}
		if seq.Valid {
			stat := ConversationStat{Seq: seq.Int64, VisitorMessages: int(visitor.Int64), AgentMessages: int(agentN.Int64),
				AssistantMessages: int(assistant.Int64), ResponseAgents: ragents.String, Responses: responses.String}
			if f.Unsettled {
				stat.Counted = counted.String
			}
			if rc.Counted, err = stat.countedAs(); err != nil {
				rows.Close()
				return err
			}
			if seq.Int64 == c.LastSeq {
				rc.Figures, err = decodeFigures(stat.VisitorMessages, stat.AgentMessages, stat.AssistantMessages, stat.ResponseAgents, stat.Responses)
				if err != nil {
					rows.Close()
					return err
				}
			}
		}
		if !seq.Valid || seq.Int64 != c.LastSeq {
			live = append(live, c.ID)
		}
		all = append(all, rc)
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
