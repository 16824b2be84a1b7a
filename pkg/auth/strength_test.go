package auth

import (
	"errors"
	"testing"
)

// Weak passwords are refused with a reason; passphrases and random strings
// pass.
func TestPasswordStrength(t *testing.T) {
	personal := []string{"maria.garcia@acme-outdoor.example", "Maria Garcia", "Acme Outdoor"}
	for _, tc := range []struct {
		pw   string
		weak bool
	}{
		{"1234567890", true},   // common, and a run
		{"aaaaaaaaaa", true},   // one character
		{"abababababab", true}, // two
		{"password123", true},  // common
		{"Dragon2024!!", true}, // common word with digits and symbols around it
		{"qwertyuiop", true},
		{"0987654321", true},
		{"abcdefghijkl", true},
		{"zyxwvutsrqpo", true},
		{"qwertyasdfgh", true}, // two keyboard runs
		{"1qaz2wsx3edc", true},
		{"mariagarcia1", true}, // her name
		{"acmeoutdoor2024", true},
		{"Maria.Garcia@123", true},
		{"garcia-123456", true},
		{"correct horse battery staple", false},
		{"a long enough password", false},
		{"tX8#vq2Lm9pZ", false},
		{"maria loves blue kayaks", false}, // a name among other words
		{"bench-password-123", false},
	} {
		err := CheckPasswordStrength(tc.pw, personal...)
		if weak := err != nil; weak != tc.weak {
			t.Errorf("%q: weak %v (%v), want %v", tc.pw, weak, err, tc.weak)
		}
		if err != nil && !errors.Is(err, ErrWeakPassword) {
			t.Errorf("%q: %v is not ErrWeakPassword", tc.pw, err)
		}
	}
	if _, err := HashPassword("1234567890"); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("HashPassword(1234567890): %v, want a weak password error", err)
	}
	if len(common) < 9990 {
		t.Errorf("%d common passwords loaded, want the list's 10,000", len(common))
	}
}
