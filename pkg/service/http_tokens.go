package service

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/store"
)

// The API tokens resource: a workspace's admins make, list and revoke the
// tokens /api/v1 is called with (api_auth.go). A token's secret is shown
// once, in the answer that makes it; the store keeps its SHA-256.

// Token scopes.
const (
	scopeRead  = "read"
	scopeWrite = "write"
)

// tokenStore is what the tokens API needs of one workspace's store.
type tokenStore interface {
	CreateAPIToken(ctx context.Context, t store.APIToken) error
	APITokens(ctx context.Context) ([]store.APIToken, error)
	RevokeAPIToken(ctx context.Context, id string, now time.Time) (store.APIToken, error)
	Agents(ctx context.Context) ([]store.Agent, error)
}

// tokensAPI serves the API tokens resource.
type tokensAPI struct {
	store func(workspaceID string) tokenStore
	audit func(c *gin.Context, workspaceID, action, target, detail string)
}

func (s *Server) tokensAPI() *tokensAPI {
	return &tokensAPI{store: func(ws string) tokenStore { return s.store.Workspace(ws) }, audit: s.audit}
}

type tokenJSON struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"` // the secret's first characters
	Scope  string `json:"scope"`
	// CreatedBy is the admin who made it, by id and (in lists) name.
	CreatedBy     string `json:"created_by"`
	CreatedByName string `json:"created_by_name,omitempty"`
	// Secret is the whole token, only in the answer that made it.
	Secret     string     `json:"secret,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func tokenJSONOf(t store.APIToken) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Scope: t.Scope, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

// newTokenSecret makes a token's secret: the prefix and 256 random bits.
func newTokenSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func (a *tokensAPI) list(c *gin.Context) error {
	st := a.store(agentOf(c).WorkspaceID)
	ts, err := st.APITokens(c.Request.Context())
	if err != nil {
		return apierr.Unavailable("cannot list tokens right now; retry", err)
	}
	agents, err := st.Agents(c.Request.Context())
	if err != nil {
		return apierr.Unavailable("cannot list tokens right now; retry", err)
	}
	names := agentNames(agents) // http_notes.go
	out := make([]tokenJSON, len(ts))
	for i, t := range ts {
		out[i] = tokenJSONOf(t)
		out[i].CreatedByName = names[t.CreatedBy]
	}
	c.JSON(http.StatusOK, gin.H{"tokens": out})
	return nil
}

func (a *tokensAPI) create(c *gin.Context) error {
	var req struct {
		Name  string `json:"name"`
		Scope string `json:"scope"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return apierr.Invalid("a token needs a name of at most 100 characters (what uses it)")
	}
	if req.Scope != scopeRead && req.Scope != scopeWrite {
		return apierr.Invalid("scope is read or write")
	}
	me := agentOf(c)
	secret := newTokenSecret()
	t := store.APIToken{ID: uuid.NewString(), Name: name, Prefix: secret[:len(tokenPrefix)+6], Hash: hashToken(secret),
		Scope: req.Scope, CreatedBy: me.ID, CreatedAt: time.Now().UTC()}
	if err := a.store(me.WorkspaceID).CreateAPIToken(c.Request.Context(), t); err != nil {
		return apierr.Unavailable("cannot make the token right now; retry", err)
	}
	a.audit(c, me.WorkspaceID, "api_token.create", t.ID, name+" ("+t.Scope+")")
	out := tokenJSONOf(t)
	out.Secret = secret
	c.JSON(http.StatusCreated, gin.H{"token": out})
	return nil
}

func (a *tokensAPI) revoke(c *gin.Context) error {
	me := agentOf(c)
	t, err := a.store(me.WorkspaceID).RevokeAPIToken(c.Request.Context(), c.Param("id"), time.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such token")
	}
	if err != nil {
		return apierr.Unavailable("cannot revoke the token right now; retry", err)
	}
	a.audit(c, me.WorkspaceID, "api_token.revoke", t.ID, t.Name)
	c.JSON(http.StatusOK, gin.H{"token": tokenJSONOf(t)})
	return nil
}
