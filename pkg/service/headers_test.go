package service

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/parleychat/parley/pkg/store/storetest"
)

func TestParseOrigin(t *testing.T) {
	for raw, want := range map[string]string{
		"https://Shop.Example":     "https://shop.example",
		"https://shop.example/":    "https://shop.example",
		"http://127.0.0.1:8080":    "http://127.0.0.1:8080",
		"https://[::1]:8443":       "https://[::1]:8443",
		"https://xn--bcher-kva.ch": "https://xn--bcher-kva.ch",
	} {
		if got, err := parseOrigin(raw); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{
		"javascript:alert(1)", "https://", "https://shop.example/path", "https://shop.example?q", "https://u:p@shop.example",
		"https://a;b", "https://shop.example; script-src *", "https://*.example.com", "https://a'b", "https://a,b",
		"https://-bad.example", "https://a..b", "ftp://shop.example", "https://shop.example:http",
	} {
		if got, err := parseOrigin(raw); err == nil {
			t.Errorf("%q accepted as %q", raw, got)
		}
	}
}

// The agent app may not be framed by anyone; the widget frame only by the
// server itself and the site's allowed origins, and never by a value that
// would inject into its policy.
func TestFramingHeaders(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	get := func(path string) http.Header {
		t.Helper()
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
		return res.Header
	}
	for _, path := range []string{"/app/", "/app/conversations/x", invitePathPrefix + "sometoken"} {
		h := get(path)
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s may be framed: CSP %q, X-Frame-Options %q", path, csp, h.Get("X-Frame-Options"))
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
	}

	// Stored origins written before hosts were checked: the unclean ones
	// are left out of the frame's policy.
	sc := ts.st.Workspace(ts.site.WorkspaceID)
	if err := sc.UpdateSite(context.Background(), ts.site.ID, "https://shop.example https://evil;script-src * *", false); err != nil {
		t.Fatal(err)
	}
	csp := get("/widget/frame?site=" + ts.site.ID).Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, "frame-ancestors 'self' https://shop.example; ") {
		t.Fatalf("frame CSP %q", csp)
	}
	if strings.Contains(csp, "evil") || strings.Contains(csp, "script-src *") || strings.Count(csp, "frame-ancestors") != 1 {
		t.Fatalf("an unclean origin reached the frame's CSP: %q", csp)
	}
	// Images the frame fetched with the visitor's token show from blob:
	// URLs; no other image source is opened.
	if !strings.Contains(csp, "; img-src 'self' data: blob:;") {
		t.Fatalf("frame CSP %q: images from blob: URLs (attachments) only besides self and data:", csp)
	}
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID, map[string]any{"allowed_origins": []string{"https://evil;script-src *"}}, nil); code != http.StatusBadRequest {
		t.Fatalf("an origin with ';' saved: %d", code)
	}
}

// An upgrade never leaves a dashboard that pairs files of two builds: the
// files under fixed names are revalidated on every load (a 304 when
// unchanged), the chunks named by their content are cached for good.
func TestAgentAppCachePolicy(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	chunks, err := fs.Glob(appFS, "chunks/*.js")
	if err != nil || len(chunks) == 0 {
		t.Fatalf("no chunks in the agent app's dist (%v)", err)
	}
	get := func(path, etag string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	for _, path := range []string{"/app/", "/app/app.js", "/app/app.css", "/app/locale-fr.js", "/app/" + chunks[0]} {
		res := get(path, "")
		want := "no-cache"
		if strings.Contains(path, "/chunks/") {
			want = "public, max-age=31536000, immutable"
		}
		if res.StatusCode != 200 || res.Header.Get("Cache-Control") != want || res.Header.Get("ETag") == "" {
			t.Fatalf("%s: %d, Cache-Control %q (want %q), ETag %q", path, res.StatusCode, res.Header.Get("Cache-Control"), want, res.Header.Get("ETag"))
		}
		again := get(path, res.Header.Get("ETag"))
		if again.StatusCode != http.StatusNotModified {
			t.Fatalf("%s revalidated with its ETag: %d, want 304", path, again.StatusCode)
		}
		if other := get(path, `"an older build"`); other.StatusCode != 200 {
			t.Fatalf("%s with another build's ETag: %d, want 200", path, other.StatusCode)
		}
	}
}
