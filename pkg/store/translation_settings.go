package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// TranslationSettings is a site's choice of auto-translation provider
// (pkg/conversation/translate.go). A site without a row translates as
// before there was a choice: Apertium where installed, then the site
// assistant's OpenAI-compatible endpoint (TranslateDefault).
type TranslationSettings struct {
	SiteID      string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index"`
	Provider    string `gorm:"size:20;not null;default:'default'"`
	URL         string `gorm:"type:text;not null;default:''"`
	Model       string `gorm:"size:200;not null;default:''"`
	APIKey      string `gorm:"type:text;not null;default:''"` // sealed
	UpdatedAt   time.Time
}

// Translation providers a site may choose.
const (
	TranslateDefault  = "default"  // Apertium, then the assistant's endpoint
	TranslateOff      = "off"      // messages go through as written
	TranslateApertium = "apertium" // the built-in, offline one only
	TranslateOpenAI   = "openai"   // the site's own OpenAI-compatible endpoint
)

func translationKeyAAD(siteID string) []byte {
	return []byte("site:" + siteID + ":translation_key")
}

// The schema change of 2026120891_assist_translation_settings.
type v891TranslationSettings struct {
	SiteID      string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index"`
	Provider    string `gorm:"size:20;not null;default:'default'"`
	URL         string `gorm:"type:text;not null;default:''"`
	Model       string `gorm:"size:200;not null;default:''"`
	APIKey      string `gorm:"type:text;not null;default:''"`
	UpdatedAt   time.Time
}

func (v891TranslationSettings) TableName() string { return "translation_settings" }

func migrateTranslationSettings(tx *gorm.DB) error {
	return tx.Migrator().CreateTable(&v891TranslationSettings{})
}

// TranslationSettings returns a site's translation settings, the API key
// opened; the default ones when the site never set any. The site must be
// the workspace's.
func (s *Scoped) TranslationSettings(ctx context.Context, siteID string) (TranslationSettings, error) {
	if _, err := s.Site(ctx, siteID); err != nil {
		return TranslationSettings{}, err
	}
	var t TranslationSettings
	err := s.q(ctx).Where("site_id = ?", siteID).Take(&t).Error
	if err == gorm.ErrRecordNotFound {
		return TranslationSettings{SiteID: siteID, WorkspaceID: s.ws, Provider: TranslateDefault}, nil
	}
	if err != nil {
		return t, err
	}
	t.APIKey, err = s.s.open(t.APIKey, translationKeyAAD(siteID))
	return t, err
}

// SetTranslationSettings stores a site's translation settings, the API key
// sealed. The site must be the workspace's.
func (s *Scoped) SetTranslationSettings(ctx context.Context, t TranslationSettings) error {
	if _, err := s.Site(ctx, t.SiteID); err != nil {
		return err
	}
	t.WorkspaceID = s.ws
	t.UpdatedAt = time.Now().UTC()
	sealed, err := s.s.seal(t.APIKey, translationKeyAAD(t.SiteID))
	if err != nil {
		return err
	}
	t.APIKey = sealed
	return s.s.db.WithContext(ctx).Save(&t).Error
}
