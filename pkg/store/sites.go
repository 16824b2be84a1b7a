package store

import (
	"context"

	"gorm.io/gorm"
)

// The schema change of 2026120703_sites_widget_look: a site's widget look.
type v10Site struct {
	WidgetTitle      string `gorm:"size:60;not null;default:''"`
	WidgetGreeting   string `gorm:"size:300;not null;default:''"`
	AccentColor      string `gorm:"size:7;not null;default:''"`
	LauncherPosition string `gorm:"size:10;not null;default:'right'"`
	ShowAvatars      bool   `gorm:"not null;default:true"`
}

func (v10Site) TableName() string { return "sites" }

func migrateWidgetLook(tx *gorm.DB) error {
	for _, f := range []string{"WidgetTitle", "WidgetGreeting", "AccentColor", "LauncherPosition", "ShowAvatars"} {
		if err := tx.Migrator().AddColumn(&v10Site{}, f); err != nil {
			return err
		}
	}
	return nil
}

// SiteSettings are what an admin sets on a site apart from its routing
// (UpdateSiteRouting) and its identity secret (SetSiteSecret).
type SiteSettings struct {
	Name             string
	AllowedOrigins   string // space-separated, checked by the caller
	IdentityRequired bool
	VisitorCalls     bool
	WidgetTitle      string
	WidgetGreeting   string
	AccentColor      string
	LauncherPosition string
	ShowAvatars      bool
	Language         string // "" or a widget language, checked by the caller
	PrechatFields    string // JSON, checked by the caller (prechat_fields.go)
	AttachMaxBytes   int64  // 0: the default (attachments.go)
	AttachTypes      string // space-separated MIME types, checked by the caller
	// ConversionWindowHours (conversions.go), checked by the caller.
	ConversionWindowHours int
}

// Settings returns the site's settings as UpdateSiteSettings takes them.
func (s Site) Settings() SiteSettings {
	return SiteSettings{Name: s.Name, AllowedOrigins: s.AllowedOrigins, IdentityRequired: s.IdentityRequired,
		VisitorCalls: s.VisitorCalls, WidgetTitle: s.WidgetTitle, WidgetGreeting: s.WidgetGreeting,
		AccentColor: s.AccentColor, LauncherPosition: s.LauncherPosition, ShowAvatars: s.ShowAvatars,
		Language: s.Language, PrechatFields: s.PrechatFields, AttachMaxBytes: s.AttachMaxBytes, AttachTypes: s.AttachTypes,
		ConversionWindowHours: s.ConversionWindowHours}
}

// CreateSite stores a new site of the workspace; its secret is sealed.
func (s *Scoped) CreateSite(ctx context.Context, site Site) error {
	site.WorkspaceID = s.ws
	var err error
	if site.Secret, err = s.s.seal(site.Secret, siteSecretAAD(site.ID)); err != nil {
		return err
	}
	// Select("*") writes the zero values too (ShowAvatars=false must not
	// fall back to the column's default); the routing columns are left to
	// their defaults, the same a workspace's first site gets (RelaxAfter's
	// is set by Site.BeforeCreate, site_defaults.go).
	return s.s.db.WithContext(ctx).Select("*").
		Omit("RoutingMode", "OfferTimeoutSeconds", "MaxMisses", "BusinessHours", "TimeZone", "PageRules", "PrechatChoices").
		Create(&site).Error
}

// UpdateSiteSettings replaces a site's settings.
func (s *Scoped) UpdateSiteSettings(ctx context.Context, id string, st SiteSettings) error {
	res := s.q(ctx).Model(&Site{}).Where("id = ?", id).Updates(map[string]any{
		"name": st.Name, "allowed_origins": st.AllowedOrigins, "identity_required": st.IdentityRequired,
		"visitor_calls": st.VisitorCalls, "widget_title": st.WidgetTitle, "widget_greeting": st.WidgetGreeting,
		"accent_color": st.AccentColor, "launcher_position": st.LauncherPosition, "show_avatars": st.ShowAvatars,
		"language": st.Language, "prechat_fields": st.PrechatFields,
		"attach_max_bytes": st.AttachMaxBytes, "attach_types": st.AttachTypes,
		"conversion_window_hours": st.ConversionWindowHours,
	})
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}

// DeleteSite removes a site: its widget stops loading and its visitors
// cannot start new sessions. Its conversations, visitors and messages stay
// (agents keep the history). The workspace's last site is not deleted
// (ErrConflict): every workspace keeps one site to embed.
func (s *Scoped) DeleteSite(ctx context.Context, id string) error {
	return s.s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Site{}).Where("workspace_id = ?", s.ws).Count(&n).Error; err != nil {
			return err
		}
		res := tx.Where("workspace_id = ? AND id = ?", s.ws, id).Delete(&Site{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if n <= 1 {
			return ErrConflict // rolls the delete back
		}
		return nil
	})
}
