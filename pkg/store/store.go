// Package store keeps Parley's state and message archive with gorm: SQLite
// (a pure-Go driver, no cgo) by default, PostgreSQL in production.
//
// Reads and writes of workspace data go through Scoped, which adds the
// workspace to every query; the few lookups that find a workspace in the
// first place (a site by id, an agent by email, a session by token) are on
// Store itself.
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Sentinel errors. Any other error from the store means the store could not
// be reached or failed: callers treat it as retryable.
var (
	ErrNotFound = errors.New("not found")
	ErrClosed   = errors.New("conversation is closed")
	ErrConflict = errors.New("conflict")
	// ErrWaiting refuses an append that requires a taken conversation
	// (Require.Taken) while it is queued or offline: nothing was stored.
	ErrWaiting = errors.New("conversation is waiting for an agent")
	// ErrNotOwner refuses an append or a close that requires the
	// conversation's agent (Require.Agent) when another agent owns it:
	// nothing was stored.
	ErrNotOwner = errors.New("conversation belongs to another agent")
)

// Store is the database. It is safe for concurrent use.
type Store struct {
	// db runs single statements, each prepared once per connection and
	// cached (gorm's PrepareStmt), outside any transaction.
	db *gorm.DB
	// plain runs transactions and statements whose text varies (IN
	// lists): it never touches the statement cache. gorm prepares a
	// statement new to the cache under the cache's lock and a pool
	// connection; a transaction that waited for that lock while holding
	// SQLite's only connection deadlocked a restarted node for the 15 s
	// handle timeout (issue 15), so nothing holding a connection may wait
	// for the cache.
	plain     *gorm.DB
	dialect   string
	sealer    Sealer
	commits   committer    // AppendMessage's group commit
	appendSQL *appendStmts // and its statements
	// searchKeys caches each workspace's opened search key (search.go).
	searchKeys sync.Map
}

// Sealer encrypts values before they reach the database and decrypts them
// after (keyring.Keyring). aad binds a value to its row, so a value copied
// into another row does not open.
type Sealer interface {
	Seal(plaintext, aad []byte) (string, error)
	Open(sealed string, aad []byte) ([]byte, error)
}

// pgMaxConns is the PostgreSQL pool's size.
const pgMaxConns = 32

// Option configures Open.
type Option func(*Store)

// WithSealer encrypts at rest message bodies, conversation previews and
// visitors' personal fields (name, offline contact name and email).
func WithSealer(k Sealer) Option { return func(s *Store) { s.sealer = k } }

// Open connects to the database named by url: "postgres://…" or
// "postgresql://…" for PostgreSQL, "sqlite://PATH" or a plain file path for
// SQLite. It applies pending migrations before returning.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	var (
		dial    gorm.Dialector
		dialect string
	)
	// Prepared statements (Store.db, a PrepareStmt session of this
	// handle) are kept per connection: preparing every statement anew was
	// a large part of each message's cost (see docs/benchmarks.md).
	// PrepareStmtTTL is gorm's "no eviction by age" value: with any other
	// TTL gorm starts an expiry goroutine per store that never stops (a
	// leak per Open, caught by goleak); statements are still evicted by
	// count (PrepareStmtMaxSize).
	// SkipDefaultTransaction: a single statement is atomic by itself;
	// gorm's implicit transaction around it held a connection across the
	// statement cache's lock (see Store.plain). No model has hooks or
	// associations that would make one call several statements.
	cfg := &gorm.Config{Logger: logger.Discard, TranslateError: true, PrepareStmtTTL: 24 * 365 * 10 * time.Hour,
		SkipDefaultTransaction: true, NowFunc: func() time.Time { return time.Now().UTC() }}
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		dial, dialect = postgres.Open(url), "postgres"
	default:
		path := strings.TrimPrefix(url, "sqlite://")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store: create data dir: %w", err)
		}
		// Chat logs are personal data: only the server's user may read them.
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600); err == nil {
			f.Close()
		}
		// WAL lets readers go on while one writer commits; synchronous=NORMAL
		// is durable against a process crash (not a power cut) and much faster.
		dsn := path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
		dial, dialect = sqlite.Open(dsn), "sqlite"
	}
	db, err := gorm.Open(dial, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if dialect == "sqlite" {
		// SQLite has one writer at a time; one connection queues writers in
		// Go instead of in SQLite's busy loop.
		sqlDB.SetMaxOpenConns(1)
	} else {
		sqlDB.SetMaxOpenConns(pgMaxConns)
		sqlDB.SetMaxIdleConns(16)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("store: reach %s: %w", dialect, err)
	}
	// Migrations that seal what was stored in clear need the sealer.
	var opt Store
	for _, o := range opts {
		o(&opt)
	}
	if err := migrate(db.WithContext(withSealer(ctx, opt.sealer))); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	committers, batch := 1, sqliteBatch
	if dialect == "postgres" {
		committers, batch = pgCommitters, pgBatch
	}
	stmts, err := prepareAppend(ctx, sqlDB, dialect, batch)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("store: prepare: %w", err)
	}
	st := &Store{db: db.Session(&gorm.Session{PrepareStmt: true, NewDB: true}), plain: db, dialect: dialect,
		commits: committer{max: committers, batch: batch}, appendSQL: stmts}
	for _, o := range opts {
		o(st)
	}
	return st, nil
}

