package service

import (
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	agentapp "github.com/parleychat/parley/agent-app"
	"github.com/parleychat/parley/widget"
)

// The files the server serves: the widget's loader, frame and assets, the
// agent app, and the demo page.

var (
	widgetFS = widget.Dist()
	appFS    = agentapp.Dist()
)

// serveFile answers with an embedded file, its cache policy and an ETag
// of its bytes, and with 304 when the browser's copy is that one: files
// under a fixed name ("no-cache") are revalidated on each load for a few
// bytes, not downloaded again.
func serveFile(c *gin.Context, fsys fs.FS, name, contentType, cache string) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		apiError(c, http.StatusNotFound, "not_found", "no such file")
		return
	}
	tag := etagOf(fsys, name, b)
	c.Header("Cache-Control", cache)
	c.Header("ETag", tag)
	if c.GetHeader("If-None-Match") == tag {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, contentType, b)
}

// etags holds each embedded file's ETag: the files never change while
// the process runs.
var etags sync.Map // etagKey → string

type etagKey struct {
	fsys fs.FS
	name string
}

func etagOf(fsys fs.FS, name string, b []byte) string {
	key := etagKey{fsys, name}
	if tag, ok := etags.Load(key); ok {
		return tag.(string)
	}
	sum := sha256.Sum256(b)
	tag := `"` + hex.EncodeToString(sum[:12]) + `"`
	etags.Store(key, tag)
	return tag
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
// the site's allowed origins may frame it. Images may be blob: URLs: the
// frame fetches a conversation's images with the visitor's token (never
// in an address) and shows them from memory.
func (s *Server) widgetFrame(c *gin.Context) {
	site, err := s.store.SiteByID(c.Request.Context(), c.Query("site"))
	if err != nil {
		apiError(c, http.StatusNotFound, "not_found", "unknown site")
		return
	}
	c.Header("Content-Security-Policy", "frame-ancestors "+frameAncestors(site.AllowedOrigins)+
		"; default-src 'self'; connect-src 'self' "+wsOrigin(s.cfg.PublicOrigin())+"; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'")
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
	// Chunks are named by their content (build.mjs): cached for good. The
	// files under fixed names (app.js, app.css, locale-*.js, index.html) are
	// revalidated on every load, so a page never pairs a new index.html
	// or app.js with an old one from the cache, whose chunk imports would
	// name files that an upgrade removed.
	cache := "no-cache"
	if strings.HasPrefix(name, "chunks/") {
		cache = "public, max-age=31536000, immutable"
	}
	if name == "index.html" {
		c.Header("Content-Security-Policy", "default-src 'self'; connect-src 'self' "+wsOrigin(s.cfg.PublicOrigin())+
			"; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		c.Header("X-Frame-Options", "DENY")
	}
	serveFile(c, appFS, name, contentType(name), cache)
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
