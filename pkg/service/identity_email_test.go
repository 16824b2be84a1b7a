package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/store/storetest"
)

// identityJWT signs an HS256 identity token as a customer's backend would.
func identityJWT(secret []byte, claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "HS256", "typ": "JWT"}) + "." + enc(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// The email a verified identity token carries is kept on the visitor (the
// store seals it), and follows what the customer's backend says last.
func TestVerifiedEmailIsKeptOnTheVisitor(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	secret := []byte(ts.site.Secret)
	token := func(email string) string {
		now := time.Now()
		return identityJWT(secret, map[string]any{"sub": "cust-7", "email": email, "name": "Ada", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
	}
	sc := ts.st.Workspace(ts.site.WorkspaceID)
	for _, email := range []string{"ada@example.com", "ada@newmail.example"} {
		code, out := ts.session(t, widgetSessionReq{IdentityToken: token(email)})
		if code != 200 || !out.Visitor.Verified {
			t.Fatalf("session with %s: %d %+v", email, code, out)
		}
		v, err := sc.Visitor(context.Background(), out.Visitor.ID)
		if err != nil || v.Email != email || v.Name != "Ada" {
			t.Fatalf("visitor %+v %v, want email %s", v, err, email)
		}
	}
	// An anonymous visitor has none.
	_, anon := ts.session(t, widgetSessionReq{})
	if v, err := sc.Visitor(context.Background(), anon.Visitor.ID); err != nil || v.Email != "" {
		t.Fatalf("anonymous visitor %+v %v", v, err)
	}
}
