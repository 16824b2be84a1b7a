package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// The announcement outbox: a change of a conversation's owner that its
// clients must be told of (the conversation's new state, the "joined" or
// "transferred" notice) is written in the same transaction as the change
// (Claim, Move), and deleted once told. The telling right after the commit
// is the fast path; a store or bus failure at that moment, or the node's
// death, leaves the row, and conversation.Service's announcer tells it
// again from here: at least once, never zero times (issue 15, defect 1).

// Announcement kinds.
const (
	AnnounceJoined      = "joined"
	AnnounceTransferred = "transferred"
)

// AnnounceGrace is how long after its commit an announcement is left to
// the fast path before the announcer takes it over.
const AnnounceGrace = 2 * time.Second

// Announcement is one change still to be told. It holds ids only.
type Announcement struct {
	ID             int64  `gorm:"primaryKey;autoIncrement"`
	WorkspaceID    string `gorm:"size:36;not null;index"`
	ConversationID string `gorm:"size:36;not null;index"`
	Kind           string `gorm:"size:20;not null"`
	// AgentID is the conversation's new owner; FromAgentID the previous
	// one (transfers).
	AgentID     string `gorm:"size:36;not null"`
	FromAgentID string `gorm:"size:36;not null;default:''"`
	Attempts    int    `gorm:"not null;default:0"`
	// NextAt is when it is due; LeaseUntil, while a node is telling it.
	NextAt     time.Time `gorm:"not null;index"`
	LeaseUntil *time.Time
	CreatedAt  time.Time
}

// The schema change of 2026120847_perf_announcements.
func migrateAnnouncements(tx *gorm.DB) error {
	type announcement struct {
		ID             int64     `gorm:"primaryKey;autoIncrement"`
		WorkspaceID    string    `gorm:"size:36;not null;index"`
		ConversationID string    `gorm:"size:36;not null;index"`
		Kind           string    `gorm:"size:20;not null"`
		AgentID        string    `gorm:"size:36;not null"`
		FromAgentID    string    `gorm:"size:36;not null;default:''"`
		Attempts       int       `gorm:"not null;default:0"`
		NextAt         time.Time `gorm:"not null;index"`
		LeaseUntil     *time.Time
		CreatedAt      time.Time
	}
	return tx.Table("announcements").Migrator().CreateTable(&announcement{})
}

// announce writes a in tx, due after AnnounceGrace.
func (s *Scoped) announce(tx *gorm.DB, convID, kind, agentID, fromAgentID string) error {
	now := time.Now().UTC()
	return tx.Create(&Announcement{WorkspaceID: s.ws, ConversationID: convID, Kind: kind, AgentID: agentID,
		FromAgentID: fromAgentID, NextAt: now.Add(AnnounceGrace), CreatedAt: now}).Error
}

// PendingAnnouncement returns the oldest announcement of kind still to be
// told for convID and agentID (the new owner); ErrNotFound when there is
// none.
func (s *Scoped) PendingAnnouncement(ctx context.Context, convID, kind, agentID string) (Announcement, error) {
	var a Announcement
	err := s.q(ctx).Where("conversation_id = ? AND kind = ? AND agent_id = ?", convID, kind, agentID).Order("id").Take(&a).Error
	return a, notFound(err)
}

// Announced deletes told announcements: the one with id, or when id is 0
// every one of kind for convID and agentID.
func (s *Scoped) Announced(ctx context.Context, id int64, convID, kind, agentID string) error {
	q := s.q(ctx)
	if id != 0 {
		q = q.Where("id = ?", id)
	} else {
		q = q.Where("conversation_id = ? AND kind = ? AND agent_id = ?", convID, kind, agentID)
	}
	return q.Delete(&Announcement{}).Error
}

// ClaimAnnouncements leases up to limit due announcements of any
// workspace to this node until leaseUntil (leaseDue).
func (s *Store) ClaimAnnouncements(ctx context.Context, now, leaseUntil time.Time, limit int) ([]Announcement, error) {
	return leaseDue(ctx, s.db, "1 = 1", now, leaseUntil, limit, func(a *Announcement) int64 { return a.ID })
}

// AnnouncementRetry releases a claimed announcement that could not be
// told, due again at next.
func (s *Store) AnnouncementRetry(ctx context.Context, id int64, next time.Time) error {
	return s.db.WithContext(ctx).Model(&Announcement{}).Where("id = ?", id).
		Updates(map[string]any{"lease_until": nil, "next_at": next, "attempts": gorm.Expr("attempts + 1")}).Error
}

// leaseDue leases to this node, until `until`, up to limit rows of T's
// table that are still to do (pending, a condition on the row), due
// (next_at <= now) and not held (lease_until free or run out). Each row is
// taken by an update conditioned on its lease being free, so two nodes
// never hold one row at once; a row whose node died while holding it is
// due again once the lease runs out: done twice, never zero times. The
// mail queue and the announcement outbox are leased so.
func leaseDue[T any](ctx context.Context, db *gorm.DB, pending string, now, until time.Time, limit int, id func(*T) int64) ([]T, error) {
	var due []T
	free := "(lease_until IS NULL OR lease_until < ?)"
	err := db.WithContext(ctx).Where(pending+" AND next_at <= ? AND "+free, now, now).Order("next_at").Limit(limit).Find(&due).Error
	if err != nil {
		return nil, err
	}
	out := due[:0]
	for i := range due {
		var zero T
		res := db.WithContext(ctx).Model(&zero).Where("id = ? AND "+pending+" AND "+free, id(&due[i]), now).Update("lease_until", until)
		if res.Error != nil {
			return nil, res.Error
		}
		if res.RowsAffected == 0 {
			continue // another node took it
		}
		out = append(out, due[i])
	}
	return out, nil
}
