package store

import (
	"context"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Scoped is the store seen from one workspace: every query it runs is limited
// to that workspace, so another workspace's rows are simply not found.
type Scoped struct {
	s  *Store
	ws string
}

// WorkspaceID is the workspace this store is scoped to.
func (s *Scoped) WorkspaceID() string { return s.ws }

func (s *Scoped) q(ctx context.Context) *gorm.DB {
	return s.s.db.WithContext(ctx).Where("workspace_id = ?", s.ws)
}

// Workspace returns the workspace itself.
func (s *Scoped) Workspace(ctx context.Context) (Workspace, error) {
	var w Workspace
	return w, notFound(s.s.db.WithContext(ctx).Where("id = ?", s.ws).Take(&w).Error)
}

// Agent returns one agent.
func (s *Scoped) Agent(ctx context.Context, id string) (Agent, error) {
	var a Agent
	return a, notFound(s.q(ctx).Where("id = ?", id).Take(&a).Error)
}

// Agents lists the workspace's agents by name.
func (s *Scoped) Agents(ctx context.Context) ([]Agent, error) {
	var as []Agent
	return as, s.q(ctx).Order("name, id").Find(&as).Error
}

// Site returns one site.
func (s *Scoped) Site(ctx context.Context, id string) (Site, error) {
	var site Site
	if err := s.q(ctx).Where("id = ?", id).Take(&site).Error; err != nil {
		return site, notFound(err)
	}
	return site, s.s.openSite(&site)
}

// Sites lists the workspace's sites.
func (s *Scoped) Sites(ctx context.Context) ([]Site, error) {
	var sites []Site
	if err := s.q(ctx).Order("created_at, id").Find(&sites).Error; err != nil {
		return nil, err
	}
	return sites, s.s.openSites(sites)
}

// UpdateSite changes a site's allowed origins and identity requirement.
func (s *Scoped) UpdateSite(ctx context.Context, id, allowedOrigins string, identityRequired bool) error {
	res := s.q(ctx).Model(&Site{}).Where("id = ?", id).
		Updates(map[string]any{"allowed_origins": allowedOrigins, "identity_required": identityRequired})
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}

// CreateVisitor stores a new visitor.
func (s *Scoped) CreateVisitor(ctx context.Context, v Visitor) (Visitor, error) {
	v.WorkspaceID = s.ws
	name := v.Name
	var err error
	if v.Name, err = s.s.seal(name, visitorNameAAD(v.ID)); err != nil {
		return v, err
	}
	email := v.Email
	if v.Email, err = s.s.seal(email, visitorEmailAAD(v.ID)); err != nil {
		return v, err
	}
	err = s.s.db.WithContext(ctx).Create(&v).Error
	v.Name, v.Email = name, email
	if err == nil && (name != "" || email != "") {
		err = s.s.indexDoc(ctx, s.s.plain, s.ws, docVisitor, v.ID, name, email)
	}
	return v, err
}

// Visitor returns one visitor.
func (s *Scoped) Visitor(ctx context.Context, id string) (Visitor, error) {
	var v Visitor
	if err := s.q(ctx).Where("id = ?", id).Take(&v).Error; err != nil {
		return v, notFound(err)
	}
	return v, s.s.openVisitor(&v)
}

// VisitorByUser returns the site's visitor who is the verified user userID.
func (s *Scoped) VisitorByUser(ctx context.Context, siteID, userID string) (Visitor, error) {
	var v Visitor
	if err := s.q(ctx).Where("site_id = ? AND user_id = ?", siteID, userID).Order("created_at").Take(&v).Error; err != nil {
		return v, notFound(err)
	}
	return v, s.s.openVisitor(&v)
}

// TouchVisitor records that the visitor was seen now.
func (s *Scoped) TouchVisitor(ctx context.Context, id string, now time.Time) error {
	return s.q(ctx).Model(&Visitor{}).Where("id = ?", id).Update("last_seen_at", now).Error
}

// Conversation returns one conversation.
func (s *Scoped) Conversation(ctx context.Context, id string) (Conversation, error) {
	var c Conversation
	if err := s.q(ctx).Where("id = ?", id).Take(&c).Error; err != nil {
		return c, notFound(err)
	}
	return c, s.s.openConversation(&c)
}

func (s *Scoped) openAll(cs []Conversation, err error) ([]Conversation, error) {
	if err != nil {
		return nil, err
	}
	for i := range cs {
		if err := s.s.openConversation(&cs[i]); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// OpenConversationOf returns the visitor's conversation that is not closed.
func (s *Scoped) OpenConversationOf(ctx context.Context, visitorID string) (Conversation, error) {
	var c Conversation
	if err := s.q(ctx).Where("visitor_id = ? AND status <> ?", visitorID, "closed").Order("created_at DESC").Take(&c).Error; err != nil {
		return c, notFound(err)
	}
	return c, s.s.openConversation(&c)
}

// Page sizes of the reads on every reconnect. They are the store's, so that
// Warm prepares the very statements (SQLite's LIMIT is part of the text).
const (
	// HistoryPage is how many messages a resume or a history read gets
	// per call.
	HistoryPage = 200
	// VisitorRecent is how many of a visitor's conversations its hello
	// lists.
	VisitorRecent = 20
)

// ConversationsOfVisitor lists a visitor's conversations, newest first.
func (s *Scoped) ConversationsOfVisitor(ctx context.Context, visitorID string, limit int) ([]Conversation, error) {
	var cs []Conversation
	return s.openAll(cs, s.q(ctx).Where("visitor_id = ?", visitorID).Order("created_at DESC").Limit(limit).Find(&cs).Error)
}

// CreateConversation stores a new conversation.
func (s *Scoped) CreateConversation(ctx context.Context, c Conversation) (Conversation, error) {
	c.WorkspaceID = s.ws
	if c.AgentID != nil && c.AssignedAt == nil {
		// Started with its agent: it never waited.
		if c.CreatedAt.IsZero() {
			c.CreatedAt = time.Now().UTC()
		}
		c.AssignedAt = &c.CreatedAt
	}
	return c, s.s.db.WithContext(ctx).Create(&c).Error
}

// Inbox lists what an agent's dashboard shows: the agent's open
// conversations, every queued and offline one (offline messages wait for
// an agent to read them), and the agent's recently closed ones.
func (s *Scoped) Inbox(ctx context.Context, agentID string, closedSince time.Time) ([]Conversation, error) {
	var cs []Conversation
	err := s.q(ctx).
		Where("(status IN ?) OR (status = ? AND agent_id = ?) OR (status = ? AND agent_id = ? AND closed_at > ?)",
			[]string{"queued", StatusOffline}, "open", agentID, "closed", agentID, closedSince).
		Order("updated_at DESC").Limit(500).Find(&cs).Error
	return s.openAll(cs, err)
}

// Queued lists queued conversations, oldest first.
func (s *Scoped) Queued(ctx context.Context) ([]Conversation, error) {
	var cs []Conversation
	return s.openAll(cs, s.q(ctx).Where("status = ?", "queued").Order("created_at, id").Find(&cs).Error)
}

// OpenLoads counts each agent's open conversations.
func (s *Scoped) OpenLoads(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		AgentID string
		N       int
	}
	err := s.q(ctx).Model(&Conversation{}).Select("agent_id, count(*) AS n").
		Where("status = ? AND agent_id IS NOT NULL", "open").Group("agent_id").Scan(&rows).Error
	loads := make(map[string]int, len(rows))
	for _, r := range rows {
		loads[r.AgentID] = r.N
	}
	return loads, err
}

// Assign gives a queued (or, with reassign, an open) conversation to an
// agent. It is a compare-and-set: it returns ErrConflict when the
// conversation was not in the expected state (another node assigned it).
func (s *Scoped) Assign(ctx context.Context, convID, agentID string, reassign bool) error {
	states := []string{"queued"}
	if reassign {
		states = append(states, "open")
	}
	res := s.q(ctx).Model(&Conversation{}).Where("id = ? AND status IN ?", convID, states).
		Updates(assignedNow(agentID))
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrConflict
	}
	return nil
}

// CloseConversation ends a conversation. Closing a closed one is a no-op.
//
// need's Visitor and Agent are checked in the UPDATE itself (Taken does
// not apply): another visitor's conversation is ErrNotFound, another
// agent's ErrNotOwner, and nothing changes.
func (s *Scoped) CloseConversation(ctx context.Context, convID string, need Require, now time.Time) error {
	q := s.q(ctx).Model(&Conversation{}).Where("id = ? AND status <> ?", convID, "closed")
	if need.Visitor != "" {
		q = q.Where("visitor_id = ?", need.Visitor)
	}
	if need.Agent != "" {
		q = q.Where("(agent_id = ? OR status IN ?)", need.Agent, []string{"queued", "offline"})
	}
	res := q.Updates(map[string]any{"status": "closed", "closed_at": now, "updated_at": now})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		c, err := s.Conversation(ctx, convID)
		switch {
		case err != nil:
			return err
		case need.Visitor != "" && c.VisitorID != need.Visitor:
			return ErrNotFound
		case c.Status != "closed" && need.Agent != "":
			return ErrNotOwner
		}
	}
	return nil
}

