package store

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ErrAgentFull: a claim or move found the agent already at its capacity of
// open conversations.
var ErrAgentFull = errors.New("agent is at capacity")

// Conversation statuses the store knows besides queued, open and closed:
// offline is a conversation nobody could take (no agent online, or outside
// business hours) that agents read later, such as an offline message.
const StatusOffline = "offline"

// lockAgents locks the agents' rows in id order for the rest of the
// transaction, so claims for one agent are serialised (PostgreSQL: SELECT …
// FOR UPDATE; SQLite already has a single writer, and the transaction is
// BEGIN IMMEDIATE). It reports ErrNotFound if one of them is not in ws.
func (s *Store) lockAgents(tx *gorm.DB, ws string, ids ...string) error {
	q := tx.Model(&Agent{}).Where("workspace_id = ? AND id IN ?", ws, ids).Order("id")
	if s.dialect == "postgres" {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var found []string
	if err := q.Pluck("id", &found).Error; err != nil {
		return err
	}
	for _, id := range ids {
		ok := false
		for _, f := range found {
			ok = ok || f == id
		}
		if !ok {
			return ErrNotFound
		}
	}
	return nil
}

func atCapacity(tx *gorm.DB, ws, agent string, capacity int) (bool, error) {
	var n int64
	err := tx.Model(&Conversation{}).Where("workspace_id = ? AND agent_id = ? AND status = ?", ws, agent, "open").Count(&n).Error
	return n >= int64(capacity), err
}

// Claim makes agentID the owner of a queued (or offline) conversation, if
// and only if, in one transaction, the conversation still has no owner and
// the agent owns fewer than capacity open conversations. It returns
// ErrConflict when the conversation is taken (or closed), ErrAgentFull when
// the agent is full. This is the compare-and-set routing relies on: two
// nodes racing for one conversation or one agent's last slot cannot both
// win. The same transaction writes the announcement of the new owner
// (announce.go), so the claim is told even if the store or the bus fails
// right after the commit.
func (s *Scoped) Claim(ctx context.Context, convID, agentID string, capacity int) error {
	return s.s.transaction(ctx, func(tx *gorm.DB) error {
		if err := s.s.lockAgents(tx, s.ws, agentID); err != nil {
			return err
		}
		full, err := atCapacity(tx, s.ws, agentID, capacity)
		if err != nil {
			return err
		}
		if full {
			return ErrAgentFull
		}
		res := tx.Model(&Conversation{}).
			Where("id = ? AND workspace_id = ? AND status IN ? AND agent_id IS NULL", convID, s.ws, []string{"queued", StatusOffline}).
			Updates(assignedNow(agentID))
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrConflict
		}
		return s.announce(tx, convID, AnnounceJoined, agentID, "")
	})
}

// Move hands an open conversation from one agent to another, if and only
// if, in one transaction, from still owns it and to owns fewer than
// capacity open conversations (ErrConflict, ErrAgentFull otherwise). Both
// agents' rows are locked in id order, so opposite moves cannot deadlock.
// Like Claim, it writes the move's announcement in the same transaction.
func (s *Scoped) Move(ctx context.Context, convID, from, to string, capacity int, note string) error {
	return s.s.transaction(ctx, func(tx *gorm.DB) error {
		ids := []string{from, to}
		if to < from {
			ids = []string{to, from}
		}
		if from == to {
			ids = ids[:1]
		}
		if err := s.s.lockAgents(tx, s.ws, ids...); err != nil {
			return err
		}
		if from != to {
			full, err := atCapacity(tx, s.ws, to, capacity)
			if err != nil {
				return err
			}
			if full {
				return ErrAgentFull
			}
		}
		res := tx.Model(&Conversation{}).
			Where("id = ? AND workspace_id = ? AND status = ? AND agent_id = ?", convID, s.ws, "open", from).
			Updates(map[string]any{"agent_id": to, "updated_at": time.Now().UTC(), "transfer_note": Truncate(note, 1000)})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrConflict
		}
		if from == to {
			return nil
		}
		return s.announce(tx, convID, AnnounceTransferred, to, from)
	})
}

