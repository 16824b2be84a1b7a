package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Inbox states. A conversation that is not closed is open (""), pending
// (the agent waits on the visitor) or snoozed until a time; a closed one
// is what the dashboard calls resolved. The state is a second column,
// apart from Status, because Status is routing's (queued, open, offline,
// closed) and every routing rule reads it: a pending conversation is
// still its agent's and still counts against their capacity.
const (
	StateOpen    = ""
	StatePending = "pending"
	StateSnoozed = "snoozed"
)

// The schema change of 2026120742_inbox_states_tags: the inbox state and
// its snooze time, indexes for the inbox views (newest activity first,
// per workspace and per agent) and for the snooze timer, and the
// workspace's tags.
type (
	v42Conversation struct {
		WorkspaceID  string     `gorm:"size:36;not null;index:idx_conv_ws_updated,priority:1;index:idx_conv_ws_agent_updated,priority:1"`
		AgentID      *string    `gorm:"size:36;index:idx_conv_ws_agent_updated,priority:2"`
		UpdatedAt    time.Time  `gorm:"index:idx_conv_ws_updated,priority:2;index:idx_conv_ws_agent_updated,priority:3"`
		ID           string     `gorm:"primaryKey;size:36;index:idx_conv_ws_updated,priority:3"`
		InboxState   string     `gorm:"size:10;not null;default:'';index:idx_conv_snooze,priority:1"`
		SnoozedUntil *time.Time `gorm:"index:idx_conv_snooze,priority:2"`
	}
	v42Tag struct {
		ID          string `gorm:"primaryKey;size:36"`
		WorkspaceID string `gorm:"size:36;not null;uniqueIndex:idx_tag_ws_name,priority:1"`
		Name        string `gorm:"size:50;not null;uniqueIndex:idx_tag_ws_name,priority:2"`
		Color       string `gorm:"size:7;not null;default:''"`
		CreatedAt   time.Time
	}
	v42ConversationTag struct {
		ConversationID string `gorm:"primaryKey;size:36"`
		TagID          string `gorm:"primaryKey;size:36;index:idx_convtag_ws_tag,priority:2"`
		WorkspaceID    string `gorm:"size:36;not null;index:idx_convtag_ws_tag,priority:1"`
	}
)

func (v42Conversation) TableName() string    { return "conversations" }
func (v42Tag) TableName() string             { return "tags" }
func (v42ConversationTag) TableName() string { return "conversation_tags" }

func migrateInboxStatesTags(tx *gorm.DB) error {
	m := tx.Migrator()
	for _, f := range []string{"InboxState", "SnoozedUntil"} {
		if err := m.AddColumn(&v42Conversation{}, f); err != nil {
			return err
		}
	}
	for _, idx := range []string{"idx_conv_ws_updated", "idx_conv_ws_agent_updated", "idx_conv_snooze"} {
		if err := m.CreateIndex(&v42Conversation{}, idx); err != nil {
			return err
		}
	}
	return tx.AutoMigrate(&v42Tag{}, &v42ConversationTag{})
}

// The schema change of 2026120892_firstview_live_index: the dashboard
// counts every inbox view on load (open ones by default), and on a large
// archive each count read every conversation of the workspace, or of the
// agent, to find the few not closed; the partial index holds only those,
// with the columns the views and states filter on.
func migrateLiveInboxIndex(tx *gorm.DB) error {
	return tx.Exec("CREATE INDEX idx_conv_live ON conversations (workspace_id, agent_id, team, inbox_state) WHERE status <> 'closed'").Error
}

// Tag is a workspace's label for conversations ("billing", "bug"). Names
// are the workspace's own words, not the visitor's, so they are stored in
// the clear (search and filters read them).
type Tag struct {
	ID          string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null"`
	Name        string `gorm:"size:50;not null"`
	Color       string `gorm:"size:7;not null;default:''"`
	CreatedAt   time.Time
}

