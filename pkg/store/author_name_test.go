package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/parleychat/parley/pkg/keyring"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// Message author names (a verified visitor's real name is copied into
// each of their messages) are sealed: names stored in clear before are
// sealed by the migration, new ones when written, and reencrypt reseals
// them; every read path gives them back in clear.
func TestAuthorNamesAreSealed(t *testing.T) {
	ctx := context.Background()
	dsns := map[string]string{"sqlite": filepath.Join(t.TempDir(), "p.db")}
	if pg := os.Getenv("PARLEY_TEST_POSTGRES"); pg != "" {
		dsn, drop, err := storetest.Schema(pg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(drop)
		dsns["postgres"] = dsn
	}
	const planted = "Plantedname Oldrow"
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			// An install from before: the name in clear.
			old, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			sc, c := seed(t, old)
			m := msg(c.ID, "m1", "hello")
			m.AuthorName = planted
			if _, err := sc.Append(ctx, m, store.Require{}); err != nil {
				t.Fatal(err)
			}
			if err := old.Gorm().Exec("DELETE FROM schema_migrations WHERE id = ?", "2026120710_seclive_sealed_author_names").Error; err != nil {
				t.Fatal(err)
			}
			old.Close()

			ring := storetest.Keyring(t)
			s, err := store.Open(ctx, dsn, store.WithSealer(ring))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			sealed := func(what string) {
				t.Helper()
				for _, r := range rawColumn(t, s, "SELECT author_name FROM messages WHERE author_name <> ''") {
					if _, err := keyring.KeyID(r); err != nil {
						t.Fatalf("%s: author name %q in clear", what, r)
					}
				}
			}
			sealed("after the migration")
			sc = s.Workspace(c.WorkspaceID)
			long := msg(c.ID, "m2", "a new one")
			long.AuthorName = "Ωmega " + planted + " with a long surname that goes on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on"
			if _, err := sc.Append(ctx, long, store.Require{}); err != nil {
				t.Fatalf("append with a sealed name near the 200 limit: %v", err)
			}
			sealed("a new message")
			ms, err := sc.MessagesAfter(ctx, c.ID, 0, 10)
			if err != nil || len(ms) != 2 || ms[0].AuthorName != planted || ms[1].AuthorName != long.AuthorName {
				t.Fatalf("read back: %+v %v", ms, err)
			}

			// Encryption turned on later: reencrypt seals what is in clear.
			s.Gorm().Exec("UPDATE messages SET author_name = ? WHERE client_id = 'm1'", planted)
			if n, err := s.Reencrypt(ctx, ring); err != nil || n < 1 {
				t.Fatalf("reencrypt: %d %v", n, err)
			}
			sealed("after reencrypt")
			if ms, err := sc.MessagesAfter(ctx, c.ID, 0, 1); err != nil || ms[0].AuthorName != planted {
				t.Fatalf("after reencrypt: %+v %v", ms, err)
			}
		})
	}
}
