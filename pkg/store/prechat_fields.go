package store

import (
	"context"
	"encoding/json"

	"gorm.io/gorm"
)

// The schema change of 2026120740_wui_prechat_fields: the fields a site's
// pre-chat form asks for (JSON [{"kind":"email","required":true},
// {"kind":"custom","label":"Order number"}], checked by the API), and the
// profile a visitor gives in it: a phone number and the custom fields'
// values (JSON {"Order number":"1234"}), both sealed like the name and
// email.
type (
	v40Site struct {
		PrechatFields string `gorm:"type:text;not null;default:''"`
	}
	v40Visitor struct {
		Phone   string `gorm:"type:text;not null;default:''"`
		Profile string `gorm:"type:text;not null;default:''"`
	}
)

func (v40Site) TableName() string    { return "sites" }
func (v40Visitor) TableName() string { return "visitors" }

func migratePrechatFields(tx *gorm.DB) error {
	m := tx.Migrator()
	if err := m.AddColumn(&v40Site{}, "PrechatFields"); err != nil {
		return err
	}
	for _, f := range []string{"Phone", "Profile"} {
		if err := m.AddColumn(&v40Visitor{}, f); err != nil {
			return err
		}
	}
	return nil
}

func visitorPhoneAAD(id string) []byte   { return []byte("visitor:" + id + ":phone") }
func visitorProfileAAD(id string) []byte { return []byte("visitor:" + id + ":profile") }

// SetPrechatFields replaces the site's pre-chat fields (JSON, checked by
// the caller; empty: the form asks nothing).
func (s *Scoped) SetPrechatFields(ctx context.Context, siteID, fields string) error {
	res := s.q(ctx).Model(&Site{}).Where("id = ?", siteID).Update("prechat_fields", fields)
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}

// VisitorProfile is what a visitor told about themselves in the pre-chat
// (or offline) form; empty fields leave what the visitor had.
type VisitorProfile struct {
	Name, Email, Phone string
	// Custom are the site's own fields, by label.
	Custom map[string]string
}

// SetVisitorProfile writes the profile over the visitor's, sealed. Custom
// values join the ones given before.
func (s *Scoped) SetVisitorProfile(ctx context.Context, id string, p VisitorProfile) error {
	v, err := s.Visitor(ctx, id)
	if err != nil {
		return err
	}
	updates := map[string]any{}
	for _, f := range []struct {
		column, value string
		aad           []byte
	}{
		{"name", Truncate(p.Name, 200), visitorNameAAD(id)},
		{"email", Truncate(p.Email, 320), visitorEmailAAD(id)},
		{"phone", Truncate(p.Phone, 40), visitorPhoneAAD(id)},
	} {
		if f.value == "" {
			continue
		}
		if updates[f.column], err = s.s.seal(f.value, f.aad); err != nil {
			return err
		}
	}
	if len(p.Custom) > 0 {
		custom := v.Custom()
		for k, val := range p.Custom {
			custom[k] = val
		}
		b, _ := json.Marshal(custom)
		if updates["profile"], err = s.s.seal(string(b), visitorProfileAAD(id)); err != nil {
			return err
		}
	}
	if len(updates) == 0 {
		return nil
	}
	if err := s.q(ctx).Model(&Visitor{}).Where("id = ?", id).Updates(updates).Error; err != nil {
		return err
	}
	if updates["name"] != nil || updates["email"] != nil {
		return s.indexVisitor(ctx, id)
	}
	return nil
}

// Custom returns the visitor's custom pre-chat values, by label (never nil).
func (v Visitor) Custom() map[string]string {
	out := map[string]string{}
	if v.Profile != "" {
		_ = json.Unmarshal([]byte(v.Profile), &out) // written by SetVisitorProfile
	}
	return out
}