// AppendMessage stores a message as the next of its conversation. In one
// transaction it advances the conversation's LastSeq and inserts the message
// with that seq, so seqs have no gaps: a failed insert rolls the increment
// back. It is idempotent on (conversation, ClientID): a resend stores nothing
// and returns the original message with duplicate = true. It returns
// ErrNotFound for a conversation not in this workspace and ErrClosed for a
// closed one. Concurrent calls share transactions (groupcommit.go); each
// returns only after the commit that holds its message.
func (s *Scoped) AppendMessage(ctx context.Context, m Message) (stored Message, duplicate bool, err error) {
	a, err := s.Append(ctx, m, Require{})
	return a.Message, a.Duplicate, err
}

// Require is what an append checks of its conversation in its own
// transaction, so that a send needs no read of the conversation first.
type Require struct {
	// Visitor, when set, must be the conversation's visitor: another
	// visitor's conversation is ErrNotFound (not told from a missing one),
	// also for a resent client id.
	Visitor string
	// Taken refuses with ErrWaiting while the conversation is queued or
	// offline (an agent's message that must claim it first).
	Taken bool
	// Agent, when set, must own the conversation, unless it waits for an
	// agent (queued or offline: nobody's yet); another agent's is
	// ErrNotOwner. Checked in the same statement that writes, so an agent
	// who transferred the conversation away, or had it reassigned, cannot
	// write into it or close it however close the two come.
	Agent string
}

