// Package storetest opens real stores for tests: SQLite in a temporary
// directory always, and PostgreSQL (in a schema of its own) when
// PARLEY_TEST_POSTGRES names a server.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for schema set-up

	"github.com/parleychat/parley/pkg/keyring"
	"github.com/parleychat/parley/pkg/store"
)

// Keyring returns a fresh key ring with one generated key. Test stores
// encrypt at rest with one, as the server does by default.
func Keyring(t testing.TB) *keyring.Keyring {
	t.Helper()
	k, err := keyring.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// Stores returns one fresh store per available backend, keyed "sqlite" and
// "postgres". They are closed (and the schema dropped) when the test ends.
func Stores(t testing.TB) map[string]*store.Store {
	t.Helper()
	out := map[string]*store.Store{"sqlite": SQLite(t)}
	if pg := os.Getenv("PARLEY_TEST_POSTGRES"); pg != "" {
		out["postgres"] = Postgres(t, pg)
	} else {
		t.Log("PARLEY_TEST_POSTGRES is not set: the PostgreSQL store is not tested here")
	}
	return out
}

// SQLite opens a store on a file in a temporary directory.
func SQLite(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "parley.db"), store.WithSealer(Keyring(t)))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Postgres opens a store on the server at base in a new schema.
func Postgres(t testing.TB, base string) *store.Store {
	t.Helper()
	dsn, drop, err := Schema(base)
	if err != nil {
		t.Fatalf("postgres test schema: %v", err)
	}
	s, err := store.Open(context.Background(), dsn, store.WithSealer(Keyring(t)))
	if err != nil {
		drop()
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close(); drop() })
	return s
}

// Schema creates a uniquely named schema on the server at base and returns a
// URL whose search_path is that schema, and a func that drops it.
func Schema(base string) (string, func(), error) {
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	if _, err := db.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		db.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		db.Close()
	}
	return u.String(), drop, nil
}