// transaction runs fn in a transaction on the handle that never waits for
// the statement cache (see Store.plain).
func (s *Store) transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.plain.WithContext(ctx).Transaction(fn)
}

// Dialect is "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close closes the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	s.appendSQL.close()
	return sqlDB.Close()
}

// Workspace returns the store scoped to one workspace.
func (s *Store) Workspace(id string) *Scoped { return &Scoped{s: s, ws: id} }

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// SiteByID finds a site by its public id (the widget's data-site).
func (s *Store) SiteByID(ctx context.Context, id string) (Site, error) {
	var site Site
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&site).Error; err != nil {
		return site, notFound(err)
	}
	return site, s.openSite(&site)
}

// CreateSession stores a new agent session.
func (s *Store) CreateSession(ctx context.Context, sess Session) error {
	return s.db.WithContext(ctx).Create(&sess).Error
}

// SessionByTokenHash returns an unexpired session.
func (s *Store) SessionByTokenHash(ctx context.Context, hash string, now time.Time) (Session, error) {
	var sess Session
	err := s.db.WithContext(ctx).Where("token_hash = ? AND expires_at > ?", hash, now).Take(&sess).Error
	return sess, notFound(err)
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	return s.db.WithContext(ctx).Where("token_hash = ?", hash).Delete(&Session{}).Error
}

// HasWorkspace reports whether any workspace exists (first run or not).
func (s *Store) HasWorkspace(ctx context.Context) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Workspace{}).Limit(1).Count(&n).Error
	return n > 0, err
}

// CreateWorkspace stores a workspace with its first site and agent in one
// transaction.
func (s *Store) CreateWorkspace(ctx context.Context, w Workspace, site Site, admin Agent) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		site.WorkspaceID, admin.WorkspaceID = w.ID, w.ID
		var err error
		if site.Secret, err = s.seal(site.Secret, siteSecretAAD(site.ID)); err != nil {
			return err
		}
		admin.Email = strings.ToLower(strings.TrimSpace(admin.Email))
		for _, v := range []any{&w, &site, &admin} {
			if err := tx.Create(v).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// Gorm exposes the underlying gorm handle for tests that inject faults
// (a callback that fails writes stands in for a database outage) and for
// maintenance commands. Application code uses the typed methods.
func (s *Store) Gorm() *gorm.DB { return s.db }

// FirstSite returns the oldest site: the demo site of a first-run install.
func (s *Store) FirstSite(ctx context.Context) (Site, error) {
	var site Site
	if err := s.db.WithContext(ctx).Order("created_at, id").Take(&site).Error; err != nil {
		return site, notFound(err)
	}
	return site, s.openSite(&site)
}
