package service

import (
	"context"
	"crypto/subtle"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

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
