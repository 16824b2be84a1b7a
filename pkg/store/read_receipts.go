package store

import (
	"context"

	"gorm.io/gorm"
)

// The schema change of 2026120836_attach_read_cursors: read receipts, one
// cursor per side per conversation (the highest seq the visitor has read,
// the highest any agent has read).
type v836Conversation struct {
	VisitorReadSeq int64 `gorm:"not null;default:0"`
	AgentReadSeq   int64 `gorm:"not null;default:0"`
}

func (v836Conversation) TableName() string { return "conversations" }

func migrateReadCursors(tx *gorm.DB) error {
	for _, f := range []string{"VisitorReadSeq", "AgentReadSeq"} {
		if err := tx.Migrator().AddColumn(&v836Conversation{}, f); err != nil {
			return err
		}
	}
	return nil
}

// MarkRead moves a side's read cursor ("visitor" or "agent") of the
// conversation forward to seq, never back nor past its last message, in
// one statement; moved is false when it was there already (or further).
func (s *Scoped) MarkRead(ctx context.Context, convID, side string, seq int64) (moved bool, err error) {
	col := "agent_read_seq"
	if side == "visitor" {
		col = "visitor_read_seq"
	}
	res := s.q(ctx).Model(&Conversation{}).Where("id = ? AND "+col+" < ? AND last_seq >= ?", convID, seq, seq).
		UpdateColumn(col, seq)
	return res.RowsAffected > 0, res.Error
}
