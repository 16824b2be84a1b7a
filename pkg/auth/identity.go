package auth

// Identity verification: a site may require the widget to prove that a
// visitor is a known user of the customer's site. The customer's backend,
// which holds the site's identity secret, vouches for the user in one of the
// two forms other chat products use, so customers can reuse their code:
//
//   - a user hash: hex(HMAC-SHA256(secret, userID)), checked by VerifyUserHash;
//   - a short-lived HS256 JWT with sub/email/name/exp, checked by
//     VerifyIdentityJWT.
//
// Neither function logs or returns the secret or the token: error messages
// name the rule that failed and nothing the caller sent.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Identity verification errors. Every failure wraps exactly one of them, so
// callers can answer with errors.Is and still log the wrapped reason.
var (
	// ErrIdentityInvalid: the proof is malformed, forged, signed with another
	// secret, for another user, or breaks a limit (length, lifetime, alg).
	ErrIdentityInvalid = errors.New("visitor identity is invalid")
	// ErrIdentityExpired: a JWT whose exp (plus the allowed clock skew) has
	// passed. The widget should fetch a fresh token from the customer's backend.
	ErrIdentityExpired = errors.New("visitor identity token has expired")
	// ErrIdentityNoSecret: the site has no identity secret configured, so no
	// proof can be checked. A configuration error, not the visitor's fault.
	ErrIdentityNoSecret = errors.New("site has no identity secret configured")
)

// Limits on what identity verification will look at. Anything longer is
// rejected before any cryptography runs.
const (
	// MaxUserIDLen bounds the user id (bytes) in both forms.
	MaxUserIDLen = 256
	// MaxIdentityEmailLen bounds the email claim (bytes), the SMTP path limit.
	MaxIdentityEmailLen = 254
	// MaxIdentityNameLen bounds the name claim (bytes).
	MaxIdentityNameLen = 256
	// MaxIdentityJWTLen bounds the whole JWT (bytes).
	MaxIdentityJWTLen = 4096
	// IdentityClockSkew is how far the customer's clock may differ from ours
	// for exp, nbf and iat.
	IdentityClockSkew = 60 * time.Second
	// MaxIdentityLifetime is the longest a JWT may be valid: exp at most this
	// far after iat, and at most this far (plus skew) after now. A leaked
	// long-lived token would let anyone impersonate the user, so the customer
	// must mint short-lived ones.
	MaxIdentityLifetime = 24 * time.Hour
)

// Identity is a visitor identity vouched for by the customer's backend.
// UserID is never empty; Email and Name may be.
type Identity struct {
	UserID string
	Email  string
	Name   string
}

// UserHash returns hex(HMAC-SHA256(secret, userID)) in lower case: the value
// the customer's backend computes. Parley uses it in tests and to show a
// worked example in the site settings.
func UserHash(secret []byte, userID string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(userID))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyUserHash checks that hash is hex(HMAC-SHA256(secret, userID)).
// Hex is accepted in either case. The comparison takes constant time in the
// content of hash. It returns nil on success, ErrIdentityNoSecret when secret
// is empty, and an error wrapping ErrIdentityInvalid otherwise.
func VerifyUserHash(secret []byte, userID, hash string) error {
	if len(secret) == 0 {
		return ErrIdentityNoSecret
	}
	if err := checkUserID(userID); err != nil {
		return err
	}
	if len(hash) != hex.EncodedLen(sha256.Size) {
		return fmt.Errorf("%w: user hash must be %d hex characters", ErrIdentityInvalid, hex.EncodedLen(sha256.Size))
	}
	got, err := hex.DecodeString(hash)
	if err != nil {
		return fmt.Errorf("%w: user hash is not hex", ErrIdentityInvalid)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(userID))
	if !hmac.Equal(got, m.Sum(nil)) {
		return fmt.Errorf("%w: user hash does not match the user id", ErrIdentityInvalid)
	}
	return nil
}

func checkUserID(userID string) error {
	if userID == "" {
		return fmt.Errorf("%w: user id is empty", ErrIdentityInvalid)
	}
	if len(userID) > MaxUserIDLen {
		return fmt.Errorf("%w: user id is longer than %d bytes", ErrIdentityInvalid, MaxUserIDLen)
	}
	return checkText("user id", userID)
}

// checkText rejects invalid UTF-8 and control characters: a legitimate user
// id, email or name has none, and they would corrupt logs and agent screens.
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrIdentityInvalid, what)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%w: %s contains a control character", ErrIdentityInvalid, what)
		}
	}
	return nil
}

