package service

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/parleychat/parley/pkg/ratelimit"
)

// Client addresses. Everything keyed by who is asking (rate limits,
// sign-in limits, connection caps, the audit log) takes the address from
// here, never from gin's ClientIP or a header read elsewhere.

// clientAddr is the address of the client that sent r: the TCP peer, or,
// when the peer is a trusted proxy (PARLEY_TRUSTED_PROXIES), the
// right-most address in its forwarding header that is not itself a trusted
// proxy. Hops left of that one were written by the client and are not
// believed. The zero Addr when the peer's address cannot be read.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	return clientAddr(r, s.cfg.TrustedProxies, s.cfg.ProxyHeader)
}

// clientKey is the rate-limit subject of r's client: its address, an IPv6
// client's /64 (ratelimit.IPSubject).
func (s *Server) clientKey(r *http.Request) string {
	return ratelimit.IPSubject(s.clientAddr(r))
}

func clientAddr(r *http.Request, trusted []netip.Prefix, header string) netip.Addr {
	peer := parseHop(r.RemoteAddr)
	if !isTrusted(peer, trusted) {
		return peer
	}
	var hops []string
	if header == "Forwarded" {
		hops = forwardedFor(r.Header.Values("Forwarded"))
	} else {
		for _, v := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(v, ",")...)
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a := parseHop(hops[i])
		if !a.IsValid() {
			// "unknown", an obfuscated name or garbage: the hop that
			// reported it is the last one known.
			return client
		}
		client = a
		if !isTrusted(a, trusted) {
			return a
		}
	}
	return client // every hop is a trusted proxy
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop reads one address as proxies write it: 192.0.2.1,
// 192.0.2.1:8080, 2001:db8::1, [2001:db8::1] or [2001:db8::1]:8080. It is
// returned unmapped and without a zone.
func parseHop(s string) netip.Addr {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			a, err = netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
			if err != nil {
				return netip.Addr{}
			}
		} else {
			a = ap.Addr()
		}
	}
	return a.Unmap().WithZone("")
}

// forwardedFor lists the for= values of Forwarded headers (RFC 7239), in
// order: the elements of each header are comma-separated, their pairs
// semicolon-separated, and a value may be quoted.
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			hop := "unknown" // an element without for= names no one
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					hop = strings.Trim(val, `"`)
				}
			}
			out = append(out, hop)
		}
	}
	return out
}
