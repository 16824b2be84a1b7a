package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// NotifyPrefs is how an agent wants to be told of what happens while they
// look elsewhere: by desktop notification and or a sound, for which
// events. Kept on the server so they follow the agent to another browser
// (the browser's own permission for notifications does not: the agent app
// asks it there).
type NotifyPrefs struct {
	AgentID     string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null"`
	Desktop     bool   `gorm:"not null"`
	Sound       bool   `gorm:"not null"`
	// The events: a conversation newly assigned to the agent, a note that
	// mentions them, a visitor's message in their conversation while the
	// dashboard's tab is hidden.
	Assigned  bool `gorm:"not null"`
	Mentions  bool `gorm:"not null"`
	Messages  bool `gorm:"not null"`
	UpdatedAt time.Time
}

// DefaultNotifyPrefs are an agent's until they change them: every event,
// with a sound; desktop notifications only once the agent turns them on
// (the browser asks its permission then).
func DefaultNotifyPrefs(agentID string) NotifyPrefs {
	return NotifyPrefs{AgentID: agentID, Sound: true, Assigned: true, Mentions: true, Messages: true}
}

// NotifyPrefsOf returns an agent's preferences (the defaults when never set).
func (s *Scoped) NotifyPrefsOf(ctx context.Context, agentID string) (NotifyPrefs, error) {
	var p NotifyPrefs
	err := s.q(ctx).Where("agent_id = ?", agentID).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		p = DefaultNotifyPrefs(agentID)
		p.WorkspaceID = s.ws
		return p, nil
	}
	return p, err
}

// SetNotifyPrefs replaces an agent's preferences.
func (s *Scoped) SetNotifyPrefs(ctx context.Context, p NotifyPrefs) error {
	p.WorkspaceID = s.ws
	p.UpdatedAt = time.Now()
	return s.s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "agent_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"desktop", "sound", "assigned", "mentions", "messages", "updated_at"}),
	}).Create(&p).Error
}

// The schema of 2026120748_notes_notify_prefs.
type v48NotifyPrefs struct {
	AgentID     string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null"`
	Desktop     bool   `gorm:"not null"`
	Sound       bool   `gorm:"not null"`
	Assigned    bool   `gorm:"not null"`
	Mentions    bool   `gorm:"not null"`
	Messages    bool   `gorm:"not null"`
	UpdatedAt   time.Time
}

func (v48NotifyPrefs) TableName() string { return "notify_prefs" }

func migrateNotifyPrefs(tx *gorm.DB) error { return tx.Migrator().CreateTable(&v48NotifyPrefs{}) }

// TableName keeps gorm from pluralising "prefs".
func (NotifyPrefs) TableName() string { return "notify_prefs" }
