package store

import (
	"context"

	"gorm.io/gorm"
)

// What a visitor's browser and address tell: the User-Agent as sent (the
// visitor panel reads browser, system and device from it) and an
// approximate place from the GeoIP database when one is configured. The
// address itself is not kept.

// v881Visitor is the visitors table's device columns as this migration
// added them.
type v881Visitor struct {
	UserAgent   string `gorm:"size:512;not null;default:''"`
	CountryCode string `gorm:"size:2;not null;default:''"`
	Country     string `gorm:"size:100;not null;default:''"`
	Region      string `gorm:"size:100;not null;default:''"`
	City        string `gorm:"size:100;not null;default:''"`
}

func (v881Visitor) TableName() string { return "visitors" }

func migrateVisitorDevice(tx *gorm.DB) error {
	for _, f := range []string{"UserAgent", "CountryCode", "Country", "Region", "City"} {
		if err := tx.Migrator().AddColumn(&v881Visitor{}, f); err != nil {
			return err
		}
	}
	return nil
}

// VisitorDevice is what SetVisitorDevice records.
type VisitorDevice struct {
	UserAgent                          string
	CountryCode, Country, Region, City string
}

// SetVisitorDevice records the visitor's latest User-Agent and place.
func (s *Scoped) SetVisitorDevice(ctx context.Context, id string, d VisitorDevice) error {
	res := s.q(ctx).Model(&Visitor{}).Where("id = ?", id).Updates(map[string]any{
		"user_agent": Truncate(d.UserAgent, 512), "country_code": Truncate(d.CountryCode, 2),
		"country": Truncate(d.Country, 100), "region": Truncate(d.Region, 100), "city": Truncate(d.City, 100),
	})
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}
