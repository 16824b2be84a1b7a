package store

import "gorm.io/gorm"

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
