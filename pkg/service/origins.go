package service

import (
	"errors"
	"net"
	"net/url"
	"strings"

	"github.com/parleychat/parley/pkg/store"
)

// parseOrigin checks an allowed origin of a site and returns it as
// scheme://host[:port]. Besides the URL's shape, the host must be a plain
// DNS name or IP address: allowed origins end up in the widget frame's
// Content-Security-Policy (frame-ancestors), where a ';', a quote, a ','
// or a '*' (all of which url.Parse accepts in a host) would add directives
// or widen the list.
func parseOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", errors.New("allowed origins are scheme://host[:port], got " + store.Truncate(raw, 100))
	}
	host := u.Hostname()
	if net.ParseIP(host) == nil && !dnsName(host) {
		return "", errors.New("an allowed origin's host must be a domain name or an IP address, got " + store.Truncate(raw, 100))
	}
	if p := u.Port(); p != "" && strings.Trim(p, "0123456789") != "" {
		return "", errors.New("an allowed origin's port must be a number, got " + store.Truncate(raw, 100))
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

func dnsName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// frameAncestors is the widget frame's frame-ancestors source list: the
// server itself (the demo page) and the site's allowed origins. A stored
// origin that is not clean (written before parseOrigin checked hosts) is
// left out rather than trusted.
func frameAncestors(allowedOrigins string) string {
	out := []string{"'self'"}
	for _, o := range strings.Fields(allowedOrigins) {
		if clean, err := parseOrigin(o); err == nil {
			out = append(out, clean)
		}
	}
	return strings.Join(out, " ")
}
