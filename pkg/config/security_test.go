package config

import (
	"net/netip"
	"reflect"
	"testing"
)

func loadEnv(t *testing.T, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	return Load(append([]string{"-data-dir", t.TempDir()}, args...), func(k string) string { return env[k] })
}

// PARLEY_TRUSTED_PROXIES takes IPs and CIDRs (an IPv4-mapped one as the
// IPv4 prefix it is); anything else stops the start. PARLEY_PROXY_HEADER
// names the one header read from them.
func TestTrustedProxies(t *testing.T) {
	c, err := loadEnv(t, nil)
	if err != nil || len(c.TrustedProxies) != 0 || c.ProxyHeader != "X-Forwarded-For" {
		t.Fatalf("default: %v %q (%v)", c.TrustedProxies, c.ProxyHeader, err)
	}
	c, err = loadEnv(t, map[string]string{"PARLEY_TRUSTED_PROXIES": "10.1.2.3, 192.168.7.9/16,2001:db8::/48 , ::ffff:172.16.0.0/108", "PARLEY_PROXY_HEADER": "forwarded"})
	want := []netip.Prefix{
		netip.MustParsePrefix("10.1.2.3/32"), netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("2001:db8::/48"), netip.MustParsePrefix("172.16.0.0/12"),
	}
	if err != nil || !reflect.DeepEqual(c.TrustedProxies, want) || c.ProxyHeader != "Forwarded" {
		t.Fatalf("parsed %v %q (%v), want %v Forwarded", c.TrustedProxies, c.ProxyHeader, err, want)
	}
	for _, bad := range []string{"proxy.example", "10.0.0.0/33", "::ffff:10.0.0.0/64", "10.0.0.1-10.0.0.9"} {
		if _, err := loadEnv(t, map[string]string{"PARLEY_TRUSTED_PROXIES": bad}); err == nil {
			t.Errorf("PARLEY_TRUSTED_PROXIES=%q accepted", bad)
		}
	}
	if _, err := loadEnv(t, map[string]string{"PARLEY_PROXY_HEADER": "X-Real-IP"}); err == nil {
		t.Error("PARLEY_PROXY_HEADER=X-Real-IP accepted")
	}
}

// The public URL is written back with a lowercase scheme and host, so an
// operator's HTTPS://Chat.Example.com counts as HTTPS everywhere (Secure
// cookies, HSTS) and matches the Origin browsers send.
func TestPublicURLIsNormalised(t *testing.T) {
	for raw, want := range map[string]string{
		"HTTPS://Chat.Example.COM/":           "https://chat.example.com",
		"Https://chat.example.com:8443/chat/": "https://chat.example.com:8443/chat",
		"HTTP://[2001:DB8::1]:8080":           "http://[2001:db8::1]:8080",
	} {
		c, err := loadEnv(t, map[string]string{"PARLEY_PUBLIC_URL": raw})
		if err != nil || c.PublicURL != want {
			t.Errorf("PARLEY_PUBLIC_URL=%s: %q (%v), want %q", raw, c.PublicURL, err, want)
		}
		if secure := want[:6] == "https:"; c.Secure() != secure {
			t.Errorf("PARLEY_PUBLIC_URL=%s: Secure() %v, want %v", raw, c.Secure(), secure)
		}
	}
	for _, bad := range []string{"ftp://chat.example.com", "https://user:pw@chat.example.com", "https://chat.example.com/?x=1", "https:///path"} {
		if _, err := loadEnv(t, map[string]string{"PARLEY_PUBLIC_URL": bad}); err == nil {
			t.Errorf("PARLEY_PUBLIC_URL=%q accepted", bad)
		}
	}
}

// A browser's Origin names this server when it is the public URL's
// scheme, host and port. Only a development run (no PARLEY_PUBLIC_URL, a
// loopback listen address) also takes the other loopback names of its
// port; "null" and "" never pass.
func TestIsOwnOrigin(t *testing.T) {
	prod, err := loadEnv(t, map[string]string{"PARLEY_PUBLIC_URL": "https://chat.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := loadEnv(t, nil, "-addr", "127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	lan, err := loadEnv(t, nil, "-addr", "192.0.2.7:8080")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		c      Config
		origin string
		want   bool
	}{
		{"prod: its own origin", prod, "https://chat.example.com", true},
		{"prod: plain http", prod, "http://chat.example.com", false},
		{"prod: another port", prod, "https://chat.example.com:8443", false},
		{"prod: another host", prod, "https://evil.example", false},
		{"prod: a suffix", prod, "https://chat.example.com.evil.example", false},
		{"prod: localhost", prod, "https://localhost", false},
		{"prod: null", prod, "null", false},
		{"prod: none", prod, "", false},
		{"dev: its own origin", dev, "http://127.0.0.1:8080", true},
		{"dev: localhost, same port", dev, "http://localhost:8080", true},
		{"dev: ::1, same port", dev, "http://[::1]:8080", true},
		{"dev: localhost, another port", dev, "http://localhost:3000", false},
		{"dev: https", dev, "https://localhost:8080", false},
		{"dev: another host", dev, "http://evil.example:8080", false},
		{"dev: null", dev, "null", false},
		{"lan: its own origin", lan, "http://192.0.2.7:8080", true},
		{"lan: localhost is not this listener", lan, "http://localhost:8080", false},
	} {
		if got := tc.c.IsOwnOrigin(tc.origin); got != tc.want {
			t.Errorf("%s: IsOwnOrigin(%q) = %v, want %v", tc.name, tc.origin, got, tc.want)
		}
	}
}
