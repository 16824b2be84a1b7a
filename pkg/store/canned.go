package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Canned replies: saved answers an agent inserts with /shortcut. A reply
// is the team's (AgentID "", every agent of the workspace sees it) or one
// agent's own. A shortcut is unique within its scope; an agent's own
// reply may share a team reply's shortcut (the agent app lists both).
// Bodies are sealed like message bodies: they are what agents send.

// CannedReply is one saved reply.
type CannedReply struct {
	ID          string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;uniqueIndex:idx_canned_scope,priority:1"`
	AgentID     string `gorm:"size:36;not null;default:'';uniqueIndex:idx_canned_scope,priority:2"`
	Shortcut    string `gorm:"size:40;not null;uniqueIndex:idx_canned_scope,priority:3"`
	Body        string `gorm:"type:text;not null"` // sealed when encryption is on
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func cannedBodyAAD(id string) []byte { return []byte("canned:" + id + ":body") }

// CannedRepliesMax bounds a listing: the picker shows them all.
const CannedRepliesMax = 1000

// CannedReplies returns the team's replies and the agent's own, by
// shortcut.
func (s *Scoped) CannedReplies(ctx context.Context, agentID string) ([]CannedReply, error) {
	var rs []CannedReply
	if err := s.q(ctx).Where("agent_id IN ?", []string{"", agentID}).Order("shortcut, agent_id").Limit(CannedRepliesMax).Find(&rs).Error; err != nil {
		return nil, err
	}
	for i := range rs {
		if err := s.s.openCanned(&rs[i]); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// CannedReply returns one reply of the workspace (ErrNotFound).
func (s *Scoped) CannedReply(ctx context.Context, id string) (CannedReply, error) {
	var r CannedReply
	if err := s.q(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return r, notFound(err)
	}
	return r, s.s.openCanned(&r)
}

// CreateCannedReply stores a new reply; a shortcut taken in its scope
// gives ErrConflict.
func (s *Scoped) CreateCannedReply(ctx context.Context, r CannedReply) (CannedReply, error) {
	r.WorkspaceID = s.ws
	plain := r.Body
	sealed, err := s.s.seal(r.Body, cannedBodyAAD(r.ID))
	if err != nil {
		return r, err
	}
	r.Body = sealed
	err = s.s.db.WithContext(ctx).Create(&r).Error
	r.Body = plain
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return r, ErrConflict
	}
	return r, err
}

// UpdateCannedReply changes a reply's shortcut and body (ErrNotFound,
// ErrConflict as CreateCannedReply).
func (s *Scoped) UpdateCannedReply(ctx context.Context, id, shortcut, body string) error {
	sealed, err := s.s.seal(body, cannedBodyAAD(id))
	if err != nil {
		return err
	}
	res := s.q(ctx).Model(&CannedReply{}).Where("id = ?", id).Updates(map[string]any{"shortcut": shortcut, "body": sealed, "updated_at": time.Now()})
	if errors.Is(res.Error, gorm.ErrDuplicatedKey) {
		return ErrConflict
	}
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}

// DeleteCannedReply removes a reply (ErrNotFound).
func (s *Scoped) DeleteCannedReply(ctx context.Context, id string) error {
	res := s.q(ctx).Where("id = ?", id).Delete(&CannedReply{})
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}

func (s *Store) openCanned(r *CannedReply) error {
	b, err := s.open(r.Body, cannedBodyAAD(r.ID))
	r.Body = b
	return err
}

// reencryptCanned re-seals canned reply bodies not under the primary key
// (part of Reencrypt).
func (s *Store) reencryptCanned(ctx context.Context, k interface {
	Sealer
	Resealer
}) (int, error) {
	n, last := 0, ""
	for {
		var rs []CannedReply
		if err := s.db.WithContext(ctx).Select("id, body").Where("id > ?", last).Order("id").Limit(500).Find(&rs).Error; err != nil {
			return n, err
		}
		if len(rs) == 0 {
			return n, nil
		}
		for _, r := range rs {
			last = r.ID
			m, err := s.resealColumn(ctx, k, &CannedReply{}, r.ID, "body", r.Body, cannedBodyAAD(r.ID))
			if err != nil {
				return n, errors.Join(errors.New("canned reply "+r.ID), err)
			}
			n += m
		}
	}
}

// The schema of 2026120747_notes_canned_replies.
type v47CannedReply struct {
	ID          string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;uniqueIndex:idx_canned_scope,priority:1"`
	AgentID     string `gorm:"size:36;not null;default:'';uniqueIndex:idx_canned_scope,priority:2"`
	Shortcut    string `gorm:"size:40;not null;uniqueIndex:idx_canned_scope,priority:3"`
	Body        string `gorm:"type:text;not null"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (v47CannedReply) TableName() string { return "canned_replies" }

func migrateCanned(tx *gorm.DB) error { return tx.Migrator().CreateTable(&v47CannedReply{}) }
