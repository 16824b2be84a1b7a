package service

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// Weak passwords are refused wherever an agent gets one: created by an
// admin, chosen on an invite, or the first admin's PARLEY_ADMIN_PASSWORD;
// the answer says what makes the password weak.
func TestWeakPasswordsAreRefused(t *testing.T) {
	ts := newTestServerWith(t, storetest.SQLite(t), nil, ratelimit.Rules{})
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	for _, pw := range []string{"1234567890", "aaaaaaaaaa", "password123", "kim@parley.local", "qwertyuiop"} {
		var e struct{ Error, Code string }
		code := admin.call(t, "POST", "/api/agents", map[string]any{"email": "kim@parley.local", "name": "Kim", "password": pw}, &e)
		if code != http.StatusBadRequest || e.Code != codeWeakPassword || e.Error == "" {
			t.Errorf("new agent with password %q: %d %+v, want 400 %s", pw, code, e, codeWeakPassword)
		}
	}
	if code := admin.call(t, "POST", "/api/agents", map[string]any{"email": "kim@parley.local", "name": "Kim", "password": "kim paints green boats"}, nil); code != http.StatusCreated {
		t.Errorf("new agent with a passphrase: %d, want 201", code)
	}

	var created struct{ Link string }
	if code := admin.call(t, "POST", "/api/invites", map[string]string{"email": "lee@parley.local", "role": "agent"}, &created); code != http.StatusCreated {
		t.Fatalf("invite: %d", code)
	}
	token := created.Link[len(created.Link)-64:]
	var e struct{ Code string }
	if code := ts.anonymous().call(t, "POST", "/api/invites/accept", map[string]string{"token": token, "name": "Lee", "password": "0987654321"}, &e); code != http.StatusBadRequest || e.Code != codeWeakPassword {
		t.Errorf("invite accepted with 0987654321: %d %q, want 400 %s", code, e.Code, codeWeakPassword)
	}

	cfg, err := config.Load([]string{"-admin-password", "aaaaaaaaaaaa", "-data-dir", t.TempDir()}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bootstrap(context.Background(), storetest.SQLite(t), cfg); !errors.Is(err, auth.ErrWeakPassword) {
		t.Errorf("first run with PARLEY_ADMIN_PASSWORD=aaaaaaaaaaaa: %v, want a weak password error", err)
	}
}
