package store

import (
	"context"

	"gorm.io/gorm"
)

// 2026112505_routing_rules: each site's entry rules (page URL rules and
// pre-chat choices) and the page a visitor's widget was last opened on.
type (
	v5Site struct {
		PageRules      string `gorm:"type:text;not null;default:''"`
		PrechatChoices string `gorm:"type:text;not null;default:''"`
	}
	v5Visitor struct {
		PageURL string `gorm:"size:1000;not null;default:''"`
	}
)

func (v5Site) TableName() string    { return "sites" }
func (v5Visitor) TableName() string { return "visitors" }

func migrateRoutingRules(tx *gorm.DB) error {
	m := tx.Migrator()
	for _, f := range []string{"PageRules", "PrechatChoices"} {
		if err := m.AddColumn(&v5Site{}, f); err != nil {
			return err
		}
	}
	return m.AddColumn(&v5Visitor{}, "PageURL")
}

// SiteEntry is a site's entry rules as stored (JSON; see Site).
type SiteEntry struct {
	PageRules      string
	PrechatChoices string
}

// UpdateSiteEntry replaces a site's page rules and pre-chat choices.
func (s *Scoped) UpdateSiteEntry(ctx context.Context, id string, e SiteEntry) error {
	res := s.q(ctx).Model(&Site{}).Where("id = ?", id).
		Updates(map[string]any{"page_rules": e.PageRules, "prechat_choices": e.PrechatChoices})
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}

// SetVisitorPage records the page the visitor's widget was opened on.
func (s *Scoped) SetVisitorPage(ctx context.Context, id, pageURL string) error {
	return s.q(ctx).Model(&Visitor{}).Where("id = ?", id).Update("page_url", Truncate(pageURL, 1000)).Error
}
