package service

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/store"
)

// The middleware every route's guards are made of (routes in server.go):
// request deadline, security headers, body limit, URL check, agent
// session, own-page and CSRF checks, roles.

// accessLog logs each request without its query string: visitor tokens
// travel in the WebSocket URL and must never reach a log.
func (s *Server) accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		path := c.Request.URL.Path
		if strings.HasPrefix(path, invitePathPrefix) {
			path = c.FullPath() // an invite link's token is a credential
		}
		s.log.Debug("http", "method", c.Request.Method, "path", path,
			"status", c.Writer.Status(), "ms", time.Since(start).Milliseconds())
	}
}

// requestTimeout bounds one HTTP request's work, its store calls above all,
// as handleTimeout bounds a frame's: a stuck database answers 503 in time
// instead of holding the request, and what queues behind it, for good.
const requestTimeout = handleTimeout

// requestDeadline gives every request's context a deadline. A WebSocket
// outlives it: connections use their own contexts after the upgrade.
func requestDeadline(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), requestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// securityHeaders sets the headers every answer carries; under TLS also
// HSTS, so browsers never try plain HTTP (and its cookies) again.
func securityHeaders(tls bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		if tls {
			h.Set("Strict-Transport-Security", "max-age=63072000")
		}
		c.Next()
	}
}

// limitBody caps request bodies; a larger one fails to decode with 413.
func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}

// metricsHandler is /metrics on the public listener: absent when
// PARLEY_METRICS_ADDR serves it elsewhere, and in production refused
// unless PARLEY_METRICS_TOKEN guards it (the series tell anyone how busy
// the service is and which relays it has).
func (s *Server) metricsHandler(c *gin.Context) {
	switch {
	case s.cfg.MetricsAddr != "":
		apiError(c, http.StatusNotFound, "not_found", "no such page")
	case s.cfg.MetricsToken == "" && s.cfg.Production():
		apiError(c, http.StatusForbidden, codeMetricsOff, "metrics are not served on the public address: set PARLEY_METRICS_TOKEN or PARLEY_METRICS_ADDR")
	default:
		s.MetricsHandler().ServeHTTP(c.Writer, c.Request)
	}
}

