package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// What a visitor does on the site beyond chatting, as the widget reports it
// (issue 16): the pages they browse (the page trail), the events the host
// page tracks (conversions), the typed attributes it sets, and the
// proactive triggers shown to them. All of it is per visitor and
// workspace-scoped; URLs, titles, referrers, event properties and attribute
// values are sealed, since a host page may put anything personal in them.

// SiteProactive is a site's page trail and proactive trigger settings. A
// site without a row has the defaults (DefaultProactive).
type SiteProactive struct {
	SiteID      string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index"`
	// PageTrail: the widget reports the pages visitors browse.
	PageTrail bool `gorm:"not null;default:false"`
	// RespectDNT: browsers that send Do-Not-Track report no pages.
	RespectDNT bool `gorm:"column:respect_dnt;not null;default:true"`
	// TriggerLimit is how many proactive messages one visitor is ever
	// shown on this site.
	TriggerLimit int `gorm:"not null;default:1"`
	// Triggers is the JSON list of Trigger.
	Triggers  string `gorm:"type:text;not null;default:''"`
	UpdatedAt time.Time
}

// TableName keeps the table's name singular: one row per site.
func (SiteProactive) TableName() string { return "site_proactive" }

// DefaultProactive is a site's setting before its admin changed it: no
// page trail, Do-Not-Track respected, at most one proactive message.
func DefaultProactive(siteID string) SiteProactive {
	return SiteProactive{SiteID: siteID, RespectDNT: true, TriggerLimit: 1}
}

// Trigger is one proactive message: when it fires (Kind, with its
// threshold, and optionally only on pages whose URL contains URLContains)
// and what it says, from whom (an agent, or the assistant when AgentID is
// empty).
type Trigger struct {
	ID            string `json:"id"`
	Kind          string `json:"kind"` // time, url, scroll, exit, returning
	Seconds       int    `json:"seconds,omitempty"`
	ScrollPercent int    `json:"scroll_percent,omitempty"`
	URLContains   string `json:"url_contains,omitempty"`
	Message       string `json:"message"`
	AgentID       string `json:"agent_id,omitempty"`
}

// ParseTriggers reads SiteProactive.Triggers.
func (p SiteProactive) ParseTriggers() []Trigger {
	var ts []Trigger
	if p.Triggers != "" {
		_ = json.Unmarshal([]byte(p.Triggers), &ts) // written by SetProactive only
	}
	return ts
}

// VisitorPage is one page view of a visitor. ID is the widget's own id for
// the view, so a view reported again (its time on page grew, or a batch was
// resent) updates its row.
type VisitorPage struct {
	VisitorID   string    `gorm:"primaryKey;size:36;index:idx_visitor_pages_started,priority:1"`
	ID          string    `gorm:"primaryKey;size:36"`
	WorkspaceID string    `gorm:"size:36;not null;index"`
	SiteID      string    `gorm:"size:36;not null"`
	StartedAt   time.Time `gorm:"index:idx_visitor_pages_started,priority:2"`
	URL         string    `gorm:"type:text;not null"`            // sealed
	Title       string    `gorm:"type:text;not null;default:''"` // sealed
	Referrer    string    `gorm:"type:text;not null;default:''"` // sealed
	UTMSource   string    `gorm:"size:200;not null;default:''"`
	UTMMedium   string    `gorm:"size:200;not null;default:''"`
	UTMCampaign string    `gorm:"size:200;not null;default:''"`
	UTMTerm     string    `gorm:"size:200;not null;default:''"`
	UTMContent  string    `gorm:"size:200;not null;default:''"`
	Seconds     int       `gorm:"not null;default:0"`
	// Ended: the visitor left the page (the widget said so on hide).
	Ended bool `gorm:"not null;default:false"`
	// UpdatedAt is when the widget last reported the view.
	UpdatedAt time.Time
}

// VisitorEvent is one event the host page tracked (Parley('track')).
type VisitorEvent struct {
	ID          int64  `gorm:"primaryKey;autoIncrement"`
	WorkspaceID string `gorm:"size:36;not null;index"`
	SiteID      string `gorm:"size:36;not null"`
	VisitorID   string `gorm:"size:36;not null;index"`
	Name        string `gorm:"size:100;not null;index"`
	Props       string `gorm:"type:text;not null;default:''"` // sealed JSON object
	CreatedAt   time.Time
}