// ConversationTag puts a tag on a conversation.
type ConversationTag struct {
	ConversationID string `gorm:"primaryKey;size:36"`
	TagID          string `gorm:"primaryKey;size:36"`
	WorkspaceID    string `gorm:"size:36;not null"`
}

// Inbox views.
const (
	ViewMine       = "mine"       // assigned to the asking agent
	ViewUnassigned = "unassigned" // nobody's: queued, offline messages
	ViewTeam       = "team"       // the asking agent's teams
	ViewAll        = "all"        // the whole workspace (supervisors, admins)
)

// Inbox status filters: open, pending and snoozed are states of a
// conversation that is not closed; resolved is a closed one.
const (
	FilterOpen     = "open"
	FilterPending  = "pending"
	FilterSnoozed  = "snoozed"
	FilterResolved = "resolved"
)

// InboxQuery selects conversations of one inbox view, filtered. Zero
// fields do not filter.
type InboxQuery struct {
	View string
	// Agent is the asking agent (mine); Teams and TeamAgents are their
	// teams and the agents who share one (team).
	Agent      string
	Teams      []string
	TeamAgents []string
	Status     string // Filter*
	SiteID     string
	TagID      string
	Language   string
	AssigneeID string
	// From and To bound when the conversation started ([From, To)).
	From, To time.Time
}

// InboxCursor is where a page ends: the next page has the conversations
// after it in the order of the list (latest activity first, then id).
type InboxCursor struct {
	UpdatedAt time.Time
	ID        string
}

// ErrBadView is an inbox query with an unknown view or status.
var ErrBadView = errors.New("store: unknown inbox view or status")

func (s *Scoped) inboxWhere(ctx context.Context, q InboxQuery) (*gorm.DB, error) {
	db := s.q(ctx).Model(&Conversation{})
	switch q.View {
	case ViewMine:
		db = db.Where("agent_id = ?", q.Agent)
	case ViewUnassigned:
		db = db.Where("agent_id IS NULL")
	case ViewTeam:
		switch {
		case len(q.Teams) > 0 && len(q.TeamAgents) > 0:
			db = db.Where("(team IN ? OR agent_id IN ?)", q.Teams, q.TeamAgents)
		case len(q.Teams) > 0:
			db = db.Where("team IN ?", q.Teams)
		case len(q.TeamAgents) > 0:
			db = db.Where("agent_id IN ?", q.TeamAgents)
		default: // in no team: the view is empty
			db = db.Where("1 = 0")
		}
	case ViewAll:
	default:
		return nil, ErrBadView
	}
	// notClosed is written out, not bound: only a literal lets SQLite
	// and PostgreSQL match it to idx_conv_live's WHERE (a plan made for a
	// parameter cannot assume its value).
	const notClosed = "status <> 'closed'"
	switch q.Status {
	case "":
	case FilterOpen:
		db = db.Where(notClosed+" AND inbox_state = ?", StateOpen)
	case FilterPending:
		db = db.Where(notClosed+" AND inbox_state = ?", StatePending)
	case FilterSnoozed:
		db = db.Where(notClosed+" AND inbox_state = ?", StateSnoozed)
	case FilterResolved:
		db = db.Where("status = ?", "closed")
	default:
		return nil, ErrBadView
	}
	if q.SiteID != "" {
		db = db.Where("site_id = ?", q.SiteID)
	}
	if q.Language != "" {
		db = db.Where("language = ?", q.Language)
	}
	if q.AssigneeID != "" {
		db = db.Where("agent_id = ?", q.AssigneeID)
	}
	if !q.From.IsZero() {
		db = db.Where("created_at >= ?", q.From.UTC())
	}
	if !q.To.IsZero() {
		db = db.Where("created_at < ?", q.To.UTC())
	}
	if q.TagID != "" {
		db = db.Where("id IN (SELECT conversation_id FROM conversation_tags WHERE workspace_id = ? AND tag_id = ?)", s.ws, q.TagID)
	}
	return db, nil
}