// MetricsHandler serves the Prometheus series; with PARLEY_METRICS_TOKEN
// set, only to a request carrying "Authorization: Bearer <token>".
func (s *Server) MetricsHandler() http.Handler {
	prom := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if want := s.cfg.MetricsToken; want != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"error":"metrics need Authorization: Bearer PARLEY_METRICS_TOKEN","code":"unauthorized"}`)
				return
			}
		}
		prom.ServeHTTP(w, r)
	})
}

// bindJSON decodes a JSON body (bindBody) or answers 400/413.
func bindJSON(c *gin.Context, v any) bool {
	if err := bindBody(c, v); err != nil {
		writeError(c, nil, err)
		return false
	}
	return true
}

// validURL refuses a request whose path or query carries invalid UTF-8 or
// a NUL (%00): ids and settings read from them reach the store, which
// cannot compare or keep such text.
func validURL(c *gin.Context) {
	bad := func(s string) bool { return !utf8.ValidString(s) || strings.ContainsRune(s, 0) }
	if bad(c.Request.URL.Path) {
		apiError(c, http.StatusBadRequest, "invalid", "the path is not valid UTF-8 text without NUL")
		return
	}
	for k, vs := range c.Request.URL.Query() {
		for _, v := range append(vs, k) {
			if bad(v) {
				apiError(c, http.StatusBadRequest, "invalid", "the query is not valid UTF-8 text without NUL")
				return
			}
		}
	}
	c.Next()
}

// requireAgent authenticates the session cookie and puts the agent and the
// session in the context.
func (s *Server) requireAgent(c *gin.Context) {
	ck, err := c.Cookie(sessionCookie)
	if err != nil || len(ck) != 64 {
		apiError(c, http.StatusUnauthorized, codeUnauthorized, "sign in first")
		return
	}
	sess, err := s.store.SessionByTokenHash(c.Request.Context(), hashToken(ck), time.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		apiError(c, http.StatusUnauthorized, codeUnauthorized, "your session has ended; sign in again")
		return
	}
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, "unavailable", "cannot check your session right now")
		return
	}
	a, err := s.store.Workspace(sess.WorkspaceID).Agent(c.Request.Context(), sess.AgentID)
	if err != nil {
		apiError(c, http.StatusUnauthorized, codeUnauthorized, "sign in first")
		return
	}
	// Disabling ends the sessions; this refuses one started in a race with it.
	if a.DisabledAt != nil {
		apiError(c, http.StatusUnauthorized, codeDisabled, "your account is disabled; ask an admin of your workspace to enable it")
		return
	}
	c.Set("session", sess)
	c.Set("agent", a)
	if err := s.enforceEnrolment(c, a); err != nil { // http_totp.go
		writeError(c, nil, err)
		return
	}
	c.Next()
}

// requireOwnPage lets through only requests the agent app's own pages
// send: the Origin is the public URL's (sameOrigin), or, from a browser
// that sends no Origin, Sec-Fetch-Site says same-origin; and a body is
// application/json. Another site can post a form or text/plain (no
// preflight) with the victim's cookies, or to sign the victim into the
// attacker's account (login CSRF); it cannot do either with this Origin
// and content type. Sign-in, accepting an invite and every
// cookie-authenticated write (requireCSRF) go through it.
func (s *Server) requireOwnPage(c *gin.Context) {
	if s.fromOwnPage(c, "application/json") {
		c.Next()
	}
}

// fromOwnPage is requireOwnPage's check, with the body's media type; it
// answers the refusal itself.
func (s *Server) fromOwnPage(c *gin.Context, mediaType string) bool {
	return s.ownOrigin(c) && hasMediaType(c, mediaType)
}

// ownOrigin is fromOwnPage's check of where the request comes from.
func (s *Server) ownOrigin(c *gin.Context) bool {
	r := c.Request
	if !s.sameOrigin(r) && (r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != "same-origin") {
		apiError(c, http.StatusForbidden, codeOrigin, "this request is accepted only from the agent app's own pages ("+s.cfg.PublicOrigin()+")")
		return false
	}
	return true
}

// hasMediaType is fromOwnPage's check of the body's type.
func hasMediaType(c *gin.Context, mediaType string) bool {
	r := c.Request
	if r.ContentLength != 0 { // -1: a body of unknown length
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != mediaType {
			apiError(c, http.StatusUnsupportedMediaType, codeMediaType, "send the request body as Content-Type: "+mediaType)
			return false
		}
	}
	return true
}

// requireCSRF checks that a cookie-authenticated write comes from the agent
// app's own pages (requireOwnPage) and carries the double-submit token.
func (s *Server) requireCSRF(c *gin.Context) { s.checkCSRF(c, "application/json") }

// requireCSRFUpload is requireCSRF for a file upload, whose body is
// multipart/form-data: a form another site could post, but not with the
// CSRF header, which only the agent app's own pages can read and send.
func (s *Server) requireCSRFUpload(c *gin.Context) { s.checkCSRF(c, "multipart/form-data") }

func (s *Server) checkCSRF(c *gin.Context, mediaType string) {
	if !s.ownOrigin(c) {
		return
	}
	sess := c.MustGet("session").(store.Session)
	got := c.GetHeader(csrfHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) != 1 {
		apiError(c, http.StatusForbidden, codeCSRF, "missing or wrong "+csrfHeader+" header")
		return
	}
	if hasMediaType(c, mediaType) {
		c.Next()
	}
}

// requireRole lets only agents with one of the roles through (after
// requireAgent).
func requireRole(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		a := agentOf(c)
		for _, r := range roles {
			if a.Role == r {
				c.Next()
				return
			}
		}
		writeError(c, nil, apierr.Forbidden("only "+strings.Join(roles, " or ")+" may do this"))
	}
}
