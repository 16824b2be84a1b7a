package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// API tokens (pkg/service/http_tokens.go, api_v1.go): a workspace's admins
// make tokens for their own systems to call /api/v1 with. Only the
// SHA-256 of a token's secret is kept, like sessions', so a copy of the
// database opens no API; the first characters (Prefix) stay readable so
// admins can tell their tokens apart.

// APIToken is one API token of a workspace.
type APIToken struct {
	ID          string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index"`
	Name        string `gorm:"size:200;not null"`
	// Prefix is the secret's first characters ("pk_" and a few more).
	Prefix string `gorm:"size:20;not null"`
	Hash   string `gorm:"size:64;not null;uniqueIndex"`
	// Scope is "read" or "write" (write may also read).
	Scope      string `gorm:"size:10;not null"`
	CreatedBy  string `gorm:"size:36;not null;default:''"`
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// IdempotencyKey is the answer to a write sent with an Idempotency-Key
// header, kept so that a retry of the same request gets the same answer
// instead of doing the write again. Status 0: the first request is still
// running. Body is sealed (it can hold a message).
type IdempotencyKey struct {
	WorkspaceID string `gorm:"primaryKey;size:36"`
	Key         string `gorm:"column:idem_key;primaryKey;size:200"`
	// Request is a hash of the method, path and body: the same key with
	// another request is refused, not answered with the first's result.
	Request   string    `gorm:"size:64;not null"`
	Status    int       `gorm:"not null;default:0"`
	Body      string    `gorm:"type:text;not null;default:''"`
	CreatedAt time.Time `gorm:"index"`
}

// The schema of 2026120750_api_tokens.
type (
	v50APIToken struct {
		ID          string `gorm:"primaryKey;size:36"`
		WorkspaceID string `gorm:"size:36;not null;index"`
		Name        string `gorm:"size:200;not null"`
		Prefix      string `gorm:"size:20;not null"`
		Hash        string `gorm:"size:64;not null;uniqueIndex"`
		Scope       string `gorm:"size:10;not null"`
		CreatedBy   string `gorm:"size:36;not null;default:''"`
		CreatedAt   time.Time
		LastUsedAt  *time.Time
		RevokedAt   *time.Time
	}
	v50IdempotencyKey struct {
		WorkspaceID string    `gorm:"primaryKey;size:36"`
		Key         string    `gorm:"column:idem_key;primaryKey;size:200"`
		Request     string    `gorm:"size:64;not null"`
		Status      int       `gorm:"not null;default:0"`
		Body        string    `gorm:"type:text;not null;default:''"`
		CreatedAt   time.Time `gorm:"index"`
	}
)

func (v50APIToken) TableName() string       { return "api_tokens" }
func (v50IdempotencyKey) TableName() string { return "idempotency_keys" }

func migrateAPITokens(tx *gorm.DB) error {
	return tx.Migrator().CreateTable(&v50APIToken{}, &v50IdempotencyKey{})
}

// ErrRevoked: the API token was revoked.
var ErrRevoked = errors.New("the token was revoked")

// CreateAPIToken stores a new token (its hash; the secret is the caller's
// to show once).
func (s *Scoped) CreateAPIToken(ctx context.Context, t APIToken) error {
	t.WorkspaceID = s.ws
	return s.s.db.WithContext(ctx).Create(&t).Error
}

// APITokens lists the workspace's tokens, newest first, revoked ones too.
func (s *Scoped) APITokens(ctx context.Context) ([]APIToken, error) {
	var ts []APIToken
	return ts, s.q(ctx).Order("created_at DESC, id").Find(&ts).Error
}

// RevokeAPIToken revokes a token for good; revoking it again changes
// nothing. ErrNotFound when the workspace has no such token.
func (s *Scoped) RevokeAPIToken(ctx context.Context, id string, now time.Time) (APIToken, error) {
	var t APIToken
	if err := s.q(ctx).Where("id = ?", id).Take(&t).Error; err != nil {
		return t, notFound(err)
	}
	if t.RevokedAt == nil {
		if err := s.q(ctx).Model(&APIToken{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", now).Error; err != nil {
			return t, err
		}
		t.RevokedAt = &now
	}
	return t, nil
}

// APITokenByHash finds a token by its secret's hash, in whatever
// workspace (the token names its workspace). ErrNotFound for none,
// ErrRevoked for a revoked one. Its last use is recorded at most once a
// minute, so a busy integration does not write on every call.
func (s *Store) APITokenByHash(ctx context.Context, hash string, now time.Time) (APIToken, error) {
	var t APIToken
	if err := s.db.WithContext(ctx).Where("hash = ?", hash).Take(&t).Error; err != nil {
		return t, notFound(err)
	}
	if t.RevokedAt != nil {
		return t, ErrRevoked
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		if err := s.db.WithContext(ctx).Model(&APIToken{}).Where("id = ?", t.ID).Update("last_used_at", now).Error; err != nil {
			return t, err
		}
		t.LastUsedAt = &now
	}
	return t, nil
}

// IdempotencyTTL is how long the answer to an idempotent write is kept;
// a key older than that may be used again for a new request.
const IdempotencyTTL = 24 * time.Hour

func idempotencyAAD(ws, key string) []byte { return []byte("idem:" + ws + ":" + key) }

// BeginIdempotent claims key for a request (request: its hash). It
// returns ok when this request is the first with the key and must run
// (then FinishIdempotent or AbandonIdempotent); otherwise the kept row:
// Status 0 while the first still runs, else its answer (Body opened).
func (s *Scoped) BeginIdempotent(ctx context.Context, key, request string, now time.Time) (kept IdempotencyKey, ok bool, err error) {
	db := s.s.db.WithContext(ctx)
	// A key past its time is free again.
	if err := db.Where("workspace_id = ? AND idem_key = ? AND created_at < ?", s.ws, key, now.Add(-IdempotencyTTL)).Delete(&IdempotencyKey{}).Error; err != nil {
		return kept, false, err
	}
	res := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&IdempotencyKey{WorkspaceID: s.ws, Key: key, Request: request, CreatedAt: now})
	if res.Error != nil {
		return kept, false, res.Error
	}
	if res.RowsAffected == 1 {
		return kept, true, nil
	}
	if err := s.q(ctx).Where("idem_key = ?", key).Take(&kept).Error; err != nil {
		return kept, false, notFound(err)
	}
	kept.Body, err = s.s.open(kept.Body, idempotencyAAD(s.ws, key))
	return kept, false, err
}

// FinishIdempotent keeps the answer of the request that claimed key.
func (s *Scoped) FinishIdempotent(ctx context.Context, key string, status int, body string) error {
	sealed, err := s.s.seal(body, idempotencyAAD(s.ws, key))
	if err != nil {
		return err
	}
	return s.q(ctx).Model(&IdempotencyKey{}).Where("idem_key = ?", key).Updates(map[string]any{"status": status, "body": sealed}).Error
}

// AbandonIdempotent frees key after a failure a retry may get past.
func (s *Scoped) AbandonIdempotent(ctx context.Context, key string) error {
	return s.q(ctx).Where("idem_key = ?", key).Delete(&IdempotencyKey{}).Error
}
