package config

import (
	"strings"
	"testing"
)

func TestLoadRelay(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	secret := strings.Repeat("s", MinRelaySecret)

	r, err := LoadRelay([]string{"-addr", "127.0.0.1:9100"}, env(map[string]string{"PARLEY_RELAY_SECRET": secret}))
	if err != nil {
		t.Fatal(err)
	}
	if r.ControlURL != "http://127.0.0.1:9100" || len(r.SignalingURLs) != 1 || !strings.HasPrefix(r.ID, "relay-") ||
		!r.RTC.RTCLoopback || r.DatabaseURL != "" {
		t.Fatalf("defaults: %+v", r)
	}

	for _, bad := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no secret", nil, nil, "PARLEY_RELAY_SECRET"},
		{"short secret", nil, map[string]string{"PARLEY_RELAY_SECRET": "short"}, "PARLEY_RELAY_SECRET"},
		{"bad signaling URL", []string{"-signaling-urls", "ftp://x"}, map[string]string{"PARLEY_RELAY_SECRET": secret}, "signaling URL"},
		{"store without bus", []string{"-database-url", "postgres://db/parley"}, map[string]string{"PARLEY_RELAY_SECRET": secret}, "go together"},
		{"SQLite", []string{"-database-url", "parley.db", "-redis-url", "redis://r"}, map[string]string{"PARLEY_RELAY_SECRET": secret}, "PostgreSQL"},
		{"no keys", []string{"-database-url", "postgres://db/parley", "-redis-url", "redis://r"}, map[string]string{"PARLEY_RELAY_SECRET": secret}, "PARLEY_ENCRYPTION_KEYS"},
		{"bad UDP port", []string{"-rtc-udp-port", "70000"}, map[string]string{"PARLEY_RELAY_SECRET": secret}, "not a port"},
	} {
		if _, err := LoadRelay(bad.args, env(bad.env)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want an error about %s", bad.name, err, bad.want)
		}
	}

	// Signaling: a relay secret switches to standalone relays; too short is refused.
	if _, err := Load([]string{"-relay-secret", "short"}, env(nil)); err == nil {
		t.Fatal("signaling took a short relay secret")
	}
	c, err := Load(nil, env(map[string]string{"PARLEY_RELAY_SECRET": secret}))
	if err != nil || c.RelaySecret != secret {
		t.Fatalf("signaling relay secret: %v %q", err, c.RelaySecret)
	}
}
