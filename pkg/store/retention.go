package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Retention: a workspace may keep closed conversations (with everything
// keyed by them: messages, notes, tags, mails…) and page views for a set
// number of days; the purge job (purge.go's caller) deletes what is older,
// in batches.

// The schema change of 2026120762_rights_retention.
type v62Workspace struct {
	RetainMessagesDays  int `gorm:"not null;default:0"`
	RetainPageViewsDays int `gorm:"not null;default:0"`
}

func (v62Workspace) TableName() string { return "workspaces" }

func migrateRetention(tx *gorm.DB) error {
	for _, col := range []string{"RetainMessagesDays", "RetainPageViewsDays"} {
		if err := tx.Migrator().AddColumn(&v62Workspace{}, col); err != nil {
			return err
		}
	}
	return nil
}

// SetRetention sets the workspace's retention periods in days (0: keep
// forever).
func (s *Scoped) SetRetention(ctx context.Context, messagesDays, pageViewsDays int) error {
	return s.s.db.WithContext(ctx).Model(&Workspace{}).Where("id = ?", s.ws).
		Updates(map[string]any{"retain_messages_days": messagesDays, "retain_page_views_days": pageViewsDays}).Error
}

// RetentionPurged counts what a retention purge removed in one workspace.
type RetentionPurged struct {
	Conversations, PageViews int64
	// Files are the blob keys of the purged conversations' attachments:
	// their rows are gone, the caller deletes the bytes (pkg/blob).
	Files []string
}

// PurgeRetention deletes, in every workspace with a retention period, the
// conversations closed more than its days ago with every row keyed by
// them, and the page views started more than its days ago; batch bounds
// the rows of one transaction. It reports, by workspace, what it deleted.
func (s *Store) PurgeRetention(ctx context.Context, now time.Time, batch int) (map[string]RetentionPurged, error) {
	var wss []Workspace
	if err := s.db.WithContext(ctx).Where("retain_messages_days > 0 OR retain_page_views_days > 0").Find(&wss).Error; err != nil {
		return nil, err
	}
	out := map[string]RetentionPurged{}
	for _, w := range wss {
		var p RetentionPurged
		if w.RetainMessagesDays > 0 {
			cut := now.Add(-time.Duration(w.RetainMessagesDays) * 24 * time.Hour)
			for ctx.Err() == nil {
				n, files, err := s.purgeConversations(ctx, w.ID, cut, batch)
				p.Conversations += n
				p.Files = append(p.Files, files...)
				if err != nil {
					return out, err
				}
				if n < int64(batch) {
					break
				}
			}
		}
		if w.RetainPageViewsDays > 0 {
			cut := now.Add(-time.Duration(w.RetainPageViewsDays) * 24 * time.Hour)
			for ctx.Err() == nil {
				res := s.db.WithContext(ctx).Exec(`DELETE FROM visitor_pages WHERE workspace_id = ? AND started_at < ? AND id IN
					(SELECT id FROM visitor_pages WHERE workspace_id = ? AND started_at < ? LIMIT ?)`, w.ID, cut, w.ID, cut, batch)
				if res.Error != nil {
					return out, res.Error
				}
				p.PageViews += res.RowsAffected
				if res.RowsAffected < int64(batch) {
					break
				}
			}
		}
		if p.Conversations > 0 || p.PageViews > 0 {
			out[w.ID] = p
		}
	}
	return out, ctx.Err()
}

// purgeConversations deletes up to batch of the workspace's conversations
// closed before cut, with what is keyed by them, in one transaction, and
// returns the blob keys of their attachments.
func (s *Store) purgeConversations(ctx context.Context, ws string, cut time.Time, batch int) (int64, []string, error) {
	var n int64
	var files []string
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		var ids []string
		files = nil // a retried transaction lists them again
		if err := tx.Model(&Conversation{}).Where("workspace_id = ? AND status = ? AND closed_at < ?", ws, "closed", cut).
			Limit(batch).Pluck("id", &ids).Error; err != nil || len(ids) == 0 {
			return err
		}
		if err := tx.Model(&Attachment{}).Where("conversation_id IN ?", ids).Pluck("blob_key", &files).Error; err != nil {
			return err
		}
		keyed, err := KeyedTables(tx)
		if err != nil {
			return err
		}
		if err := deleteKeyed(tx, ws, keyed, ids, Deleted{}); err != nil {
			return err
		}
		res := tx.Exec("DELETE FROM conversations WHERE workspace_id = ? AND id IN ?", ws, ids)
		n = res.RowsAffected
		return res.Error
	})
	return n, files, err
}