// Unassign puts an open conversation of agentID back in the queue without
// an owner. A closed conversation, or one owned by someone else, is left
// alone (no error): release after close is harmless.
func (s *Scoped) Unassign(ctx context.Context, convID, agentID string) error {
	return s.q(ctx).Model(&Conversation{}).Where("id = ? AND agent_id = ? AND status = ?", convID, agentID, "open").
		Updates(map[string]any{"agent_id": nil, "status": "queued", "updated_at": time.Now().UTC()}).Error
}

// SetOffline marks a queued conversation offline (nobody could take it).
// It reports whether the conversation was queued.
func (s *Scoped) SetOffline(ctx context.Context, convID, reason string) (bool, error) {
	res := s.q(ctx).Model(&Conversation{}).Where("id = ? AND status = ?", convID, "queued").
		Updates(map[string]any{"status": StatusOffline, "routing_reason": Truncate(reason, 1000), "updated_at": time.Now().UTC()})
	return res.RowsAffected > 0, res.Error
}

// Requeue puts an offline conversation back to queued, to be routed again
// (its visitor came back while agents are online).
func (s *Scoped) Requeue(ctx context.Context, convID string) (bool, error) {
	res := s.q(ctx).Model(&Conversation{}).Where("id = ? AND status = ? AND agent_id IS NULL", convID, StatusOffline).
		Updates(map[string]any{"status": "queued", "updated_at": time.Now().UTC()})
	return res.RowsAffected > 0, res.Error
}

// ConversationRouting is what an agent may change about how a conversation
// is routed. Nil fields stay as they are.
type ConversationRouting struct {
	Language, Skill, Team *string
	Priority              *int
	// Reason, when set, is recorded as SetRoutingReason does, in the same
	// statement.
	Reason string
	// Agent, when set, must own the conversation unless it waits for one,
	// as Require.Agent; another agent's is ErrNotOwner, nothing changed.
	Agent string
}

// UpdateConversationRouting changes a conversation's routing needs.
func (s *Scoped) UpdateConversationRouting(ctx context.Context, convID string, r ConversationRouting) error {
	up := map[string]any{}
	if r.Language != nil {
		up["language"] = Truncate(*r.Language, 35)
	}
	if r.Skill != nil {
		up["skill"] = Truncate(*r.Skill, 100)
	}
	if r.Team != nil {
		up["team"] = Truncate(*r.Team, 100)
	}
	if r.Priority != nil {
		up["priority"] = *r.Priority
	}
	if r.Reason != "" {
		up["routing_reason"] = reasonExpr(r.Reason)
	}
	if len(up) == 0 {
		_, err := s.Conversation(ctx, convID)
		return err
	}
	q := s.q(ctx).Model(&Conversation{}).Where("id = ?", convID)
	if r.Agent != "" {
		q = q.Where("(agent_id = ? OR status IN ?)", r.Agent, []string{"queued", "offline"})
	}
	res := q.Updates(up)
	if res.Error == nil && res.RowsAffected == 0 {
		if _, err := s.Conversation(ctx, convID); err != nil || r.Agent == "" {
			return ErrNotFound
		}
		return ErrNotOwner
	}
	return res.Error
}

// SetRoutingReason records why routing made its latest decision, above the
// earlier reasons (one per line, newest first, the oldest cut off at 1000
// characters), so agents can read why a conversation went where it went.
// One statement, so concurrent decisions do not lose each other's lines.
func (s *Scoped) SetRoutingReason(ctx context.Context, convID, reason string) error {
	return s.q(ctx).Model(&Conversation{}).Where("id = ?", convID).Update("routing_reason", reasonExpr(reason)).Error
}

// reasonExpr puts reason above a conversation's earlier ones.
func reasonExpr(reason string) clause.Expr {
	reason = strings.ReplaceAll(Truncate(reason, 1000), "\n", " ")
	return gorm.Expr("CASE WHEN routing_reason = '' THEN ? ELSE substr(? || routing_reason, 1, 1000) END", reason, reason+"\n")
}

// SetContact stores the name and email an offline visitor left (sealed).
func (s *Scoped) SetContact(ctx context.Context, convID, name, email string) error {
	sealedName, err := s.s.seal(Truncate(name, 200), contactAAD(convID, "contact_name"))
	if err != nil {
		return err
	}
	sealedEmail, err := s.s.seal(Truncate(email, 320), contactAAD(convID, "contact_email"))
	if err != nil {
		return err
	}
	res := s.q(ctx).Model(&Conversation{}).Where("id = ?", convID).
		Updates(map[string]any{"contact_name": sealedName, "contact_email": sealedEmail})
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}