// VisitorAttributes are a visitor's custom attributes (Parley('setAttributes')),
// one sealed JSON object per visitor.
type VisitorAttributes struct {
	VisitorID   string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index"`
	Data        string `gorm:"type:text;not null;default:''"` // sealed JSON
	UpdatedAt   time.Time
}

// TriggerFire records that a trigger was shown to a visitor: once each,
// and at most the site's limit in all.
type TriggerFire struct {
	VisitorID   string `gorm:"primaryKey;size:36"`
	TriggerID   string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index"`
	FiredAt     time.Time
}

// Attribute is one typed custom attribute value: Type is string, number,
// boolean or date; Value is a string, a float64, a bool or an RFC 3339 time
// in UTC as a string.
type Attribute struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

func pageAAD(visitorID, id, field string) []byte {
	return []byte("page:" + visitorID + ":" + id + ":" + field)
}
func eventAAD(visitorID string) []byte      { return []byte("event:" + visitorID + ":props") }
func attributesAAD(visitorID string) []byte { return []byte("visitor:" + visitorID + ":attributes") }

// MaxPagesPerVisitor bounds the trail kept per visitor: older views go.
const MaxPagesPerVisitor = 500

// The schema of 2026120734_wapi_visitor_activity.
type (
	v34SiteProactive struct {
		SiteID       string `gorm:"primaryKey;size:36"`
		WorkspaceID  string `gorm:"size:36;not null;index"`
		PageTrail    bool   `gorm:"not null;default:false"`
		RespectDNT   bool   `gorm:"column:respect_dnt;not null;default:true"`
		TriggerLimit int    `gorm:"not null;default:1"`
		Triggers     string `gorm:"type:text;not null;default:''"`
		UpdatedAt    time.Time
	}
	v34VisitorPage struct {
		VisitorID   string    `gorm:"primaryKey;size:36;index:idx_visitor_pages_started,priority:1"`
		ID          string    `gorm:"primaryKey;size:36"`
		WorkspaceID string    `gorm:"size:36;not null;index"`
		SiteID      string    `gorm:"size:36;not null"`
		StartedAt   time.Time `gorm:"index:idx_visitor_pages_started,priority:2"`
		URL         string    `gorm:"type:text;not null"`
		Title       string    `gorm:"type:text;not null;default:''"`
		Referrer    string    `gorm:"type:text;not null;default:''"`
		UTMSource   string    `gorm:"size:200;not null;default:''"`
		UTMMedium   string    `gorm:"size:200;not null;default:''"`
		UTMCampaign string    `gorm:"size:200;not null;default:''"`
		UTMTerm     string    `gorm:"size:200;not null;default:''"`
		UTMContent  string    `gorm:"size:200;not null;default:''"`
		Seconds     int       `gorm:"not null;default:0"`
		Ended       bool      `gorm:"not null;default:false"`
		UpdatedAt   time.Time
	}
	v34VisitorEvent struct {
		ID          int64  `gorm:"primaryKey;autoIncrement"`
		WorkspaceID string `gorm:"size:36;not null;index"`
		SiteID      string `gorm:"size:36;not null"`
		VisitorID   string `gorm:"size:36;not null;index"`
		Name        string `gorm:"size:100;not null;index"`
		Props       string `gorm:"type:text;not null;default:''"`
		CreatedAt   time.Time
	}
	v34VisitorAttributes struct {
		VisitorID   string `gorm:"primaryKey;size:36"`
		WorkspaceID string `gorm:"size:36;not null;index"`
		Data        string `gorm:"type:text;not null;default:''"`
		UpdatedAt   time.Time
	}
	v34TriggerFire struct {
		VisitorID   string `gorm:"primaryKey;size:36"`
		TriggerID   string `gorm:"primaryKey;size:36"`
		WorkspaceID string `gorm:"size:36;not null;index"`
		FiredAt     time.Time
	}
)

func (v34SiteProactive) TableName() string     { return "site_proactive" }
func (v34VisitorPage) TableName() string       { return "visitor_pages" }
func (v34VisitorEvent) TableName() string      { return "visitor_events" }
func (v34VisitorAttributes) TableName() string { return "visitor_attributes" }
func (v34TriggerFire) TableName() string       { return "trigger_fires" }

func migrateVisitorActivity(tx *gorm.DB) error {
	return tx.Migrator().CreateTable(&v34SiteProactive{}, &v34VisitorPage{}, &v34VisitorEvent{}, &v34VisitorAttributes{}, &v34TriggerFire{})
}

