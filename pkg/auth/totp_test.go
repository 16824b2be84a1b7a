package auth

import (
	"encoding/base32"
	"testing"
	"time"
)

// RFC 6238 appendix B's SHA-1 vectors (secret "12345678901234567890"),
// last 6 of their 8 digits.
func TestTOTPCodeRFC6238Vectors(t *testing.T) {
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))
	for _, v := range []struct {
		unix int64
		code string
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}} {
		if got := TOTPCode(secret, TOTPStep(time.Unix(v.unix, 0))); got != v.code {
			t.Errorf("t=%d: %s, want %s", v.unix, got, v.code)
		}
	}
}

func TestCheckTOTPSkew(t *testing.T) {
	secret := NewTOTPSecret()
	now := time.Unix(1_800_000_000, 0)
	step := TOTPStep(now)
	for d, ok := range map[int64]bool{-2: false, -1: true, 0: true, 1: true, 2: false} {
		got, match := CheckTOTP(secret, TOTPCode(secret, step+d), now)
		if match != ok || (ok && got != step+d) {
			t.Errorf("step %+d: matched %v at %d, want %v", d, match, got, ok)
		}
	}
	if _, ok := CheckTOTP(secret, "12345", now); ok {
		t.Error("a 5-digit code matched")
	}
}
