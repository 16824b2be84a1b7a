package service

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// request sends method path with the given headers and body and returns
// the status and the error code of the answer.
func request(t *testing.T, hc *http.Client, method, url string, h map[string]string, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body == "" {
		req.Body, req.ContentLength = nil, 0
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e struct{ Error, Code string }
	json.NewDecoder(res.Body).Decode(&e)
	if res.StatusCode >= 400 && (e.Error == "" || e.Code == "") {
		t.Errorf("%s %s: HTTP %d without {error, code}", method, url, res.StatusCode)
	}
	return res.StatusCode, e.Code
}

// Login CSRF: sign-in takes only JSON from the agent app's own origin (or,
// from a browser that sends no Origin, Sec-Fetch-Site: same-origin), so a
// form or text/plain post from another site cannot sign a browser into the
// attacker's account.
func TestSignInOnlyFromTheAppsOwnPagesAsJSON(t *testing.T) {
	ts := newTestServerWith(t, storetest.SQLite(t), nil, ratelimit.Rules{})
	creds := `{"email":"admin@parley.local","password":"` + adminPassword + `"}`
	form := "email=admin%40parley.local&password=" + strings.ReplaceAll(adminPassword, " ", "+")
	login := ts.URL + "/api/auth/login"
	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    string
		status  int
		code    string
	}{
		{"text/plain from another site", map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"}, creds, 403, codeOrigin},
		{"text/plain from its own origin", map[string]string{"Content-Type": "text/plain", "Origin": ts.origin()}, creds, 415, codeMediaType},
		{"a form from its own origin", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": ts.origin()}, form, 415, codeMediaType},
		{"no content type", map[string]string{"Origin": ts.origin()}, creds, 415, codeMediaType},
		{"JSON from another site", map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, creds, 403, codeOrigin},
		{"JSON with Origin: null", map[string]string{"Content-Type": "application/json", "Origin": "null"}, creds, 403, codeOrigin},
		{"JSON without Origin", map[string]string{"Content-Type": "application/json"}, creds, 403, codeOrigin},
		{"JSON, no Origin, cross-site fetch", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, creds, 403, codeOrigin},
		{"JSON, no Origin, same-origin fetch", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}, creds, 200, ""},
		{"JSON from its own origin", map[string]string{"Content-Type": "application/json; charset=utf-8", "Origin": ts.origin()}, creds, 200, ""},
	} {
		if status, code := request(t, http.DefaultClient, "POST", login, tc.headers, tc.body); status != tc.status || code != tc.code {
			t.Errorf("sign-in, %s: HTTP %d %q, want %d %q", tc.name, status, code, tc.status, tc.code)
		}
	}
}

// Every cookie-authenticated write (found by walking the route table: the
// /api writes that answer 401 without a session) refuses another site's
// Origin even with the right CSRF token, and a body that is not JSON.
func TestCookieWritesOnlyFromTheAppsOwnPagesAsJSON(t *testing.T) {
	ts := newTestServerWith(t, storetest.SQLite(t), nil, ratelimit.Rules{})
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	cookie := admin.cookieHeader()
	writes := 0
	for _, r := range ts.srv.routes() {
		if r.Method == "GET" || !strings.HasPrefix(r.Path, "/api/") || strings.HasPrefix(r.Path, "/api/widget/") || r.Path == "/api/auth/login" ||
			strings.HasPrefix(r.Path, "/api/v1/") {
			continue // visitors' writes carry a token, not a cookie; sign-in is above; /api/v1 reads only a bearer token, never a cookie (api_v1_test.go)
		}
		url := ts.URL + strings.NewReplacer(":id", "x", ":token", "x").Replace(r.Path)
		json := map[string]string{"Content-Type": "application/json", "Origin": ts.origin()}
		if status, _ := request(t, http.DefaultClient, r.Method, url, json, "{}"); status != http.StatusUnauthorized {
			continue // not authenticated by the cookie
		}
		writes++
		for _, tc := range []struct {
			name    string
			headers map[string]string
			body    string
			status  int
			code    string
		}{
			{"from another site", map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, "{}", 403, codeOrigin},
			{"without Origin", map[string]string{"Content-Type": "application/json"}, "{}", 403, codeOrigin},
			{"as text/plain", map[string]string{"Content-Type": "text/plain", "Origin": ts.origin()}, "{}", 415, codeMediaType},
			{"without the CSRF token", map[string]string{"Content-Type": "application/json", "Origin": ts.origin(), csrfHeader: ""}, "{}", 403, codeCSRF},
		} {
			tc.headers["Cookie"] = cookie
			if _, set := tc.headers[csrfHeader]; !set {
				tc.headers[csrfHeader] = admin.csrf
			}
			if status, code := request(t, http.DefaultClient, r.Method, url, tc.headers, tc.body); status != tc.status || code != tc.code {
				t.Errorf("%s %s %s: HTTP %d %q, want %d %q", r.Method, r.Path, tc.name, status, code, tc.status, tc.code)
			}
		}
	}
	if writes < 16 { // the table has 16 when this was written
		t.Fatalf("found %d cookie-authenticated writes in the route table, want them all (16+)", writes)
	}
	// The app's own request still passes: JSON from its origin.
	if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID, map[string]any{"allowed_origins": []string{"https://shop.example"}}, nil); code != http.StatusOK {
		t.Fatalf("PATCH site from the app: %d", code)
	}
}
