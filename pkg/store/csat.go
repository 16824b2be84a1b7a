package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// The schema change of 2026120739_wui_csat: the rating a visitor gave a
// conversation that ended (1 to 5; 0: none), their comment (sealed, like
// every message-like text) and when they rated it.
type v39Conversation struct {
	CsatRating  int    `gorm:"not null;default:0"`
	CsatComment string `gorm:"type:text;not null;default:''"`
	CsatAt      *time.Time
}

func (v39Conversation) TableName() string { return "conversations" }

func migrateCSAT(tx *gorm.DB) error {
	for _, f := range []string{"CsatRating", "CsatComment", "CsatAt"} {
		if err := tx.Migrator().AddColumn(&v39Conversation{}, f); err != nil {
			return err
		}
	}
	return nil
}

func csatAAD(convID string) []byte { return []byte("conv:" + convID + ":csat_comment") }

// RateConversation stores the visitor's rating (1 to 5) and comment of
// their conversation, which must have ended; rating again replaces it.
// ErrNotFound: no such closed conversation of this visitor.
func (s *Scoped) RateConversation(ctx context.Context, convID, visitorID string, rating int, comment string, now time.Time) error {
	sealed, err := s.s.seal(Truncate(comment, 2000), csatAAD(convID))
	if err != nil {
		return err
	}
	res := s.q(ctx).Model(&Conversation{}).Where("id = ? AND visitor_id = ? AND status = ?", convID, visitorID, "closed").
		Updates(map[string]any{"csat_rating": rating, "csat_comment": sealed, "csat_at": now})
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}
