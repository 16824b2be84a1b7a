package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Two-factor sign-in (TOTP, pkg/auth/totp.go). An agent's TOTP secret is
// sealed at rest like sites' identity secrets: whoever reads the database
// must not be able to make the agent's codes. Recovery codes are kept only
// as SHA-256 hashes, one row each, deleted when used, so each works once.

// RecoveryCode is one unused recovery code of an agent (its hash).
type RecoveryCode struct {
	AgentID   string `gorm:"primaryKey;size:36"`
	Hash      string `gorm:"primaryKey;size:64"`
	CreatedAt time.Time
}

func totpSecretAAD(agentID string) []byte { return []byte("agent:" + agentID + ":totp") }

// ErrTOTPEnabled: the agent already has two-factor sign-in on.
var ErrTOTPEnabled = errors.New("two-factor sign-in is already on")

// The schema change of 2026120720_totp_two_factor.
type (
	v20Agent struct {
		TOTPSecret    string `gorm:"column:totp_secret;type:text;not null;default:''"`
		TOTPEnabledAt *time.Time
		TOTPLastStep  int64 `gorm:"column:totp_last_step;not null;default:0"`
	}
	v20Workspace struct {
		Require2FAForAdmins bool `gorm:"column:require_2fa_for_admins;not null;default:false"`
	}
	v20RecoveryCode struct {
		AgentID   string `gorm:"primaryKey;size:36"`
		Hash      string `gorm:"primaryKey;size:64"`
		CreatedAt time.Time
	}
)

func (v20Agent) TableName() string        { return "agents" }
func (v20Workspace) TableName() string    { return "workspaces" }
func (v20RecoveryCode) TableName() string { return "recovery_codes" }

func migrateTOTP(tx *gorm.DB) error {
	for _, col := range []string{"TOTPSecret", "TOTPEnabledAt", "TOTPLastStep"} {
		if err := tx.Migrator().AddColumn(&v20Agent{}, col); err != nil {
			return err
		}
	}
	if err := tx.Migrator().AddColumn(&v20Workspace{}, "Require2FAForAdmins"); err != nil {
		return err
	}
	return tx.Migrator().CreateTable(&v20RecoveryCode{})
}

// StartTOTP stores a new secret for an agent enrolling in two-factor
// sign-in, replacing an unconfirmed one; ErrTOTPEnabled when it is on
// already (turning it off first needs a code or the password).
func (s *Scoped) StartTOTP(ctx context.Context, agentID, secret string) error {
	sealed, err := s.s.seal(secret, totpSecretAAD(agentID))
	if err != nil {
		return err
	}
	res := s.q(ctx).Model(&Agent{}).Where("id = ? AND totp_enabled_at IS NULL", agentID).Update("totp_secret", sealed)
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrTOTPEnabled
	}
	return res.Error
}

// TOTPSecret is the agent's secret, enrolled or being enrolled ("": none).
func (s *Scoped) TOTPSecret(ctx context.Context, agentID string) (string, error) {
	var a Agent
	if err := s.q(ctx).Select("id", "totp_secret").Where("id = ?", agentID).Take(&a).Error; err != nil {
		return "", notFound(err)
	}
	return s.s.open(a.TOTPSecret, totpSecretAAD(agentID))
}

// EnableTOTP turns two-factor sign-in on once the agent proved a code of
// step, with these recovery code hashes (any older ones are dropped).
// ErrTOTPEnabled when it was on already (two confirmations racing).
func (s *Scoped) EnableTOTP(ctx context.Context, agentID string, step int64, hashes []string, now time.Time) error {
	return s.s.transaction(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Agent{}).Where("workspace_id = ? AND id = ? AND totp_enabled_at IS NULL AND totp_secret <> ''", s.ws, agentID).
			Updates(map[string]any{"totp_enabled_at": now, "totp_last_step": step})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrTOTPEnabled
		}
		if err := tx.Where("agent_id = ?", agentID).Delete(&RecoveryCode{}).Error; err != nil {
			return err
		}
		codes := make([]RecoveryCode, len(hashes))
		for i, h := range hashes {
			codes[i] = RecoveryCode{AgentID: agentID, Hash: h, CreatedAt: now}
		}
		return tx.Create(&codes).Error
	})
}

// UseTOTPStep records that the agent signed in with the code of step; false
// when that step (or a later one) was used already, so a code seen over a
// shoulder or in a log cannot be replayed within its window.
func (s *Scoped) UseTOTPStep(ctx context.Context, agentID string, step int64) (bool, error) {
	res := s.q(ctx).Model(&Agent{}).Where("id = ? AND totp_last_step < ?", agentID, step).Update("totp_last_step", step)
	return res.RowsAffected == 1, res.Error
}

// UseRecoveryCode spends one of the agent's recovery codes (by hash);
// false when it is not one, or was used already.
func (s *Scoped) UseRecoveryCode(ctx context.Context, agentID, hash string) (bool, error) {
	if _, err := s.Agent(ctx, agentID); err != nil { // the agent is this workspace's
		return false, err
	}
	res := s.s.db.WithContext(ctx).Where("agent_id = ? AND hash = ?", agentID, hash).Delete(&RecoveryCode{})
	return res.RowsAffected == 1, res.Error
}

// RecoveryCodesLeft counts the agent's unused recovery codes.
func (s *Scoped) RecoveryCodesLeft(ctx context.Context, agentID string) (int64, error) {
	var n int64
	err := s.s.db.WithContext(ctx).Model(&RecoveryCode{}).
		Where("agent_id = ? AND agent_id IN (?)", agentID, s.q(ctx).Model(&Agent{}).Select("id")).Count(&n).Error
	return n, err
}

// DisableTOTP turns the agent's two-factor sign-in off and forgets its
// secret and recovery codes.
func (s *Scoped) DisableTOTP(ctx context.Context, agentID string) error {
	return s.s.transaction(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Agent{}).Where("workspace_id = ? AND id = ?", s.ws, agentID).
			Updates(map[string]any{"totp_secret": "", "totp_enabled_at": nil})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return tx.Where("agent_id = ?", agentID).Delete(&RecoveryCode{}).Error
	})
}

// SetRequire2FAForAdmins sets whether the workspace's admins must use
// two-factor sign-in.
func (s *Scoped) SetRequire2FAForAdmins(ctx context.Context, on bool) error {
	return s.s.db.WithContext(ctx).Model(&Workspace{}).Where("id = ?", s.ws).Update("require_2fa_for_admins", on).Error
}
