package service

import (
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	agentapp "github.com/parleychat/parley/agent-app"
	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/widget"
)

var (
	widgetFS = widget.Dist()
	appFS    = agentapp.Dist()
)

func serveFile(c *gin.Context, fsys fs.FS, name, contentType, cache string) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		apiError(c, http.StatusNotFound, "not_found", "no such file")
		return
	}
	c.Header("Cache-Control", cache)
	c.Data(http.StatusOK, contentType, b)
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

func (s *Server) widgetLoader(c *gin.Context) {
	serveFile(c, widgetFS, "widget.js", contentType(".js"), "public, max-age=300")
}

func (s *Server) widgetAsset(c *gin.Context) {
	name := c.Param("file")
	if name == "frame.html" || name == "widget.js" {
		apiError(c, http.StatusNotFound, "not_found", "no such file")
		return
	}
	serveFile(c, widgetFS, name, contentType(name), "public, max-age=300")
}

// widgetFrame serves the chat UI that the loader opens in an iframe. Only
// the site's allowed origins may frame it.
func (s *Server) widgetFrame(c *gin.Context) {
	site, err := s.store.SiteByID(c.Request.Context(), c.Query("site"))
	if err != nil {
		apiError(c, http.StatusNotFound, "not_found", "unknown site")
		return
	}
	c.Header("Content-Security-Policy", "frame-ancestors "+frameAncestors(site.AllowedOrigins)+
		"; default-src 'self'; connect-src 'self' "+wsOrigin(s.cfg.PublicOrigin())+"; img-src 'self' data:; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'")
	serveFile(c, widgetFS, "frame.html", contentType(".html"), "no-cache")
}

func wsOrigin(origin string) string {
	if strings.HasPrefix(origin, "https://") {
		return "wss://" + strings.TrimPrefix(origin, "https://")
	}
	return "ws://" + strings.TrimPrefix(origin, "http://")
}

func (s *Server) agentApp(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("file"), "/")
	if name == "" || path.Ext(name) == "" {
		name = "index.html" // client-side routes
	}
	cache := "public, max-age=300"
	if name == "index.html" {
		cache = "no-cache"
		c.Header("Content-Security-Policy", "default-src 'self'; connect-src 'self' "+wsOrigin(s.cfg.PublicOrigin())+
			"; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		c.Header("X-Frame-Options", "DENY")
	}
	serveFile(c, appFS, name, contentType(name), cache)
}

// sameOrigin reports whether a browser request comes from this server's own
// pages: its Origin is the public URL's (config.IsOwnOrigin). A request
// without Origin (not a browser page) is not.
func (s *Server) sameOrigin(r *http.Request) bool {
	return s.cfg.IsOwnOrigin(r.Header.Get("Origin"))
}

// siteOrigin reports whether a visitor request may act for the site: from
// the widget frame (this server's origin) or from one of the site's pages.
func (s *Server) siteOrigin(r *http.Request, site store.Site) bool {
	if s.sameOrigin(r) {
		return true
	}
	o := r.Header.Get("Origin")
	for _, allowed := range strings.Fields(site.AllowedOrigins) {
		if o == allowed {
			return true
		}
	}
	return false
}

type widgetSessionReq struct {
	SiteID string `json:"site_id"`
	Token  string `json:"token"`
	Locale string `json:"locale"`
	// Page is the URL of the page the widget is on (for the site's page
	// rules).
	Page string `json:"page"`
	// Identity verification (either form): the customer's backend computed
	// UserHash = hex(HMAC-SHA256(site secret, UserID)), or signed an HS256
	// JWT (IdentityToken) with the site secret.
	UserID        string `json:"user_id"`
	UserHash      string `json:"user_hash"`
	IdentityToken string `json:"identity_token"`
	// Refresh is the visitor's refresh secret: with an expired Token it
	// gets the visitor back (see visitor_token.go).
	Refresh string `json:"refresh"`
}

