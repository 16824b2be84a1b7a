package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Visitor token errors.
var (
	ErrTokenInvalid = errors.New("visitor token is invalid")
	ErrTokenExpired = errors.New("visitor token has expired")
)

// VisitorClaims is what a visitor token proves: this visitor of this site
// (of this workspace), until Expires. UserID is set when the site's backend
// verified the visitor's identity.
type VisitorClaims struct {
	Workspace string `json:"w"`
	Site      string `json:"s"`
	Visitor   string `json:"v"`
	UserID    string `json:"u,omitempty"`
	// Proof names what a verified user's proof rested on (a fingerprint
	// of the site's identity secret when it was checked): renewal and new
	// sockets compare it with the site's secret now, so a rotation
	// revokes the tokens proven with the old one.
	Proof   string    `json:"p,omitempty"`
	Expires time.Time `json:"e"`
}

// TokenSigner signs and verifies visitor tokens with a server secret
// (HMAC-SHA256). Tokens look like "v1.<payload>.<mac>", base64url.
type TokenSigner struct{ key []byte }

// NewTokenSigner returns a signer; key should be at least 32 random bytes.
func NewTokenSigner(key []byte) *TokenSigner { return &TokenSigner{key: append([]byte(nil), key...)} }

const tokenPrefix = "v1."

// MaxTokenLen bounds what Verify will even look at.
const MaxTokenLen = 1024

// Sign returns a token for the claims.
func (s *TokenSigner) Sign(c VisitorClaims) string {
	c.Expires = c.Expires.UTC().Truncate(time.Second)
	payload, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(payload)
	return tokenPrefix + p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p))
}

func (s *TokenSigner) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(tokenPrefix))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// Verify checks the token's signature and expiry and returns its claims.
func (s *TokenSigner) Verify(token string, now time.Time) (VisitorClaims, error) {
	c, err := s.verifySignature(token)
	if err != nil {
		return VisitorClaims{}, err
	}
	if !now.Before(c.Expires) {
		return VisitorClaims{}, ErrTokenExpired
	}
	return c, nil
}

// VerifyExpired checks the signature of a token that may have expired, up
// to maxAge ago, and returns its claims. Such a token proves nothing alone;
// it names the site and visitor that a refresh secret must match.
func (s *TokenSigner) VerifyExpired(token string, now time.Time, maxAge time.Duration) (VisitorClaims, error) {
	c, err := s.verifySignature(token)
	if err != nil {
		return VisitorClaims{}, err
	}
	if !now.Before(c.Expires.Add(maxAge)) {
		return VisitorClaims{}, ErrTokenExpired
	}
	return c, nil
}

func (s *TokenSigner) verifySignature(token string) (VisitorClaims, error) {
	var c VisitorClaims
	if len(token) > MaxTokenLen || !strings.HasPrefix(token, tokenPrefix) {
		return c, ErrTokenInvalid
	}
	p, sig, ok := strings.Cut(token[len(tokenPrefix):], ".")
	if !ok {
		return c, ErrTokenInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(p)) {
		return c, ErrTokenInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || json.Unmarshal(raw, &c) != nil || c.Visitor == "" || c.Site == "" || c.Workspace == "" {
		return VisitorClaims{}, ErrTokenInvalid
	}
	return c, nil
}