// InboxPage lists up to limit conversations of the query after the cursor
// (nil: from the newest), and the cursor of the next page (nil: none).
func (s *Scoped) InboxPage(ctx context.Context, q InboxQuery, after *InboxCursor, limit int) ([]Conversation, *InboxCursor, error) {
	db, err := s.inboxWhere(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	if after != nil {
		t := after.UpdatedAt.UTC()
		db = db.Where("(updated_at < ? OR (updated_at = ? AND id < ?))", t, t, after.ID)
	}
	var cs []Conversation
	// One more than asked tells whether there is a next page.
	if err := db.Order("updated_at DESC, id DESC").Limit(limit + 1).Find(&cs).Error; err != nil {
		return nil, nil, err
	}
	var next *InboxCursor
	if len(cs) > limit {
		cs = cs[:limit]
		last := cs[len(cs)-1]
		next = &InboxCursor{UpdatedAt: last.UpdatedAt, ID: last.ID}
	}
	cs, err = s.openAll(cs, nil)
	return cs, next, err
}

// InboxCount counts the conversations of the query.
func (s *Scoped) InboxCount(ctx context.Context, q InboxQuery) (int64, error) {
	db, err := s.inboxWhere(ctx, q)
	if err != nil {
		return 0, err
	}
	var n int64
	return n, db.Count(&n).Error
}

// SetConversationState moves a conversation that is not closed to open
// (StateOpen), pending or snoozed until until. agent, when set, must own
// it (as for closing: its agent, or anyone's while it waits for one);
// another agent's is ErrNotOwner, a closed one ErrClosed.
func (s *Scoped) SetConversationState(ctx context.Context, convID, state string, until *time.Time, agent string, now time.Time) error {
	switch state {
	case StateOpen, StatePending:
		until = nil
	case StateSnoozed:
		if until == nil {
			return ErrBadView
		}
		u := until.UTC()
		until = &u
	default:
		return ErrBadView
	}
	q := s.q(ctx).Model(&Conversation{}).Where("id = ? AND status <> ?", convID, "closed")
	if agent != "" {
		q = q.Where("(agent_id = ? OR status IN ?)", agent, []string{"queued", StatusOffline})
	}
	res := q.Updates(map[string]any{"inbox_state": state, "snoozed_until": until, "updated_at": now})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		c, err := s.Conversation(ctx, convID)
		switch {
		case err != nil:
			return err
		case c.Status == "closed":
			return ErrClosed
		default:
			return ErrNotOwner
		}
	}
	return nil
}

// Reopen makes a pending or snoozed conversation open again (the visitor
// wrote). It reports whether it changed anything.
func (s *Scoped) Reopen(ctx context.Context, convID string, now time.Time) (bool, error) {
	res := s.q(ctx).Model(&Conversation{}).Where("id = ? AND inbox_state <> ?", convID, StateOpen).
		Updates(map[string]any{"inbox_state": StateOpen, "snoozed_until": nil, "updated_at": now})
	return res.RowsAffected > 0, res.Error
}

// Woken is a snoozed conversation whose time came.
type Woken struct {
	WorkspaceID, ID string
}

// WakeSnoozed opens the snoozed conversations (of every workspace) whose
// time is up, at most limit, and returns those this call opened: with
// several nodes doing it at once, each conversation is woken by one.
func (s *Store) WakeSnoozed(ctx context.Context, now time.Time, limit int) ([]Woken, error) {
	var due []Woken
	err := s.db.WithContext(ctx).Model(&Conversation{}).Select("workspace_id, id").
		Where("inbox_state = ? AND snoozed_until <= ?", StateSnoozed, now.UTC()).Limit(limit).Scan(&due).Error
	if err != nil {
		return nil, err
	}
	woken := due[:0]
	for _, w := range due {
		res := s.db.WithContext(ctx).Model(&Conversation{}).
			Where("id = ? AND workspace_id = ? AND inbox_state = ? AND snoozed_until <= ?", w.ID, w.WorkspaceID, StateSnoozed, now.UTC()).
			Updates(map[string]any{"inbox_state": StateOpen, "snoozed_until": nil, "updated_at": now.UTC()})
		if res.Error != nil {
			return woken, res.Error
		}
		if res.RowsAffected > 0 {
			woken = append(woken, w)
		}
	}
	return woken, nil
}

