package store

import "gorm.io/gorm"

// The schema change of 2026120738_wui_site_language: the language a site's
// widget speaks. Empty means the visitor's (the host page's boot option,
// then the browser's); otherwise one of the widget's languages (en, es,
// fr, de, pt, ar), checked by the API.
type v38Site struct {
	Language string `gorm:"size:10;not null;default:''"`
}

func (v38Site) TableName() string { return "sites" }

func migrateSiteLanguage(tx *gorm.DB) error {
	return tx.Migrator().AddColumn(&v38Site{}, "Language")
}
