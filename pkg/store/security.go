package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Invite errors: a token that was used or revoked, or whose time ran out.
var (
	ErrInviteUsed    = errors.New("this invite has already been used")
	ErrInviteExpired = errors.New("this invite has expired")
)

// Invite lets a person join a workspace as an agent by a single-use link.
// Only a SHA-256 hash of the link's token is stored, as for sessions.
type Invite struct {
	ID          string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index"`
	Email       string `gorm:"size:320;not null"`
	Role        string `gorm:"size:20;not null"`
	TokenHash   string `gorm:"size:64;not null;uniqueIndex"`
	CreatedBy   string `gorm:"size:36;not null"`
	ExpiresAt   time.Time
	AcceptedAt  *time.Time
	AgentID     *string `gorm:"size:36"` // the agent the invite created
	CreatedAt   time.Time
}

// AuditEntry is one line of a workspace's audit log: who did what to what.
// Detail never holds a secret (only which fields changed, never values of
// secrets).
type AuditEntry struct {
	ID          int64  `gorm:"primaryKey;autoIncrement"`
	WorkspaceID string `gorm:"size:36;not null;index:idx_audit_ws_id,priority:1"`
	ActorID     string `gorm:"size:36;not null;default:''"`
	ActorName   string `gorm:"size:200;not null;default:''"`
	Action      string `gorm:"size:50;not null"`
	Target      string `gorm:"size:200;not null;default:''"`
	Detail      string `gorm:"type:text;not null;default:''"`
	IP          string `gorm:"size:64;not null;default:''"`
	CreatedAt   time.Time
}

// DeleteAgentSessions ends every session of an agent (sign out
// everywhere). It returns how many there were.
func (s *Scoped) DeleteAgentSessions(ctx context.Context, agentID string) (int64, error) {
	res := s.q(ctx).Where("agent_id = ?", agentID).Delete(&Session{})
	return res.RowsAffected, res.Error
}

// CreateInvite stores an invite. An email that already belongs to an agent
// of the workspace gives ErrConflict.
func (s *Scoped) CreateInvite(ctx context.Context, inv Invite) (Invite, error) {
	inv.WorkspaceID = s.ws
	inv.Email = strings.ToLower(strings.TrimSpace(inv.Email))
	if _, err := s.AgentByEmail(ctx, inv.Email); err == nil {
		return inv, ErrConflict
	} else if !errors.Is(err, ErrNotFound) {
		return inv, err
	}
	return inv, s.s.db.WithContext(ctx).Create(&inv).Error
}

// PendingInvites lists the invites not yet accepted nor expired, newest
// first.
func (s *Scoped) PendingInvites(ctx context.Context, now time.Time) ([]Invite, error) {
	var out []Invite
	return out, s.q(ctx).Where("accepted_at IS NULL AND expires_at > ?", now).Order("created_at DESC, id").Limit(500).Find(&out).Error
}

// RevokeInvite deletes an invite that was not accepted, so its link stops
// working. It returns the invite as it was.
func (s *Scoped) RevokeInvite(ctx context.Context, id string) (Invite, error) {
	var inv Invite
	err := s.s.transaction(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("workspace_id = ? AND id = ? AND accepted_at IS NULL", s.ws, id).Take(&inv).Error; err != nil {
			return notFound(err)
		}
		return tx.Where("workspace_id = ? AND id = ?", s.ws, id).Delete(&Invite{}).Error
	})
	return inv, err
}

// InviteByTokenHash finds the invite of a link (the link is what tells
// which workspace it is for). It returns ErrInviteUsed or ErrInviteExpired
// with the invite when it cannot be accepted any more.
func (s *Store) InviteByTokenHash(ctx context.Context, hash string, now time.Time) (Invite, error) {
	var inv Invite
	if err := s.db.WithContext(ctx).Where("token_hash = ?", hash).Take(&inv).Error; err != nil {
		return inv, notFound(err)
	}
	return inv, inv.usable(now)
}

func (inv Invite) usable(now time.Time) error {
	if inv.AcceptedAt != nil {
		return ErrInviteUsed
	}
	if !now.Before(inv.ExpiresAt) {
		return ErrInviteExpired
	}
	return nil
}

