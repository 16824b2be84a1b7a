package service

import (
	"net/http"
	"strings"
	"testing"

	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// A public URL written in capitals (HTTPS://…) is still HTTPS: the
// session cookies are Secure and every answer carries HSTS, as with
// https://…. (TLS is terminated by a proxy in front, so the test server
// itself speaks plain HTTP.)
func TestUppercasePublicURLKeepsSecureCookiesAndHSTS(t *testing.T) {
	ts := newTestServerWith(t, storetest.SQLite(t), nil, ratelimit.Rules{}, "-public-url", "HTTPS://Chat.Example.COM")
	res, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if !strings.HasPrefix(res.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Fatalf("HSTS %q, want max-age=…", res.Header.Get("Strict-Transport-Security"))
	}
	req, _ := http.NewRequest("POST", ts.URL+"/api/auth/login", strings.NewReader(`{"email":"admin@parley.local","password":"`+adminPassword+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://chat.example.com")
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("login: %v %v", err, res)
	}
	res.Body.Close()
	if len(res.Cookies()) == 0 {
		t.Fatal("no cookies set at sign-in")
	}
	for _, ck := range res.Cookies() {
		if !ck.Secure {
			t.Errorf("cookie %s is not Secure", ck.Name)
		}
	}
}