// Proactive returns a site's page trail and trigger settings (the defaults
// when never set); ErrNotFound when the site is not this workspace's.
func (s *Scoped) Proactive(ctx context.Context, siteID string) (SiteProactive, error) {
	if _, err := s.Site(ctx, siteID); err != nil {
		return SiteProactive{}, err
	}
	var p SiteProactive
	err := s.q(ctx).Where("site_id = ?", siteID).Take(&p).Error
	if err == gorm.ErrRecordNotFound {
		return DefaultProactive(siteID), nil
	}
	return p, err
}

// SetProactive replaces a site's page trail and trigger settings.
func (s *Scoped) SetProactive(ctx context.Context, p SiteProactive, triggers []Trigger, now time.Time) error {
	if _, err := s.Site(ctx, p.SiteID); err != nil {
		return err
	}
	b, err := json.Marshal(triggers)
	if err != nil {
		return err
	}
	p.WorkspaceID, p.Triggers, p.UpdatedAt = s.ws, string(b), now
	return s.s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "site_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"page_trail", "respect_dnt", "trigger_limit", "triggers", "updated_at"}),
	}).Create(&p).Error
}

// RecordPages stores a visitor's page views, new or updated (by the
// visitor's view id), and drops the oldest beyond MaxPagesPerVisitor.
func (s *Scoped) RecordPages(ctx context.Context, visitorID, siteID string, views []VisitorPage) error {
	rows := make([]VisitorPage, 0, len(views))
	for _, v := range views {
		v.VisitorID, v.WorkspaceID, v.SiteID = visitorID, s.ws, siteID
		var err error
		for _, f := range []struct {
			v     *string
			field string
		}{{&v.URL, "url"}, {&v.Title, "title"}, {&v.Referrer, "referrer"}} {
			if *f.v == "" {
				continue
			}
			if *f.v, err = s.s.seal(*f.v, pageAAD(visitorID, v.ID, f.field)); err != nil {
				return err
			}
		}
		rows = append(rows, v)
	}
	if len(rows) == 0 {
		return nil
	}
	return s.s.transaction(ctx, func(tx *gorm.DB) error {
		// A resent or updated view keeps its start and page; its time on
		// page, title and whether it was left change. Another visitor's
		// view id (the key includes the visitor) is a different row.
		if err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "visitor_id"}, {Name: "id"}},
			DoUpdates: clause.AssignmentColumns([]string{"title", "seconds", "ended", "updated_at"}),
		}).Create(&rows).Error; err != nil {
			return err
		}
		var cut []time.Time
		if err := tx.Model(&VisitorPage{}).Where("workspace_id = ? AND visitor_id = ?", s.ws, visitorID).
			Order("started_at DESC").Offset(MaxPagesPerVisitor).Limit(1).Pluck("started_at", &cut).Error; err != nil {
			return err
		}
		if len(cut) == 0 {
			return nil
		}
		return tx.Where("workspace_id = ? AND visitor_id = ? AND started_at <= ?", s.ws, visitorID, cut[0]).Delete(&VisitorPage{}).Error
	})
}

// VisitorPages lists up to limit of a visitor's page views, newest first;
// ErrNotFound when the visitor is not this workspace's.
func (s *Scoped) VisitorPages(ctx context.Context, visitorID string, limit int) ([]VisitorPage, error) {
	if _, err := s.Visitor(ctx, visitorID); err != nil {
		return nil, err
	}
	var ps []VisitorPage
	if err := s.q(ctx).Where("visitor_id = ?", visitorID).Order("started_at DESC, id").Limit(limit).Find(&ps).Error; err != nil {
		return nil, err
	}
	for i := range ps {
		p := &ps[i]
		for _, f := range []struct {
			v     *string
			field string
		}{{&p.URL, "url"}, {&p.Title, "title"}, {&p.Referrer, "referrer"}} {
			var err error
			if *f.v, err = s.s.open(*f.v, pageAAD(p.VisitorID, p.ID, f.field)); err != nil {
				return nil, err
			}
		}
	}
	return ps, nil
}

// AddVisitorEvent stores an event the host page tracked; props is a JSON
// object (sealed).
func (s *Scoped) AddVisitorEvent(ctx context.Context, e VisitorEvent) error {
	sealed, err := s.s.seal(e.Props, eventAAD(e.VisitorID))
	if err != nil {
		return err
	}
	e.ID, e.WorkspaceID, e.Props = 0, s.ws, sealed
	return s.s.db.WithContext(ctx).Create(&e).Error
}

