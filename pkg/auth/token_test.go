package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVisitorToken(t *testing.T) {
	s := NewTokenSigner([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Now()
	c := VisitorClaims{Workspace: "w1", Site: "s1", Visitor: "v1", Expires: now.Add(time.Hour)}
	tok := s.Sign(c)
	got, err := s.Verify(tok, now)
	if err != nil || got.Visitor != "v1" || got.Site != "s1" || got.Workspace != "w1" {
		t.Fatalf("verify: %+v %v", got, err)
	}
	if _, err := s.Verify(tok, now.Add(2*time.Hour)); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired: %v", err)
	}
	// An expired token still names its visitor for a refresh, within maxAge.
	if got, err := s.VerifyExpired(tok, now.Add(2*time.Hour), 24*time.Hour); err != nil || got.Visitor != "v1" {
		t.Fatalf("expired within max age: %+v %v", got, err)
	}
	if _, err := s.VerifyExpired(tok, now.Add(26*time.Hour), 24*time.Hour); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired beyond max age: %v", err)
	}
	other := NewTokenSigner([]byte("another-key-another-key-another!!"))
	if _, err := other.VerifyExpired(tok, now, time.Hour); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("forged, expired path: %v", err)
	}
	if _, err := other.Verify(tok, now); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("forged: %v", err)
	}
	// Changing the payload (claiming another visitor) breaks the MAC.
	forged := strings.Replace(tok, tok[3:10], "AAAAAAA", 1)
	if _, err := s.Verify(forged, now); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("tampered: %v", err)
	}
	for _, bad := range []string{"", "v1.", "v1.x", "v2.a.b", "v1.a.b.c", strings.Repeat("v", 5000)} {
		if _, err := s.Verify(bad, now); !errors.Is(err, ErrTokenInvalid) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

func TestPassword(t *testing.T) {
	if _, err := HashPassword("short"); !errors.Is(err, ErrPasswordTooShort) {
		t.Fatal(err)
	}
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "correct horse battery") || CheckPassword(h, "wrong horse battery") {
		t.Fatal("check")
	}
}
