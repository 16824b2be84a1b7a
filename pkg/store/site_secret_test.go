package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleychat/parley/pkg/keyring"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

func rawColumn(t *testing.T, s *store.Store, query string, args ...any) []string {
	t.Helper()
	var out []string
	if err := s.Gorm().Raw(query, args...).Scan(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

// A site's identity secret and a verified visitor's email are sealed in the
// database and read back in clear through every read path.
func TestSiteSecretsAndVisitorEmailsAreSealed(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, c := seed(t, s) // the site's secret is "s"
		check := func(want string) {
			t.Helper()
			raw := rawColumn(t, s, "SELECT secret FROM sites WHERE id = ?", c.SiteID)
			if len(raw) != 1 || raw[0] == want || (len(want) > 8 && strings.Contains(raw[0], want)) {
				t.Fatalf("raw secret %q holds %q", raw, want)
			}
			if _, err := keyring.KeyID(raw[0]); err != nil {
				t.Fatalf("raw secret not sealed: %v", err)
			}
			one, err := sc.Site(ctx, c.SiteID)
			byID, err2 := s.SiteByID(ctx, c.SiteID)
			all, err3 := sc.Sites(ctx)
			if err != nil || err2 != nil || err3 != nil || one.Secret != want || byID.Secret != want || len(all) != 1 || all[0].Secret != want {
				t.Fatalf("read back %q %q %+v (%v %v %v), want %q", one.Secret, byID.Secret, all, err, err2, err3, want)
			}
		}
		check("s")
		// A rotated secret (64 hex characters: sealed, longer than the old
		// column) is sealed too.
		rotated := strings.Repeat("0123456789abcdef", 4)
		if err := sc.SetSiteSecret(ctx, c.SiteID, rotated); err != nil {
			t.Fatal(err)
		}
		check(rotated)

		v, err := sc.CreateVisitor(ctx, store.Visitor{ID: "v-mail", SiteID: c.SiteID, Name: "Grace", UserID: "u-9", Email: "grace@example.com"})
		if err != nil || v.Email != "grace@example.com" {
			t.Fatalf("create: %+v %v", v, err)
		}
		if err := sc.SetVisitorEmail(ctx, c.VisitorID, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		for _, r := range rawColumn(t, s, "SELECT email FROM visitors") {
			if strings.Contains(r, "example.com") {
				t.Fatalf("plaintext email in the database: %q", r)
			}
		}
		if got, err := sc.VisitorByUser(ctx, c.SiteID, "u-9"); err != nil || got.Email != "grace@example.com" {
			t.Fatalf("read back: %+v %v", got, err)
		}
		if got, err := sc.Visitor(ctx, c.VisitorID); err != nil || got.Email != "ada@example.com" {
			t.Fatalf("read back: %+v %v", got, err)
		}
		if err := sc.SetVisitorEmail(ctx, "nobody", "x@example.com"); err == nil {
			t.Fatal("email set on an unknown visitor")
		}

		// A secret copied to another site's row does not open there.
		other, oc := seed(t, s)
		s.Gorm().Exec("UPDATE sites SET secret = (SELECT secret FROM sites WHERE id = ?) WHERE id = ?", c.SiteID, oc.SiteID)
		if _, err := other.Site(ctx, oc.SiteID); err == nil {
			t.Fatal("a sealed secret moved to another site must not decrypt")
		}
	})
}

// A secret stored in clear before sealing is read as it is, and reencrypt
// seals it (and visitors' emails) under the primary key.
func TestReencryptSealsClearSiteSecrets(t *testing.T) {
	ctx := context.Background()
	ring := storetest.Keyring(t)
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"), store.WithSealer(ring))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sc, c := seed(t, s)
	s.Gorm().Exec("UPDATE sites SET secret = 'legacy secret' WHERE id = ?", c.SiteID)
	s.Gorm().Exec("UPDATE visitors SET email = 'old@example.com' WHERE id = ?", c.VisitorID)
	if site, err := sc.Site(ctx, c.SiteID); err != nil || site.Secret != "legacy secret" {
		t.Fatalf("clear secret: %q %v", site.Secret, err)
	}
	if n, err := s.Reencrypt(ctx, ring); err != nil || n < 2 {
		t.Fatalf("reencrypt: %d %v", n, err)
	}
	for _, r := range rawColumn(t, s, "SELECT secret FROM sites UNION ALL SELECT email FROM visitors WHERE email <> ''") {
		if _, err := keyring.KeyID(r); err != nil {
			t.Fatalf("%q still in clear after reencrypt", r)
		}
	}
	site, err := sc.Site(ctx, c.SiteID)
	v, err2 := sc.Visitor(ctx, c.VisitorID)
	if err != nil || err2 != nil || site.Secret != "legacy secret" || v.Email != "old@example.com" {
		t.Fatalf("after reencrypt: %q %q %v %v", site.Secret, v.Email, err, err2)
	}
}