// widgetSession gives the widget a visitor token: the same visitor again for
// a valid token of the same site, else a new visitor.
func (s *Server) widgetSession(c *gin.Context) {
	var req widgetSessionReq
	if !bindJSON(c, &req) {
		return
	}
	if req.Locale != "" && !isLanguageTag(req.Locale) {
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "locale must be a language tag such as en-US (letters, digits and dashes, at most 35)")
		return
	}
	ctx := c.Request.Context()
	site, err := s.store.SiteByID(ctx, req.SiteID)
	if errors.Is(err, store.ErrNotFound) {
		apiError(c, http.StatusNotFound, protocol.CodeNotFound, "unknown site")
		return
	}
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot start a chat right now")
		return
	}
	if !s.siteOrigin(c.Request, site) {
		apiError(c, http.StatusForbidden, codeOrigin, "this site does not allow chats from this origin")
		return
	}
	sc := s.store.Workspace(site.WorkspaceID)
	now := time.Now().UTC()
	ident, err := verifyIdentity(site, req, now)
	if err != nil {
		apiError(c, http.StatusForbidden, codeIdentity, err.Error())
		return
	}
	if site.IdentityRequired && ident == nil {
		apiError(c, http.StatusForbidden, codeIdentity, "this site requires identity verification (user_id + user_hash, or identity_token)")
		return
	}
	var (
		v       store.Visitor
		refresh string // a new refresh secret for the widget to keep
	)
	if ident != nil {
		// A verified user is the same visitor on every device.
		v, err = sc.VisitorByUser(ctx, site.ID, ident.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot start a chat right now")
			return
		}
	} else if req.Token != "" {
		// An anonymous visitor keeps their visitor.
		if v, refresh, err = s.restoreVisitor(ctx, sc, site, req.Token, req.Refresh, now); err != nil {
			apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot start a chat right now")
			return
		}
	}
	if v.ID == "" {
		if !s.allowHTTP(c, s.rules.VisitorSessionPerIP, s.clientKey(c.Request)) || !s.allowHTTP(c, s.rules.VisitorSessionPerSite, site.ID) {
			return
		}
		nv := store.Visitor{
			ID: uuid.NewString(), SiteID: site.ID, Name: fmt.Sprintf("Visitor %04d", rand.IntN(10000)),
			Locale: req.Locale, CreatedAt: now, LastSeenAt: now,
		}
		if ident != nil {
			nv.UserID, nv.Email = ident.UserID, store.Truncate(ident.Email, 320)
			if ident.Name != "" {
				nv.Name = store.Truncate(ident.Name, 200)
			}
		} else {
			refresh, nv.RefreshHash = newRefresh()
			nv.RefreshedAt = &now
		}
		v, err = sc.CreateVisitor(ctx, nv)
		if err != nil {
			apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot start a chat right now")
			return
		}
	}
	if ident != nil && ident.Email != "" && ident.Email != v.Email {
		// The customer's backend vouches for this email now: kept (sealed) for agents.
		if err := sc.SetVisitorEmail(ctx, v.ID, ident.Email); err != nil {
			s.log.Warn("cannot record the verified visitor's email", "visitor", v.ID, "err", err)
		}
	}
	if page := pageURL(req.Page); page != v.PageURL && page != "" {
		if err := sc.SetVisitorPage(ctx, v.ID, page); err != nil {
			s.log.Warn("cannot record the visitor's page", "visitor", v.ID, "err", err)
		}
	}
	token, exp := s.visitorToken(site, v, now)
	out := gin.H{
		"token":      token,
		"visitor":    gin.H{"id": v.ID, "name": v.Name, "verified": v.UserID != ""},
		"expires_at": exp.Format(time.RFC3339),
	}
	if refresh != "" {
		out["refresh"] = refresh
	}
	c.JSON(http.StatusOK, out)
}

// verifyIdentity checks the identity proof of a widget session request, if
// any. A request that claims a user without valid proof is refused.
func verifyIdentity(site store.Site, req widgetSessionReq, now time.Time) (*auth.Identity, error) {
	secret := []byte(site.Secret)
	switch {
	case req.IdentityToken != "":
		id, err := auth.VerifyIdentityJWT(secret, req.IdentityToken, now)
		if err != nil {
			return nil, fmt.Errorf("identity token refused: %w", err)
		}
		return &id, nil
	case req.UserID != "" || req.UserHash != "":
		if err := auth.VerifyUserHash(secret, req.UserID, req.UserHash); err != nil {
			return nil, fmt.Errorf("user hash refused: %w", err)
		}
		return &auth.Identity{UserID: req.UserID}, nil
	}
	return nil, nil
}

