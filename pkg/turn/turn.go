// Package turn mints time-limited TURN credentials and the ICE server list
// that signaling hands to browsers (rtc_offer's ice_servers).
//
// The scheme is the "TURN REST API" one that coturn checks with
// use-auth-secret: the username is "<expiry unix seconds>:<user>" and the
// password is base64(HMAC-SHA1(secret, username)). Signaling and coturn
// share only the secret (PARLEY_TURN_SECRET here, static-auth-secret in
// turn.conf); no per-user state, and a leaked credential dies at its expiry.
package turn

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
)

// DefaultTTL is how long minted credentials stay valid. coturn checks the
// expiry when an allocation is made and refreshed, so a call longer than
// the TTL loses its relay: a day covers any chat.
const DefaultTTL = 24 * time.Hour

// ErrInvalidConfig: a Config field is malformed.
var ErrInvalidConfig = errors.New("turn: invalid configuration")

// Config lists the ICE servers clients use. Fields are plain data for
// flags and environment variables.
type Config struct {
	// STUNURLs, e.g. "stun:turn.example.com:3478". Handed out as is.
	STUNURLs []string
	// TURNURLs, e.g. "turn:turn.example.com:3478?transport=udp",
	// "turns:turn.example.com:5349?transport=tcp". Handed out with
	// credentials; left out when Secret is empty.
	TURNURLs []string
	// Secret is coturn's static-auth-secret.
	Secret string
	// TTL of minted credentials; 0 means DefaultTTL.
	TTL time.Duration
}

// Validate reports the first malformed field, wrapped around
// ErrInvalidConfig.
func (c Config) Validate() error {
	for i, u := range c.STUNURLs {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") {
			return fmt.Errorf("%w: STUNURLs[%d] = %q does not start with stun: or stuns:", ErrInvalidConfig, i, u)
		}
	}
	for i, u := range c.TURNURLs {
		if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			return fmt.Errorf("%w: TURNURLs[%d] = %q does not start with turn: or turns:", ErrInvalidConfig, i, u)
		}
	}
	if len(c.TURNURLs) > 0 && c.Secret == "" {
		return fmt.Errorf("%w: TURNURLs are set but Secret is empty: set it to coturn's static-auth-secret", ErrInvalidConfig)
	}
	if c.TTL < 0 {
		return fmt.Errorf("%w: TTL %v is negative", ErrInvalidConfig, c.TTL)
	}
	return nil
}

// Credentials mints a TURN username and password for user, valid until
// now+ttl: username = "<unix expiry>:<user>", password =
// base64(HMAC-SHA1(secret, username)). user should be an opaque id (a
// session or visitor id), not personal data: TURN servers log usernames.
func Credentials(secret, user string, ttl time.Duration, now time.Time) (username, password string) {
	username = strconv.FormatInt(now.Add(ttl).Unix(), 10) + ":" + user
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ICEServers returns the ICE servers for user at time now: one entry with
// the STUN URLs, one with the TURN URLs and fresh credentials (when a
// secret is configured). It returns an empty, non-nil slice when nothing
// is configured, so the JSON is [] and browsers use host candidates only.
func ICEServers(cfg Config, user string, now time.Time) []protocol.ICEServer {
	out := []protocol.ICEServer{}
	if len(cfg.STUNURLs) > 0 {
		out = append(out, protocol.ICEServer{URLs: append([]string(nil), cfg.STUNURLs...)})
	}
	if len(cfg.TURNURLs) > 0 && cfg.Secret != "" {
		ttl := cfg.TTL
		if ttl == 0 {
			ttl = DefaultTTL
		}
		username, password := Credentials(cfg.Secret, user, ttl, now)
		out = append(out, protocol.ICEServer{
			URLs:       append([]string(nil), cfg.TURNURLs...),
			Username:   username,
			Credential: password,
		})
	}
	return out
}