// AcceptInvite uses the invite of a link once: in one transaction it marks
// the invite accepted (a compare-and-set, so two concurrent accepts cannot
// both win) and creates the agent with the invite's workspace, email and
// role. It returns ErrNotFound, ErrInviteUsed, ErrInviteExpired, or
// ErrConflict when the email became an agent meanwhile.
func (s *Store) AcceptInvite(ctx context.Context, hash string, a Agent, now time.Time) (Agent, Invite, error) {
	var inv Invite
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("token_hash = ?", hash).Take(&inv).Error; err != nil {
			return notFound(err)
		}
		if err := inv.usable(now); err != nil {
			return err
		}
		res := tx.Model(&Invite{}).Where("id = ? AND accepted_at IS NULL", inv.ID).
			Updates(map[string]any{"accepted_at": now, "agent_id": a.ID})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrInviteUsed
		}
		a.WorkspaceID, a.Email, a.Role = inv.WorkspaceID, inv.Email, inv.Role
		if err := tx.Create(&a).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return ErrConflict
			}
			return err
		}
		return nil
	})
	return a, inv, err
}

// Audit appends an entry to the workspace's audit log.
func (s *Scoped) Audit(ctx context.Context, e AuditEntry) error {
	e.ID = 0
	e.WorkspaceID = s.ws
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now().UTC()
	}
	e.ActorName, e.Target, e.IP = Truncate(e.ActorName, 200), Truncate(e.Target, 200), Truncate(e.IP, 64)
	return s.s.db.WithContext(ctx).Create(&e).Error
}

// AuditEntries lists up to limit entries, newest first, older than the
// entry before (0: from the newest). Pages follow by passing the last id.
func (s *Scoped) AuditEntries(ctx context.Context, before int64, limit int) ([]AuditEntry, error) {
	q := s.q(ctx)
	if before > 0 {
		q = q.Where("id < ?", before)
	}
	var out []AuditEntry
	return out, q.Order("id DESC").Limit(limit).Find(&out).Error
}

// SetSiteSecret replaces a site's identity verification secret.
func (s *Scoped) SetSiteSecret(ctx context.Context, id, secret string) error {
	sealed, err := s.s.seal(secret, siteSecretAAD(id))
	if err != nil {
		return err
	}
	res := s.q(ctx).Model(&Site{}).Where("id = ?", id).Update("secret", sealed)
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}

// RefreshRules bound refresh secrets: a secret lives MaxAge after its
// rotation; the one it replaced is still accepted for Grace.
type RefreshRules struct {
	MaxAge, Grace time.Duration
}

// RotateVisitorRefresh exchanges a visitor's refresh secret (its hash,
// presented) for a new one (newHash), once: the current secret within
// MaxAge, or the previous one within Grace of the rotation. It returns
// ErrNotFound when the visitor is not the workspace's or the secret does
// not match (or is too old). A visitor without any secret yet (created
// before refresh secrets existed) gets newHash when presented is empty.
func (s *Scoped) RotateVisitorRefresh(ctx context.Context, visitorID, presented, newHash string, now time.Time, r RefreshRules) error {
	// Two attempts: a concurrent rotation may change the row between the
	// read and the compare-and-set; the second read sees it.
	for attempt := 0; attempt < 2; attempt++ {
		v, err := s.Visitor(ctx, visitorID)
		if err != nil {
			return err
		}
		ok := false
		switch {
		case v.RefreshHash == "":
			ok = presented == ""
		case presented == "":
		case presented == v.RefreshHash:
			ok = v.RefreshedAt != nil && now.Before(v.RefreshedAt.Add(r.MaxAge))
		case presented == v.PrevRefreshHash:
			ok = v.RefreshedAt != nil && now.Before(v.RefreshedAt.Add(r.Grace))
		}
		if !ok {
			return ErrNotFound
		}
		res := s.q(ctx).Model(&Visitor{}).Where("id = ? AND refresh_hash = ?", visitorID, v.RefreshHash).
			Updates(map[string]any{"refresh_hash": newHash, "prev_refresh_hash": v.RefreshHash, "refreshed_at": now, "last_seen_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 1 {
			return nil
		}
	}
	return ErrNotFound
}