// NextSnoozeEnd is when the next snoozed conversation is due (ok false:
// none is snoozed).
func (s *Store) NextSnoozeEnd(ctx context.Context) (t time.Time, ok bool, err error) {
	var c Conversation
	err = s.db.WithContext(ctx).Select("snoozed_until").Where("inbox_state = ? AND snoozed_until IS NOT NULL", StateSnoozed).
		Order("snoozed_until").Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil || c.SnoozedUntil == nil {
		return time.Time{}, false, err
	}
	return *c.SnoozedUntil, true, nil
}

// Tags lists the workspace's tags by name.
func (s *Scoped) Tags(ctx context.Context) ([]Tag, error) {
	var ts []Tag
	return ts, s.q(ctx).Order("name, id").Find(&ts).Error
}

// CreateTag stores a new tag; a name the workspace already has (in any
// case) is ErrConflict.
func (s *Scoped) CreateTag(ctx context.Context, t Tag) (Tag, error) {
	t.WorkspaceID = s.ws
	var n int64
	if err := s.q(ctx).Model(&Tag{}).Where("LOWER(name) = ?", strings.ToLower(t.Name)).Count(&n).Error; err != nil {
		return t, err
	}
	if n > 0 {
		return t, ErrConflict
	}
	err := s.s.db.WithContext(ctx).Create(&t).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) { // a concurrent create of the same name
		return t, ErrConflict
	}
	return t, err
}

// DeleteTag removes a tag and takes it off every conversation.
func (s *Scoped) DeleteTag(ctx context.Context, id string) error {
	return s.s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("workspace_id = ? AND id = ?", s.ws, id).Delete(&Tag{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return tx.Where("workspace_id = ? AND tag_id = ?", s.ws, id).Delete(&ConversationTag{}).Error
	})
}

// TagConversation puts a tag on a conversation (again: no change). Both
// must be the workspace's, else ErrNotFound.
func (s *Scoped) TagConversation(ctx context.Context, convID, tagID string) error {
	for _, probe := range []struct {
		model any
		id    string
	}{{&Conversation{}, convID}, {&Tag{}, tagID}} {
		var n int64
		if err := s.q(ctx).Model(probe.model).Where("id = ?", probe.id).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
	}
	return s.s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&ConversationTag{ConversationID: convID, TagID: tagID, WorkspaceID: s.ws}).Error
}

// UntagConversation takes a tag off a conversation (not there: no change).
func (s *Scoped) UntagConversation(ctx context.Context, convID, tagID string) error {
	return s.q(ctx).Where("conversation_id = ? AND tag_id = ?", convID, tagID).Delete(&ConversationTag{}).Error
}

// TagsOf returns the tags of each of the conversations, by conversation.
func (s *Scoped) TagsOf(ctx context.Context, convIDs []string) (map[string][]Tag, error) {
	out := map[string][]Tag{}
	if len(convIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		ConversationID string
		Tag
	}
	err := s.s.db.WithContext(ctx).Table("conversation_tags ct").
		Select("ct.conversation_id, t.id, t.workspace_id, t.name, t.color, t.created_at").
		Joins("JOIN tags t ON t.id = ct.tag_id AND t.workspace_id = ct.workspace_id").
		Where("ct.workspace_id = ? AND ct.conversation_id IN ?", s.ws, convIDs).Order("t.name").Scan(&rows).Error
	for _, r := range rows {
		out[r.ConversationID] = append(out[r.ConversationID], r.Tag)
	}
	return out, err
}
