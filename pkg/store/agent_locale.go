package store

import (
	"context"

	"gorm.io/gorm"
)

// The dashboard's language is the agent's own setting, kept with the
// agent so it follows them between browsers (PUT /api/me/locale).

// SetAgentLocale stores the dashboard language an agent chose ("": follow
// the browser). The caller checks the tag is one the dashboard speaks.
func (s *Scoped) SetAgentLocale(ctx context.Context, id, locale string) error {
	res := s.q(ctx).Model(&Agent{}).Where("id = ?", id).Update("locale", locale)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// The schema of 2026120891_i18n_agent_locale.
type v90Agent struct {
	Locale string `gorm:"size:20;not null;default:''"`
}

func (v90Agent) TableName() string { return "agents" }

func migrateAgentLocale(tx *gorm.DB) error { return tx.Migrator().AddColumn(&v90Agent{}, "Locale") }
