package store

import (
	"context"

	"gorm.io/gorm"
)

// Sites' identity secrets are sealed at rest like personal fields: whoever
// reads the database (a backup, a replica) must not be able to forge
// verified visitors. A secret stored before this is read as it is and
// sealed by Reencrypt.
func siteSecretAAD(id string) []byte { return []byte("site:" + id + ":secret") }

// A verified visitor's email (from the identity JWT) is personal data.
func visitorEmailAAD(id string) []byte { return []byte("visitor:" + id + ":email") }

func (s *Store) openSite(site *Site) error {
	sec, err := s.open(site.Secret, siteSecretAAD(site.ID))
	site.Secret = sec
	return err
}

func (s *Store) openSites(sites []Site) error {
	for i := range sites {
		if err := s.openSite(&sites[i]); err != nil {
			return err
		}
	}
	return nil
}

// The schema change of 2026112508_seal_site_secrets: a sealed secret is
// longer than the 100 characters the column held (SQLite does not enforce
// sizes), and a verified visitor's email gets a (sealed) column.
type v8Visitor struct {
	Email string `gorm:"type:text;not null;default:''"`
}

func (v8Visitor) TableName() string { return "visitors" }

func migrateSealSiteSecrets(tx *gorm.DB) error {
	if err := tx.Migrator().AddColumn(&v8Visitor{}, "Email"); err != nil {
		return err
	}
	if tx.Dialector.Name() != "postgres" {
		return nil
	}
	return tx.Exec("ALTER TABLE sites ALTER COLUMN secret TYPE text").Error
}

// SetVisitorEmail records the email a verified visitor's identity token
// carries (sealed), when it changed.
func (s *Scoped) SetVisitorEmail(ctx context.Context, id, email string) error {
	sealed, err := s.s.seal(Truncate(email, 320), visitorEmailAAD(id))
	if err != nil {
		return err
	}
	res := s.q(ctx).Model(&Visitor{}).Where("id = ?", id).Update("email", sealed)
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	if res.Error != nil {
		return res.Error
	}
	return s.indexVisitor(ctx, id)
}
