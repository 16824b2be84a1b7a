package service

import (
	"context"
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
