package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// A message's author name is personal data like the visitor's own name
// (a verified user's real name is copied into every message they write),
// so it is sealed like visitors.name, bound to its message.
func authorNameAAD(convID, clientID string) []byte {
	return []byte("msg:" + convID + ":" + clientID + ":author_name")
}

// sealerKey carries the store's Sealer in the migrations' context, for the
// migrations that seal values written in clear before them.
type sealerKey struct{}

func withSealer(ctx context.Context, s Sealer) context.Context {
	return context.WithValue(ctx, sealerKey{}, s)
}

// 2026120710_seclive_sealed_author_names: messages.author_name becomes
// text (a sealed value is longer than the 200-character name), and the
// names already stored in clear are sealed, in batches. Without a Sealer
// (encryption off) only the column changes; `signaling reencrypt` seals
// them once encryption is on.
func migrateSealAuthorNames(tx *gorm.DB) error {
	if tx.Dialector.Name() == "postgres" {
		if err := tx.Exec("ALTER TABLE messages ALTER COLUMN author_name TYPE text").Error; err != nil {
			return err
		}
	}
	sealer, _ := tx.Statement.Context.Value(sealerKey{}).(Sealer)
	if sealer == nil {
		return nil
	}
	type row struct {
		ID             int64
		ConversationID string
		ClientID       string
		AuthorName     string
	}
	var last int64
	for {
		var rows []row
		if err := tx.Table("messages").Select("id, conversation_id, client_id, author_name").
			Where("id > ? AND author_name <> ''", last).Order("id").Limit(500).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		for _, r := range rows {
			last = r.ID
			aad := authorNameAAD(r.ConversationID, r.ClientID)
			if _, err := sealer.Open(r.AuthorName, aad); err == nil {
				continue // sealed already
			}
			// In clear (or text that only looks sealed): seal it.
			sealed, err := sealer.Seal([]byte(r.AuthorName), aad)
			if err != nil {
				return fmt.Errorf("message %d: %w", r.ID, err)
			}
			if err := tx.Table("messages").Where("id = ?", r.ID).Update("author_name", sealed).Error; err != nil {
				return err
			}
		}
	}
}
