package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// The schema change of 2026120701_agentui_message_audience: who a system
// message is for. A notice worded for the visitor ("You are now chatting
// with Ana.") would mislead an agent reading it in the timeline, so the
// agent side gets its own line and each side's client shows only its own.
type v10Message struct {
	Audience string `gorm:"size:20;not null;default:''"`
}

func (v10Message) TableName() string { return "messages" }

func migrateMessageAudience(tx *gorm.DB) error {
	return tx.Migrator().AddColumn(&v10Message{}, "Audience")
}

// The schema change of 2026120702_agentui_routing_summary: why a
// conversation's agent has it, in a sentence for agents ("speaks French,
// least busy of 2 available agents"); routing_reason keeps the details.
type v11Conversation struct {
	RoutingSummary string `gorm:"size:300;not null;default:''"`
}

func (v11Conversation) TableName() string { return "conversations" }

func migrateRoutingSummary(tx *gorm.DB) error {
	return tx.Migrator().AddColumn(&v11Conversation{}, "RoutingSummary")
}

// The schema change of 2026120705_agentui_visitor_presence: whether the
// visitor is there (online, away, gone), for the agent they talk to.
type v12Visitor struct {
	Presence string `gorm:"size:10;not null;default:''"`
}

func (v12Visitor) TableName() string { return "visitors" }

func migrateVisitorPresence(tx *gorm.DB) error {
	return tx.Migrator().AddColumn(&v12Visitor{}, "Presence")
}

// SetVisitorPresence records a visitor's presence and when it changed.
func (s *Scoped) SetVisitorPresence(ctx context.Context, id, presence string, at time.Time) error {
	return s.q(ctx).Model(&Visitor{}).Where("id = ?", id).
		Updates(map[string]any{"presence": presence, "last_seen_at": at}).Error
}