// VisitorEvents lists up to limit of a visitor's tracked events, newest
// first; ErrNotFound when the visitor is not this workspace's.
func (s *Scoped) VisitorEvents(ctx context.Context, visitorID string, limit int) ([]VisitorEvent, error) {
	if _, err := s.Visitor(ctx, visitorID); err != nil {
		return nil, err
	}
	var es []VisitorEvent
	if err := s.q(ctx).Where("visitor_id = ?", visitorID).Order("id DESC").Limit(limit).Find(&es).Error; err != nil {
		return nil, err
	}
	for i := range es {
		var err error
		if es[i].Props, err = s.s.open(es[i].Props, eventAAD(visitorID)); err != nil {
			return nil, err
		}
	}
	return es, nil
}

// VisitorAttributesOf returns a visitor's custom attributes (none: an
// empty map); ErrNotFound when the visitor is not this workspace's.
func (s *Scoped) VisitorAttributesOf(ctx context.Context, visitorID string) (map[string]Attribute, error) {
	if _, err := s.Visitor(ctx, visitorID); err != nil {
		return nil, err
	}
	return s.attributes(s.s.db.WithContext(ctx), visitorID)
}

func (s *Scoped) attributes(db *gorm.DB, visitorID string) (map[string]Attribute, error) {
	out := map[string]Attribute{}
	var row VisitorAttributes
	err := db.Where("workspace_id = ? AND visitor_id = ?", s.ws, visitorID).Take(&row).Error
	if err == gorm.ErrRecordNotFound {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	plain, err := s.s.open(row.Data, attributesAAD(visitorID))
	if err != nil {
		return nil, err
	}
	if plain != "" {
		if err := json.Unmarshal([]byte(plain), &out); err != nil {
			return nil, fmt.Errorf("store: visitor %s attributes: %w", visitorID, err)
		}
	}
	return out, nil
}

// MergeVisitorAttributes sets some of a visitor's attributes (a nil Value
// removes one) and returns them all. More than max attributes in all is
// ErrConflict, and nothing changes.
func (s *Scoped) MergeVisitorAttributes(ctx context.Context, visitorID string, set map[string]*Attribute, max int, now time.Time) (map[string]Attribute, error) {
	var out map[string]Attribute
	err := s.s.transaction(ctx, func(tx *gorm.DB) error {
		cur, err := s.attributes(tx, visitorID)
		if err != nil {
			return err
		}
		for k, v := range set {
			if v == nil {
				delete(cur, k)
			} else {
				cur[k] = *v
			}
		}
		if len(cur) > max {
			return ErrConflict
		}
		b, _ := json.Marshal(cur)
		sealed, err := s.s.seal(string(b), attributesAAD(visitorID))
		if err != nil {
			return err
		}
		out = cur
		return tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "visitor_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"data", "updated_at"}),
		}).Create(&VisitorAttributes{VisitorID: visitorID, WorkspaceID: s.ws, Data: sealed, UpdatedAt: now}).Error
	})
	return out, err
}

// FireTrigger records that trigger is shown to the visitor, unless it was
// already or the visitor has seen limit triggers: it reports whether it
// may be shown. One statement checks and writes, so two tabs firing at
// once show it once and never go over the limit.
func (s *Scoped) FireTrigger(ctx context.Context, visitorID, triggerID string, limit int, now time.Time) (bool, error) {
	var fired bool
	err := s.s.transaction(ctx, func(tx *gorm.DB) error {
		if tx.Dialector.Name() == "postgres" {
			// Two tabs firing different triggers at once would both count
			// under the limit; the visitor's row serialises them.
			if err := tx.Exec("SELECT id FROM visitors WHERE id = ? FOR UPDATE", visitorID).Error; err != nil {
				return err
			}
		}
		res := tx.Exec(`INSERT INTO trigger_fires (visitor_id, trigger_id, workspace_id, fired_at)
			SELECT ?, ?, ?, ? WHERE (SELECT COUNT(*) FROM trigger_fires WHERE visitor_id = ?) < ?
			ON CONFLICT DO NOTHING`, visitorID, triggerID, s.ws, now, visitorID, limit)
		fired = res.RowsAffected == 1
		return res.Error
	})
	return fired, err
}

// TriggersFired lists the ids of the triggers a visitor was shown.
func (s *Scoped) TriggersFired(ctx context.Context, visitorID string) ([]string, error) {
	var ids []string
	return ids, s.q(ctx).Model(&TriggerFire{}).Where("visitor_id = ?", visitorID).Order("fired_at").Pluck("trigger_id", &ids).Error
}