// Appended is a stored message, and the state of its conversation that the
// append read (zero for a duplicate).
type Appended struct {
	Message
	Duplicate    bool
	Conversation AppendedTo
}

// AppendedTo is the conversation as a new message left it. State is its
// inbox state (the message does not change it: a visitor's reopens it in
// conversation.Send, only when it is not open already).
type AppendedTo struct {
	Status, Language, State string
}

// Append is AppendMessage with the conditions of need checked in the same
// transaction.
func (s *Scoped) Append(ctx context.Context, m Message, need Require) (Appended, error) {
	m.WorkspaceID = s.ws
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now().UTC()
	}
	plain, name, att := m.Body, m.AuthorName, m.Attachment
	var err error
	if att != "" {
		if m.Attachment, err = s.s.seal(att, messageAttachmentAAD(m.ConversationID, m.ClientID)); err != nil {
			return Appended{}, err
		}
	}
	if m.Body, err = s.s.seal(plain, bodyAAD(m.ConversationID, m.ClientID)); err != nil {
		return Appended{}, err
	}
	if name != "" { // a system message has none
		if m.AuthorName, err = s.s.seal(name, authorNameAAD(m.ConversationID, m.ClientID)); err != nil {
			return Appended{}, err
		}
	}
	sealedPreview, err := s.s.seal(preview(plain), previewAAD(m.ConversationID))
	if err != nil {
		return Appended{}, err
	}
	res, err := s.s.appendGrouped(ctx, &appendReq{ws: s.ws, m: m, preview: sealedPreview, need: need})
	if err == nil {
		err = res.err
	}
	if err != nil {
		return Appended{}, err
	}
	if res.dup {
		err := s.s.openMessage(&res.m)
		return Appended{Message: res.m, Duplicate: true}, err
	}
	res.m.Body, res.m.AuthorName, res.m.Attachment = plain, name, att
	return Appended{Message: res.m, Conversation: res.conv}, nil
}

// preview is the start of a body kept on the conversation for inbox lists.
func preview(body string) string {
	const max = 300
	if len(body) <= max {
		return body
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(body[cut]) {
		cut--
	}
	return body[:cut]
}

// MessagesAfter returns up to limit messages of a conversation with seq >
// after, in seq order.
func (s *Scoped) MessagesAfter(ctx context.Context, convID string, after int64, limit int) ([]Message, error) {
	var ms []Message
	if err := s.q(ctx).Where("conversation_id = ? AND seq > ?", convID, after).Order("seq").Limit(limit).Find(&ms).Error; err != nil {
		return nil, err
	}
	for i := range ms {
		if err := s.s.openMessage(&ms[i]); err != nil {
			return nil, err
		}
	}
	return ms, nil
}
