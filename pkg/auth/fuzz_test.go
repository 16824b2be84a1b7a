package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Fuzz targets for everything in this package that parses attacker input.
// Seeds live in testdata/fuzz/<FuzzName>/ (Go's corpus format) plus the f.Add
// calls below; `go test` runs them all, `go test -fuzz=FuzzName` explores.

// fuzzNow is the clock the committed corpus was minted against.
var fuzzNow = time.Unix(1_780_000_000, 0)

func FuzzVerifyIdentityJWT(f *testing.F) {
	f.Add(makeJWT(f, identitySecret, hs256, map[string]any{
		"sub": "user-42", "email": "ada@example.com", "name": "Ada", "iat": fuzzNow.Unix(), "exp": fuzzNow.Unix() + 600,
	}), int64(0))
	f.Add(makeJWT(f, identitySecret, map[string]any{"alg": "none"}, map[string]any{"sub": "u", "exp": fuzzNow.Unix() + 60}), int64(0))
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.", int64(-1<<62))
	f.Add("..", int64(1<<62))
	f.Fuzz(func(t *testing.T, token string, offset int64) {
		now := fuzzNow.Add(time.Duration(offset))
		id, err := VerifyIdentityJWT(identitySecret, token, now)
		if err != nil {
			if id != (Identity{}) {
				t.Fatalf("error %v with non-empty identity %+v", err, id)
			}
			if !errors.Is(err, ErrIdentityInvalid) && !errors.Is(err, ErrIdentityExpired) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		// Success is only possible for a token signed with identitySecret, so
		// whatever passed must satisfy every documented limit.
		if len(token) > MaxIdentityJWTLen || strings.Count(token, ".") != 2 {
			t.Fatalf("accepted malformed token %q", token)
		}
		if id.UserID == "" || len(id.UserID) > MaxUserIDLen || len(id.Email) > MaxIdentityEmailLen || len(id.Name) > MaxIdentityNameLen {
			t.Fatalf("accepted identity outside limits: %+v", id)
		}
		for _, s := range []string{id.UserID, id.Email, id.Name} {
			if !utf8.ValidString(s) {
				t.Fatalf("accepted invalid UTF-8: %q", s)
			}
		}
		// A different secret must never accept the same token.
		if _, err := VerifyIdentityJWT([]byte("some-other-secret"), token, now); err == nil {
			t.Fatalf("token verified under two secrets: %q", token)
		}
	})
}

// visitorSigner is the signer the FuzzVisitorToken corpus was minted with.
var visitorSigner = NewTokenSigner([]byte("0123456789abcdef0123456789abcdef"))

func FuzzVisitorToken(f *testing.F) {
	f.Add(visitorSigner.Sign(VisitorClaims{Workspace: "w1", Site: "s1", Visitor: "v1", Expires: fuzzNow.Add(time.Hour)}), int64(0))
	f.Add(visitorSigner.Sign(VisitorClaims{Workspace: "w1", Site: "s1", Visitor: "v1", UserID: "user-42", Expires: fuzzNow.Add(time.Hour)}), int64(2*time.Hour))
	f.Add("v1.e30.", int64(0))
	f.Add("v1..", int64(-1))
	f.Fuzz(func(t *testing.T, token string, offset int64) {
		now := fuzzNow.Add(time.Duration(offset))
		c, err := visitorSigner.Verify(token, now)
		if err != nil {
			if c != (VisitorClaims{}) {
				t.Fatalf("error %v with claims %+v", err, c)
			}
			if !errors.Is(err, ErrTokenInvalid) && !errors.Is(err, ErrTokenExpired) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if len(token) > MaxTokenLen || c.Workspace == "" || c.Site == "" || c.Visitor == "" || !now.Before(c.Expires) {
			t.Fatalf("accepted %q as %+v", token, c)
		}
		if _, err := NewTokenSigner([]byte("another-key-another-key-another!!")).Verify(token, now); err == nil {
			t.Fatalf("token verified under two keys: %q", token)
		}
		// What verified once re-signs to a token that verifies to the same claims.
		again, err := visitorSigner.Verify(visitorSigner.Sign(c), now)
		if err != nil || !sameClaims(again, c) {
			t.Fatalf("re-sign of %+v: %+v, %v", c, again, err)
		}
	})
}

// FuzzVisitorTokenRoundTrip checks that Sign's output always verifies to the
// claims it was given, for any field text a caller might pass.
func FuzzVisitorTokenRoundTrip(f *testing.F) {
	f.Add("w1", "s1", "v1", "", int64(3600))
	f.Add("wörkspace", "site", "visitor", "user@example.com", int64(1))
	f.Fuzz(func(t *testing.T, ws, site, visitor, user string, ttl int64) {
		if ws == "" || site == "" || visitor == "" || ttl <= 0 {
			return
		}
		if !utf8.ValidString(ws) || !utf8.ValidString(site) || !utf8.ValidString(visitor) || !utf8.ValidString(user) {
			// encoding/json replaces invalid UTF-8 with U+FFFD, so such text
			// cannot round-trip; IDs are ASCII in practice.
			return
		}
		c := VisitorClaims{Workspace: ws, Site: site, Visitor: visitor, UserID: user,
			Expires: fuzzNow.Add(time.Duration(ttl%int64(365*24*time.Hour)) + time.Second)}
		tok := visitorSigner.Sign(c)
		got, err := visitorSigner.Verify(tok, fuzzNow)
		if len(tok) > MaxTokenLen {
			if !errors.Is(err, ErrTokenInvalid) {
				t.Fatalf("over-long token: %v", err)
			}
			return
		}
		want := c
		want.Expires = c.Expires.UTC().Truncate(time.Second)
		if err != nil || !sameClaims(got, want) {
			t.Fatalf("round trip of %+v: got %+v, %v", want, got, err)
		}
	})
}

func sameClaims(a, b VisitorClaims) bool {
	return a.Workspace == b.Workspace && a.Site == b.Site && a.Visitor == b.Visitor &&
		a.UserID == b.UserID && a.Expires.Equal(b.Expires)
}
