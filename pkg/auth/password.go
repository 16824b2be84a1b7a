// Package auth holds Parley's credentials: agent password hashes, signed
// visitor tokens and visitor identity verification.
package auth

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// MinPasswordLen is the shortest password an agent may choose.
const MinPasswordLen = 10

// ErrPasswordTooShort is returned by HashPassword for a short password.
var ErrPasswordTooShort = fmt.Errorf("password must be at least %d characters", MinPasswordLen)

// ErrPasswordTooLong is returned for passwords bcrypt would silently truncate.
var ErrPasswordTooLong = errors.New("password must be at most 72 bytes")

// HashPassword returns a bcrypt hash of a password an agent chooses: one
// of a length bcrypt keeps and strong enough (CheckPasswordStrength, with
// personal: the agent's email and name, the workspace's name).
func HashPassword(pw string, personal ...string) (string, error) {
	if utf8.RuneCountInString(pw) < MinPasswordLen {
		return "", ErrPasswordTooShort
	}
	if len(pw) > 72 {
		return "", ErrPasswordTooLong
	}
	if err := CheckPasswordStrength(pw, personal...); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether pw matches the hash. It takes the same time
// for a wrong password as for a right one.
func CheckPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// dummyHash lets callers spend bcrypt's time on an unknown email too, so that
// response times do not reveal which emails exist.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("parley-dummy-password"), bcrypt.DefaultCost)

// BurnPasswordCheck spends the time of one password check.
func BurnPasswordCheck(pw string) { _ = bcrypt.CompareHashAndPassword(dummyHash, []byte(pw)) }
