package store

import (
	"context"

	"gorm.io/gorm"
)

// The schema change of 2026112506_calls: a site says whether its visitors
// may start voice calls (agents always may; see pkg/service/call.go).
type v6Site struct {
	VisitorCalls bool `gorm:"not null;default:false"`
}

func (v6Site) TableName() string { return "sites" }

func migrateCalls(tx *gorm.DB) error {
	return tx.Migrator().AddColumn(&v6Site{}, "VisitorCalls")
}

// SetSiteVisitorCalls sets whether the site's visitors may start voice
// calls.
func (s *Scoped) SetSiteVisitorCalls(ctx context.Context, id string, allowed bool) error {
	res := s.q(ctx).Model(&Site{}).Where("id = ?", id).Update("visitor_calls", allowed)
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}
