package store

import (
	"context"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Translations of chat messages (auto-translation, pkg/translate): the
// message keeps what its author wrote; each translation is cached here,
// one row per message and target language, sealed like message bodies.
// Rows have workspace_id and conversation_id, so deleting a visitor's data
// or a conversation deletes them with the messages (data_rights.go).

// MessageTranslation is a message's text in another language.
type MessageTranslation struct {
	ID             int64  `gorm:"primaryKey;autoIncrement"`
	WorkspaceID    string `gorm:"size:36;not null"`
	ConversationID string `gorm:"size:36;not null;uniqueIndex:idx_translation_msg,priority:1"`
	Seq            int64  `gorm:"not null;uniqueIndex:idx_translation_msg,priority:2"`
	Language       string `gorm:"size:35;not null;uniqueIndex:idx_translation_msg,priority:3"`
	Text           string `gorm:"type:text;not null"` // sealed when encryption is on
	// Provider made it ("apertium", "openai"), shown to whoever reads it.
	Provider  string `gorm:"size:20;not null;default:''"`
	CreatedAt time.Time
}

func translationAAD(convID string, seq int64, lang string) []byte {
	return []byte("translation:" + convID + ":" + strconv.FormatInt(seq, 10) + ":" + lang)
}

// The schema of 2026120780_translate_message_translations.
type v80MessageTranslation struct {
	ID             int64  `gorm:"primaryKey;autoIncrement"`
	WorkspaceID    string `gorm:"size:36;not null"`
	ConversationID string `gorm:"size:36;not null;uniqueIndex:idx_translation_msg,priority:1"`
	Seq            int64  `gorm:"not null;uniqueIndex:idx_translation_msg,priority:2"`
	Language       string `gorm:"size:35;not null;uniqueIndex:idx_translation_msg,priority:3"`
	Text           string `gorm:"type:text;not null"`
	Provider       string `gorm:"size:20;not null;default:''"`
	CreatedAt      time.Time
}

func (v80MessageTranslation) TableName() string { return "message_translations" }

func migrateTranslations(tx *gorm.DB) error {
	return tx.Migrator().CreateTable(&v80MessageTranslation{})
}

// SaveTranslation caches a translation of the conversation's message seq;
// a second one for the same language (two nodes translated at once) keeps
// the first.
func (s *Scoped) SaveTranslation(ctx context.Context, t MessageTranslation) error {
	sealed, err := s.s.seal(t.Text, translationAAD(t.ConversationID, t.Seq, t.Language))
	if err != nil {
		return err
	}
	t.ID, t.WorkspaceID, t.Text = 0, s.ws, sealed
	return s.s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&t).Error
}

// Translations returns the cached translations of the conversation's
// messages with seq in [from, to], in seq order.
func (s *Scoped) Translations(ctx context.Context, convID string, from, to int64) ([]MessageTranslation, error) {
	var ts []MessageTranslation
	if err := s.q(ctx).Where("conversation_id = ? AND seq >= ? AND seq <= ?", convID, from, to).Order("seq, language").Find(&ts).Error; err != nil {
		return nil, err
	}
	for i := range ts {
		text, err := s.s.open(ts[i].Text, translationAAD(ts[i].ConversationID, ts[i].Seq, ts[i].Language))
		if err != nil {
			return nil, err
		}
		ts[i].Text = text
	}
	return ts, nil
}