// OpenAssignments lists every open conversation with an owner.
func (s *Scoped) OpenAssignments(ctx context.Context) ([]Conversation, error) {
	var cs []Conversation
	return cs, s.q(ctx).Select("id, workspace_id, site_id, visitor_id, agent_id, status, language, skill, team, priority, created_at, updated_at").
		Where("status = ? AND agent_id IS NOT NULL", "open").Order("created_at, id").Find(&cs).Error
}

// AgentProfile is what an admin may change about an agent. Nil fields stay.
type AgentProfile struct {
	Name                     *string
	Role                     *string
	Capacity                 *int
	Languages, Skills, Teams *[]string
}

// UpdateAgentProfile changes an agent's profile.
func (s *Scoped) UpdateAgentProfile(ctx context.Context, id string, p AgentProfile) error {
	up := map[string]any{}
	if p.Name != nil {
		up["name"] = Truncate(*p.Name, 200)
	}
	if p.Role != nil {
		up["role"] = *p.Role
	}
	if p.Capacity != nil {
		up["capacity"] = *p.Capacity
	}
	if p.Languages != nil {
		up["languages"] = JoinList(*p.Languages)
	}
	if p.Skills != nil {
		up["skills"] = JoinList(*p.Skills)
	}
	if p.Teams != nil {
		up["teams"] = JoinList(*p.Teams)
	}
	if len(up) == 0 {
		_, err := s.Agent(ctx, id)
		return err
	}
	res := s.q(ctx).Model(&Agent{}).Where("id = ?", id).Updates(up)
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}

// CreateAgent stores a new agent of the workspace (email lower-cased).
// A taken email gives ErrConflict.
func (s *Scoped) CreateAgent(ctx context.Context, a Agent) (Agent, error) {
	a.WorkspaceID = s.ws
	a.Email = strings.ToLower(strings.TrimSpace(a.Email))
	err := s.s.db.WithContext(ctx).Create(&a).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return a, ErrConflict
	}
	return a, err
}

// SiteRouting is a site's routing settings as stored.
type SiteRouting struct {
	Mode                string
	OfferTimeoutSeconds int
	MaxMisses           int
	RelaxAfter          string
	BusinessHours       string
	TimeZone            string
}

// UpdateSiteRouting replaces a site's routing settings.
func (s *Scoped) UpdateSiteRouting(ctx context.Context, id string, r SiteRouting) error {
	res := s.q(ctx).Model(&Site{}).Where("id = ?", id).Updates(map[string]any{
		"routing_mode": r.Mode, "offer_timeout_seconds": r.OfferTimeoutSeconds, "max_misses": r.MaxMisses,
		"relax_after": r.RelaxAfter, "business_hours": r.BusinessHours, "time_zone": r.TimeZone,
	})
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}

// SplitList reads a comma-separated list, trimmed, without empty items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// JoinList writes a list as SplitList reads it.
func JoinList(l []string) string {
	var out []string
	for _, p := range l {
		if p = strings.TrimSpace(strings.ReplaceAll(p, ",", " ")); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}

// Truncate cuts s to at most n bytes, before a character rather than
// inside one: half a character is invalid UTF-8, which PostgreSQL refuses.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// UpdateTransferNote stores the note of a conversation's latest transfer
// and the routing reason and summary that came with it.
func (s *Scoped) UpdateTransferNote(ctx context.Context, convID, note, reason, summary string) error {
	return s.q(ctx).Model(&Conversation{}).Where("id = ?", convID).
		Updates(map[string]any{"transfer_note": Truncate(note, 1000), "routing_reason": Truncate(reason, 1000),
			"routing_summary": Truncate(summary, 300)}).Error
}

// SetAssignedWhy records why a conversation went to its agent: reason as
// SetRoutingReason does, and summary, the sentence the agents read.
func (s *Scoped) SetAssignedWhy(ctx context.Context, convID, reason, summary string) error {
	return s.q(ctx).Model(&Conversation{}).Where("id = ?", convID).
		Updates(map[string]any{"routing_reason": reasonExpr(reason), "routing_summary": Truncate(summary, 300)}).Error
}
