package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/parleychat/parley/pkg/report/tally"
)

// Conversions: a purchase the host page reports (Parley('track',
// 'purchase', {value, currency}), http_activity.go) counts for the
// visitor's latest conversation on that site started within the site's
// window before it (last touch). Reports (pkg/report) count them per
// site, agent and whether the assistant answered in that conversation.

// Conversion is one attributed purchase.
type Conversion struct {
	ID             int64  `gorm:"primaryKey;autoIncrement"`
	WorkspaceID    string `gorm:"size:36;not null;index:idx_conversions_conv,priority:1"`
	SiteID         string `gorm:"size:36;not null"`
	VisitorID      string `gorm:"size:36;not null;index"`
	ConversationID string `gorm:"size:36;not null;index:idx_conversions_conv,priority:2"`
	// AgentID is the conversation's agent then ("" none); Assisted: the
	// assistant had answered in it.
	AgentID  string `gorm:"size:36;not null;default:''"`
	Assisted bool   `gorm:"not null;default:false"`
	// Value in the currency's units (the page's figure); Currency is an
	// ISO 4217 code, upper case, "" when the page gave none.
	Value     float64 `gorm:"not null;default:0"`
	Currency  string  `gorm:"size:3;not null;default:''"`
	CreatedAt time.Time
}

// DefaultConversionWindow is a new site's window (7 days).
const DefaultConversionWindow = 168

// The schema change of 2026120831_reports_conversions.
type (
	v831Site struct {
		ConversionWindowHours int `gorm:"not null;default:168"`
	}
	v831Conversion struct {
		ID             int64   `gorm:"primaryKey;autoIncrement"`
		WorkspaceID    string  `gorm:"size:36;not null;index:idx_conversions_conv,priority:1"`
		SiteID         string  `gorm:"size:36;not null"`
		VisitorID      string  `gorm:"size:36;not null;index"`
		ConversationID string  `gorm:"size:36;not null;index:idx_conversions_conv,priority:2"`
		AgentID        string  `gorm:"size:36;not null;default:''"`
		Assisted       bool    `gorm:"not null;default:false"`
		Value          float64 `gorm:"not null;default:0"`
		Currency       string  `gorm:"size:3;not null;default:''"`
		CreatedAt      time.Time
	}
)

func (v831Site) TableName() string       { return "sites" }
func (v831Conversion) TableName() string { return "conversions" }

func migrateConversions(tx *gorm.DB) error {
	if err := tx.Migrator().AddColumn(&v831Site{}, "ConversionWindowHours"); err != nil {
		return err
	}
	return tx.Migrator().CreateTable(&v831Conversion{})
}

// AttributeConversion records a purchase of visitorID on siteID at `at`
// for the visitor's latest conversation there started within window
// before it. It reports false (and stores nothing) when there is none.
func (s *Scoped) AttributeConversion(ctx context.Context, siteID, visitorID string, value float64, currency string, at time.Time, window time.Duration) (Conversion, bool, error) {
	var conv Conversation
	err := s.q(ctx).Where("site_id = ? AND visitor_id = ? AND created_at >= ? AND created_at <= ?", siteID, visitorID, at.Add(-window), at).
		Order("created_at DESC").Take(&conv).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Conversion{}, false, nil
	}
	if err != nil {
		return Conversion{}, false, err
	}
	var assisted int64
	if err := s.q(ctx).Model(&Message{}).Where("conversation_id = ? AND author_kind = ?", conv.ID, "assistant").Limit(1).Count(&assisted).Error; err != nil {
		return Conversion{}, false, err
	}
	cv := Conversion{WorkspaceID: s.ws, SiteID: siteID, VisitorID: visitorID, ConversationID: conv.ID, Assisted: assisted > 0,
		Value: value, Currency: currency, CreatedAt: at}
	if conv.AgentID != nil {
		cv.AgentID = *conv.AgentID
	}
	return cv, true, s.s.db.WithContext(ctx).Create(&cv).Error
}

// ReportConversion is what a report reads of one conversion.
type ReportConversion struct {
	ConversationID, Currency string
	Assisted                 bool
	Value                    float64
	// Bucket: the conversation's report bucket (its own figures' one).
	Bucket tally.Key
}

// ReportConversions calls fn with the conversions of the conversations f
// chooses. It reads the workspace's conversions and looks their
// conversations up (CROSS JOIN keeps SQLite to that order), not the
// period's conversations: conversions are far fewer.
func (s *Scoped) ReportConversions(ctx context.Context, f ReportFilter, fn func(ReportConversion) error) error {
	where, args := f.where("c.")
	args[0] = s.ws
	args = append([]any{s.ws}, args...)
	rows, err := s.s.plain.WithContext(ctx).Raw(`SELECT v.conversation_id, v.currency, v.assisted, v.value,
		c.site_id, c.team, COALESCE(c.agent_id, ''), c.created_at
		FROM conversions v CROSS JOIN conversations c
		WHERE v.workspace_id = ? AND c.id = v.conversation_id AND `+where, args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r       ReportConversion
			created time.Time
		)
		if err := rows.Scan(&r.ConversationID, &r.Currency, &r.Assisted, &r.Value, &r.Bucket.SiteID, &r.Bucket.Team, &r.Bucket.AgentID, &created); err != nil {
			return err
		}
		r.Bucket.Hour = tally.HourOf(created)
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}
