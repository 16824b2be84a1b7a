package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Agent administration: roles, disabling (deactivation) and last seen.
//
// A disabled agent keeps its row, so every message it wrote keeps its
// author; it has no session and cannot sign in until re-enabled. A
// workspace always keeps one enabled admin: demoting or disabling the last
// one is refused with ErrLastAdmin.

// ErrLastAdmin: the change would leave the workspace without an enabled
// admin.
var ErrLastAdmin = errors.New("the workspace's last admin cannot be demoted or disabled")

// The schema change of 2026112509_agent_admin: when an agent was disabled
// (NULL: enabled) and when it last signed in or connected.
type v9Agent struct {
	DisabledAt *time.Time
	LastSeenAt *time.Time
}

func (v9Agent) TableName() string { return "agents" }

func migrateAgentAdmin(tx *gorm.DB) error {
	for _, col := range []string{"DisabledAt", "LastSeenAt"} {
		if err := tx.Migrator().AddColumn(&v9Agent{}, col); err != nil {
			return err
		}
	}
	return nil
}

// adminChange runs fn on the agent in a transaction that serialises every
// change to the workspace's admins (the workspace row is locked on
// PostgreSQL; SQLite has one writer), so two admins demoting each other at
// once cannot both succeed. keepsAdmin says whether the agent stays an
// enabled admin after fn; if it was one and does not stay one, another
// enabled admin must exist.
func (s *Scoped) adminChange(ctx context.Context, id string, keepsAdmin func(Agent) bool, fn func(tx *gorm.DB, a Agent) error) (Agent, error) {
	var out Agent
	err := s.s.transaction(ctx, func(tx *gorm.DB) error {
		lock := tx.Model(&Workspace{}).Where("id = ?", s.ws)
		if s.s.dialect == "postgres" {
			lock = lock.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		var ids []string
		if err := lock.Pluck("id", &ids).Error; err != nil {
			return err
		}
		var a Agent
		if err := tx.Where("workspace_id = ? AND id = ?", s.ws, id).Take(&a).Error; err != nil {
			return notFound(err)
		}
		if a.Role == "admin" && a.DisabledAt == nil && !keepsAdmin(a) {
			var others int64
			if err := tx.Model(&Agent{}).Where("workspace_id = ? AND role = ? AND disabled_at IS NULL AND id <> ?", s.ws, "admin", id).
				Count(&others).Error; err != nil {
				return err
			}
			if others == 0 {
				return ErrLastAdmin
			}
		}
		if err := fn(tx, a); err != nil {
			return err
		}
		return notFound(tx.Where("workspace_id = ? AND id = ?", s.ws, id).Take(&out).Error)
	})
	return out, err
}

// SetAgentRole changes an agent's role (admin, supervisor or agent; the
// caller checks the value). It returns the agent as stored after.
func (s *Scoped) SetAgentRole(ctx context.Context, id, role string) (Agent, error) {
	return s.adminChange(ctx, id, func(Agent) bool { return role == "admin" }, func(tx *gorm.DB, a Agent) error {
		if a.Role == role {
			return nil
		}
		return tx.Model(&Agent{}).Where("workspace_id = ? AND id = ?", s.ws, id).Update("role", role).Error
	})
}

// DisableAgent disables an agent and ends all its sessions, in one
// transaction: its chosen status becomes offline, so routing hands its
// conversations back (the caller tells routing). It returns the agent and
// how many sessions ended. Disabling a disabled agent changes nothing.
func (s *Scoped) DisableAgent(ctx context.Context, id string, now time.Time) (Agent, int64, error) {
	var ended int64
	a, err := s.adminChange(ctx, id, func(Agent) bool { return false }, func(tx *gorm.DB, a Agent) error {
		if a.DisabledAt == nil {
			if err := tx.Model(&Agent{}).Where("workspace_id = ? AND id = ?", s.ws, id).
				Updates(map[string]any{"disabled_at": now, "status": StatusOffline}).Error; err != nil {
				return err
			}
		}
		res := tx.Where("workspace_id = ? AND agent_id = ?", s.ws, id).Delete(&Session{})
		ended = res.RowsAffected
		return res.Error
	})
	return a, ended, err
}

// EnableAgent lets a disabled agent sign in again. It comes back away: it
// takes conversations once it chooses to be online.
func (s *Scoped) EnableAgent(ctx context.Context, id string) (Agent, error) {
	return s.adminChange(ctx, id, func(Agent) bool { return true }, func(tx *gorm.DB, a Agent) error {
		if a.DisabledAt == nil {
			return nil
		}
		return tx.Model(&Agent{}).Where("workspace_id = ? AND id = ?", s.ws, id).
			Updates(map[string]any{"disabled_at": nil, "status": "away"}).Error
	})
}

// touchBatch caps the ids of one TouchAgentsSeen statement.
const touchBatch = 500

// TouchAgentsSeen records that these agents were seen (signed in, or a
// socket of theirs opened or closed) at `at`. The ids are of any workspace:
// they come from the agents' own sessions, batched by the caller.
func (s *Store) TouchAgentsSeen(ctx context.Context, ids []string, at time.Time) error {
	for len(ids) > 0 {
		n := min(len(ids), touchBatch)
		// plain: the IN list's length varies, so its text would fill the
		// statement cache.
		if err := s.plain.WithContext(ctx).Model(&Agent{}).Where("id IN ?", ids[:n]).Update("last_seen_at", at).Error; err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// LiveSessions returns which of the given session hashes are sessions of
// the workspace that have not expired: a node that may have missed a sign
// out checks the sessions its live sockets were opened with.
func (s *Scoped) LiveSessions(ctx context.Context, hashes []string, now time.Time) (map[string]bool, error) {
	out := map[string]bool{}
	if len(hashes) == 0 {
		return out, nil
	}
	var live []string
	if err := s.q(ctx).Model(&Session{}).Where("token_hash IN ? AND expires_at > ?", hashes, now).Pluck("token_hash", &live).Error; err != nil {
		return nil, err
	}
	for _, h := range live {
		out[h] = true
	}
	return out, nil
}
