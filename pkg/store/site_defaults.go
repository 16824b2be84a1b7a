package store

import "gorm.io/gorm"

// DefaultRelaxAfter is a new site's relaxation steps, in seconds: after a
// minute in queue any agent of the team who speaks the language, after two
// any language (with translation), after five any agent. A site that never
// relaxes leaves a visitor nobody exactly fits with the offline form while
// agents sit idle, so relaxing is the default and "never" an admin's
// choice (an empty list, stored by UpdateSiteRouting).
const DefaultRelaxAfter = "60,120,300"

// BeforeCreate gives a new site the default routing settings it was
// created without, whichever path creates it (first run, the dashboard).
func (s *Site) BeforeCreate(*gorm.DB) error {
	if s.RelaxAfter == "" {
		s.RelaxAfter = DefaultRelaxAfter
	}
	return nil
}

// 2026120704_routing_relax_defaults: sites stored before relaxing was the
// default had an empty list, which meant "never" only because nobody had
// chosen otherwise; they get the default steps. The value is frozen here
// (not DefaultRelaxAfter), as every migration is.
func migrateRelaxDefaults(tx *gorm.DB) error {
	return tx.Exec("UPDATE sites SET relax_after = '60,120,300' WHERE relax_after = ''").Error
}
