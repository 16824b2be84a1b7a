// Package webhook is what Parley's webhooks promise their receivers, apart
// from the store and the HTTP layer: how a payload is signed and checked,
// which URLs may be called, and when a failed delivery is tried again.
//
// Signing: each request carries Parley-Timestamp (Unix seconds) and
// Parley-Signature: "v1=" and the hex HMAC-SHA256, keyed with the
// webhook's secret, of the timestamp, a dot, and the raw body. A receiver
// recomputes it over the body as received, compares in constant time, and
// refuses a timestamp further than ReplayWindow from its clock, so a
// captured request cannot be played again later.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Headers of a delivery.
const (
	HeaderTimestamp = "Parley-Timestamp"
	HeaderSignature = "Parley-Signature"
	HeaderEvent     = "Parley-Event"
	HeaderDelivery  = "Parley-Delivery"
)

// ReplayWindow is how far a delivery's timestamp may be from the
// receiver's clock; Verify refuses anything older or newer.
const ReplayWindow = 5 * time.Minute

// Sign returns the Parley-Signature value of body sent at ts.
func Sign(secret string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: timestamp outside the replay window")
)

// Verify checks a delivery as a receiver would: timestamp is the
// Parley-Timestamp header, signature Parley-Signature, body the raw body.
func Verify(secret, timestamp, signature string, body []byte, now time.Time) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not Unix seconds", ErrStale, timestamp)
	}
	ts := time.Unix(sec, 0)
	if d := now.Sub(ts); d > ReplayWindow || d < -ReplayWindow {
		return ErrStale
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature)) {
		return ErrBadSignature
	}
	return nil
}

// Backoff is the wait before attempt n+1 after n failed attempts (n ≥ 1):
// base doubled each time, capped at max, less up to a third at random
// (jitter), so receivers that come back are not hit by every sender at
// once.
func Backoff(n int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d - time.Duration(rand.Int64N(int64(d)/3+1))
}

// CheckURL refuses a webhook URL that is not absolute http(s) with a
// host, has credentials in it, or (unless allowPrivate) names a private,
// loopback or link-local address. Host names are checked again when they
// are resolved (Client), since they can point anywhere.
func CheckURL(raw string, allowPrivate bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("the URL must be an absolute http:// or https:// URL")
	}
	if u.User != nil {
		return nil, errors.New("the URL must not carry a user name or password; sign with the secret instead")
	}
	if len(raw) > 2000 {
		return nil, errors.New("the URL is longer than 2000 characters")
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !allowPrivate && !Public(ip) {
		return nil, fmt.Errorf("%s is a private, loopback or link-local address; webhooks go to public addresses (PARLEY_WEBHOOK_ALLOW_PRIVATE allows others)", ip)
	}
	return u, nil
}

// Public reports whether ip is an address on the public internet: not
// loopback, private (RFC 1918, ULA), link-local, multicast, unspecified
// or the shared CGNAT range.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	return ip.IsValid() && !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() && !ip.IsLinkLocalMulticast() &&
		!ip.IsMulticast() && !ip.IsUnspecified() && !ip.IsInterfaceLocalMulticast() && !cgnat.Contains(ip)
}

// MaxResponse is how much of a receiver's answer is read.
const MaxResponse = 16 << 10

// Client returns the HTTP client deliveries go out with: each request
// bounded by timeout, no redirects followed (a redirect could lead to an
// address the URL check refused), no proxy from the environment, and,
// unless allowPrivate, connections only to public addresses, checked on
// the resolved address just before it is dialled.
func Client(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !Public(ap.Addr()) {
				return fmt.Errorf("webhook: refused to connect to %s: not a public address", address)
			}
			return nil
		}
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