// jwtHeader is the part of a JOSE header we read. Crit is only detected:
// RFC 7515 §4.1.11 says a verifier must reject extensions it does not know.
type jwtHeader struct {
	Alg  string          `json:"alg"`
	Typ  *string         `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// identityClaims are the JWT claims we read. Times are pointers so that an
// absent claim differs from 0; they are float64 because JSON numbers such as
// 1.7e9 or 1700000000.5 are legal NumericDates.
type identityClaims struct {
	Sub   *string  `json:"sub"`
	Email *string  `json:"email"`
	Name  *string  `json:"name"`
	Exp   *float64 `json:"exp"`
	Iat   *float64 `json:"iat"`
	Nbf   *float64 `json:"nbf"`
}

var b64url = base64.RawURLEncoding.Strict()

// VerifyIdentityJWT checks an HS256 JWT signed with secret and returns the
// identity it carries. now is the verifier's clock.
//
// Rules: at most MaxIdentityJWTLen bytes; header alg exactly "HS256" (so
// "none", RS256 and every other alg are refused), typ absent or "JWT", no
// crit; valid signature (constant-time compare); sub a non-empty string; exp
// required; now < exp + IdentityClockSkew; exp ≤ now + MaxIdentityLifetime +
// IdentityClockSkew; iat, when present, not in the future (beyond skew) and
// exp − iat ≤ MaxIdentityLifetime; nbf, when present, ≤ now + skew. Other
// claims (iss, aud, jti, …) are ignored: the secret is per site, so a token
// for one site never verifies for another.
//
// Errors: ErrIdentityExpired for a passed exp, ErrIdentityNoSecret when secret
// is empty, otherwise an error wrapping ErrIdentityInvalid.
func VerifyIdentityJWT(secret []byte, token string, now time.Time) (Identity, error) {
	if len(secret) == 0 {
		return Identity{}, ErrIdentityNoSecret
	}
	if len(token) > MaxIdentityJWTLen {
		return Identity{}, fmt.Errorf("%w: token is longer than %d bytes", ErrIdentityInvalid, MaxIdentityJWTLen)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Identity{}, fmt.Errorf("%w: token is not a JWS compact serialization (header.payload.signature)", ErrIdentityInvalid)
	}
	var h jwtHeader
	if err := decodeSegment(parts[0], &h); err != nil {
		return Identity{}, fmt.Errorf("%w: header: %v", ErrIdentityInvalid, err)
	}
	if h.Alg != "HS256" {
		// Deliberately not echoing h.Alg: it is attacker-controlled text.
		return Identity{}, fmt.Errorf("%w: alg must be HS256", ErrIdentityInvalid)
	}
	if h.Typ != nil && !strings.EqualFold(*h.Typ, "JWT") {
		return Identity{}, fmt.Errorf("%w: typ must be JWT", ErrIdentityInvalid)
	}
	if h.Crit != nil {
		return Identity{}, fmt.Errorf("%w: crit header extensions are not supported", ErrIdentityInvalid)
	}
	sig, err := b64url.DecodeString(parts[2])
	if err != nil {
		return Identity{}, fmt.Errorf("%w: signature is not base64url", ErrIdentityInvalid)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(parts[0]))
	m.Write([]byte{'.'})
	m.Write([]byte(parts[1]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return Identity{}, fmt.Errorf("%w: signature does not match (wrong secret or altered token)", ErrIdentityInvalid)
	}

	// Only signed bytes are parsed from here on.
	var c identityClaims
	if err := decodeSegment(parts[1], &c); err != nil {
		return Identity{}, fmt.Errorf("%w: payload: %v", ErrIdentityInvalid, err)
	}
	if err := checkTimes(c, now); err != nil {
		return Identity{}, err
	}
	if c.Sub == nil {
		return Identity{}, fmt.Errorf("%w: sub (the user id) is required", ErrIdentityInvalid)
	}
	if err := checkUserID(*c.Sub); err != nil {
		return Identity{}, err
	}
	id := Identity{UserID: *c.Sub}
	if c.Email != nil {
		if len(*c.Email) > MaxIdentityEmailLen {
			return Identity{}, fmt.Errorf("%w: email is longer than %d bytes", ErrIdentityInvalid, MaxIdentityEmailLen)
		}
		if err := checkText("email", *c.Email); err != nil {
			return Identity{}, err
		}
		id.Email = *c.Email
	}
	if c.Name != nil {
		if len(*c.Name) > MaxIdentityNameLen {
			return Identity{}, fmt.Errorf("%w: name is longer than %d bytes", ErrIdentityInvalid, MaxIdentityNameLen)
		}
		if err := checkText("name", *c.Name); err != nil {
			return Identity{}, err
		}
		id.Name = *c.Name
	}
	return id, nil
}

// decodeSegment base64url-decodes one JWT segment and unmarshals the JSON
// object in it. Errors name the problem without echoing the input.
func decodeSegment(seg string, v any) error {
	raw, err := b64url.DecodeString(seg)
	if err != nil {
		return errors.New("not base64url without padding")
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return errors.New("not a JSON object")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return errors.New("not a valid JSON object of the expected types")
	}
	return nil
}

// checkTimes applies the exp/iat/nbf rules in float seconds since the epoch,
// the unit of JWT NumericDate, so no claim value can overflow a conversion.
func checkTimes(c identityClaims, now time.Time) error {
	nowS := float64(now.UnixNano()) / 1e9
	skew := IdentityClockSkew.Seconds()
	life := MaxIdentityLifetime.Seconds()
	for _, v := range []*float64{c.Exp, c.Iat, c.Nbf} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			return fmt.Errorf("%w: time claims must be finite numbers", ErrIdentityInvalid)
		}
	}
	if c.Exp == nil {
		return fmt.Errorf("%w: exp is required", ErrIdentityInvalid)
	}
	exp := *c.Exp
	if !(nowS < exp+skew) {
		return ErrIdentityExpired
	}
	if exp > nowS+life+skew {
		return fmt.Errorf("%w: exp is more than %s ahead; mint short-lived tokens", ErrIdentityInvalid, MaxIdentityLifetime)
	}
	if c.Iat != nil {
		if *c.Iat > nowS+skew {
			return fmt.Errorf("%w: iat is in the future (check the signing server's clock)", ErrIdentityInvalid)
		}
		if exp-*c.Iat > life {
			return fmt.Errorf("%w: exp - iat is longer than %s; mint short-lived tokens", ErrIdentityInvalid, MaxIdentityLifetime)
		}
	}
	if c.Nbf != nil && *c.Nbf > nowS+skew {
		return fmt.Errorf("%w: token is not valid yet (nbf; check the signing server's clock)", ErrIdentityInvalid)
	}
	return nil
}