// pageURL is the page the widget is on, as kept for page rules and shown
// to agents: without query, fragment or credentials, which may carry
// secrets (reset links, tokens) and which page rules do not read.
func pageURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return store.Truncate(u.String(), 1000)
}

func (s *Server) visitorSocket(c *gin.Context) {
	token := c.Query("token")
	p, v, ok := s.visitorFromToken(c, token)
	if !ok {
		return
	}
	claims, _ := s.tokens.Verify(token, time.Now().UTC()) // verified just now
	s.upgrade(c, p, v.Locale, &claims)
}

// visitorFromToken authenticates a widget request by its visitor token: a
// valid token, a known site of the token's workspace, an allowed origin and
// a known visitor. Otherwise it answers the error itself and returns false.
func (s *Server) visitorFromToken(c *gin.Context, token string) (conversation.Participant, store.Visitor, bool) {
	claims, err := s.tokens.Verify(token, time.Now().UTC())
	if err != nil {
		apiError(c, http.StatusUnauthorized, codeUnauthorized, "visitor token is missing, invalid or expired; start a new session")
		return conversation.Participant{}, store.Visitor{}, false
	}
	ctx := c.Request.Context()
	site, err := s.store.SiteByID(ctx, claims.Site)
	if err != nil || site.WorkspaceID != claims.Workspace {
		apiError(c, http.StatusUnauthorized, codeUnauthorized, "unknown site")
		return conversation.Participant{}, store.Visitor{}, false
	}
	if !s.siteOrigin(c.Request, site) {
		apiError(c, http.StatusForbidden, codeOrigin, "this site does not allow chats from this origin")
		return conversation.Participant{}, store.Visitor{}, false
	}
	v, err := s.store.Workspace(site.WorkspaceID).Visitor(ctx, claims.Visitor)
	if err != nil {
		apiError(c, http.StatusUnauthorized, codeUnauthorized, "unknown visitor; start a new session")
		return conversation.Participant{}, store.Visitor{}, false
	}
	if why := proofLost(site, v, claims.Proof); why != "" {
		apiError(c, http.StatusUnauthorized, codeIdentity, why)
		return conversation.Participant{}, store.Visitor{}, false
	}
	return conversation.Participant{Kind: protocol.AuthorVisitor, ID: v.ID, Name: v.Name, WorkspaceID: site.WorkspaceID, SiteID: site.ID}, v, true
}

var demoPage = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Acme Outdoor — demo shop</title>
<style>
body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2433;background:#f6f7f9}
header{background:#1f4d3a;color:#fff;padding:18px 32px;font-weight:600;font-size:20px}
main{max-width:860px;margin:32px auto;padding:0 24px}
.card{background:#fff;border-radius:10px;padding:24px;margin-bottom:20px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
code{background:#eef1f4;padding:2px 6px;border-radius:4px}
</style></head><body>
<header>Acme Outdoor</header>
<main>
<div class="card"><h1>Trail Runner 2 — €129</h1>
<p>This is a demo customer page. It embeds the Parley widget with one script tag, exactly as a customer's site would. Click the chat button at the bottom right and write; answer from the <a href="/app/" target="_blank">agent dashboard</a>.</p></div>
<div class="card"><p>The tag on this page:</p><code>&lt;script src="{{.Origin}}/widget.js" data-site="{{.Site}}" async&gt;&lt;/script&gt;</code></div>
</main>
<script>window.Parley=window.Parley||function(){(Parley.q=Parley.q||[]).push(arguments)};Parley("boot",{site:"{{.Site}}"});</script>
<script src="{{.Origin}}/widget.js" data-site="{{.Site}}" async></script>
</body></html>`))

func (s *Server) demoPage(c *gin.Context) {
	if !s.cfg.Demo {
		apiError(c, http.StatusNotFound, "not_found", "the demo page is off")
		return
	}
	site, err := s.store.FirstSite(c.Request.Context())
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, "unavailable", "no site yet")
		return
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	demoPage.Execute(c.Writer, struct{ Origin, Site string }{s.cfg.PublicOrigin(), site.ID})
}

func asMaxBytes(err error, target **http.MaxBytesError) bool { return errors.As(err, target) }
