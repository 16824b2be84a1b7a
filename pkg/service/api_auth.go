package service

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/store"
)

// Codes of the API's token errors.
const (
	codeInvalidToken      = "invalid_token"
	codeTokenRevoked      = "token_revoked"
	codeInsufficientScope = "insufficient_scope"
	codeIdempotencyBusy   = "idempotency_in_progress"
	codeIdempotencyReused = "idempotency_key_reused"
)

// tokenPrefix begins every API token's secret, so one that leaks (into a
// repository, a log) is recognisable and can be searched for.
const tokenPrefix = "pk_"

// idempotencyHeader carries a client's key for a write (api_v1.go).
const idempotencyHeader = "Idempotency-Key"

// requireToken authenticates "Authorization: Bearer pk_…" and puts the
// token in the context; write: the route needs a write token. Cookies
// are not read: a browser's session never reaches /api/v1.
func (s *Server) requireToken(write bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		fail := func(status int, code, msg string) {
			c.Header("WWW-Authenticate", `Bearer realm="parley"`)
			writeError(c, nil, apierr.New(status, code, msg))
		}
		secret, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok {
			fail(http.StatusUnauthorized, codeUnauthorized, "send an API token: Authorization: Bearer pk_…")
			return
		}
		if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 100 {
			fail(http.StatusUnauthorized, codeInvalidToken, "this is not a Parley API token")
			return
		}
		t, err := s.store.APITokenByHash(c.Request.Context(), hashToken(secret), time.Now().UTC())
		switch {
		case errors.Is(err, store.ErrNotFound):
			fail(http.StatusUnauthorized, codeInvalidToken, "unknown API token")
			return
		case errors.Is(err, store.ErrRevoked):
			fail(http.StatusUnauthorized, codeTokenRevoked, "this API token was revoked; an admin can make a new one")
			return
		case err != nil:
			writeError(c, s.log, apierr.Unavailable("cannot check the token right now; retry", err))
			return
		}
		if write && t.Scope != scopeWrite {
			fail(http.StatusForbidden, codeInsufficientScope, "this token may only read; writing needs a write token")
			return
		}
		if !s.allowHTTP(c, s.rules.APIPerToken, t.ID) {
			return
		}
		c.Set("api_token", t)
		c.Next()
	}
}

// idempotent makes a write with an Idempotency-Key header answer a retry
// with the first answer (and Idempotent-Replayed: true) instead of doing
// it again. Keys are per workspace and kept store.IdempotencyTTL; a key
// sent with another request is refused (422), one whose first request
// still runs answers 409. A failure a retry may get past (5xx, 429) is
// not kept.
func (s *Server) idempotent(c *gin.Context) {
	key := c.GetHeader(idempotencyHeader)
	if key == "" {
		c.Next()
		return
	}
	if len(key) > 200 || strings.ContainsAny(key, "\x00") {
		writeError(c, nil, apierr.Invalid("Idempotency-Key is at most 200 characters"))
		return
	}
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		writeError(c, nil, apierr.TooBig("request body too large"))
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(raw))
	h := sha256.New()
	h.Write([]byte(c.Request.Method + " " + c.Request.URL.Path + "\n"))
	h.Write(raw)
	request := hex.EncodeToString(h.Sum(nil))

	ctx := c.Request.Context()
	sc := s.store.Workspace(tokenOf(c).WorkspaceID)
	kept, first, err := sc.BeginIdempotent(ctx, key, request, time.Now().UTC())
	switch {
	case err != nil:
		writeError(c, s.log, apierr.Unavailable("cannot check the idempotency key right now; retry", err))
		return
	case !first && kept.Request != request:
		writeError(c, nil, apierr.New(http.StatusUnprocessableEntity, codeIdempotencyReused, "this Idempotency-Key was used for another request"))
		return
	case !first && kept.Status == 0:
		writeError(c, nil, apierr.New(http.StatusConflict, codeIdempotencyBusy, "a request with this Idempotency-Key is still running; retry"))
		return
	case !first:
		c.Header("Idempotent-Replayed", "true")
		c.Data(kept.Status, "application/json; charset=utf-8", []byte(kept.Body))
		c.Abort()
		return
	}
	rec := &recordingWriter{ResponseWriter: c.Writer}
	c.Writer = rec
	c.Next()
	status := rec.Status()
	if status >= 500 || status == http.StatusTooManyRequests {
		err = sc.AbandonIdempotent(ctx, key)
	} else {
		err = sc.FinishIdempotent(ctx, key, status, rec.body.String())
	}
	if err != nil {
		// The write is done; only its replay is lost, and the key stays
		// taken (a retry gets 409 until the key expires).
		s.log.Warn("cannot keep the answer of an idempotent request", "err", err)
	}
}

// recordingWriter keeps a copy of what the handler writes.
type recordingWriter struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *recordingWriter) WriteString(s string) (int, error) {
	w.body.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}
