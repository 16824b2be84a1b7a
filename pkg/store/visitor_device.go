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

// VisitorContact is an agent's edit of a visitor's contact details: nil
// leaves a field as it is, "" clears it.
type VisitorContact struct {
	Name, Email, Phone *string
}

// SetVisitorContact writes an agent's edit, sealed like the pre-chat
// form's values (which SetVisitorProfile writes, never clearing one).
func (s *Scoped) SetVisitorContact(ctx context.Context, id string, c VisitorContact) error {
	updates := map[string]any{}
	for _, f := range []struct {
		column string
		value  *string
		max    int
		aad    []byte
	}{
		{"name", c.Name, 200, visitorNameAAD(id)},
		{"email", c.Email, 320, visitorEmailAAD(id)},
		{"phone", c.Phone, 40, visitorPhoneAAD(id)},
	} {
		switch {
		case f.value == nil:
		case *f.value == "":
			updates[f.column] = ""
		default:
			sealed, err := s.s.seal(Truncate(*f.value, f.max), f.aad)
			if err != nil {
				return err
			}
			updates[f.column] = sealed
		}
	}
	if len(updates) == 0 {
		return nil
	}
	res := s.q(ctx).Model(&Visitor{}).Where("id = ?", id).Updates(updates)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return s.indexVisitor(ctx, id)
}
