package config

import (
	"strings"
	"testing"
)

// PARLEY_ICE_TRANSPORT_POLICY: all by default; relay only with TURN
// servers to relay through; anything else is refused.
func TestICETransportPolicy(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

	c, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ICETransportPolicy != "all" {
		t.Fatalf("default policy %q, want all", c.ICETransportPolicy)
	}
	c, err = Load(nil, env(map[string]string{"PARLEY_ICE_TRANSPORT_POLICY": "relay", "PARLEY_TURN_URLS": "turn:127.0.0.1:3478"}))
	if err != nil || c.ICETransportPolicy != "relay" {
		t.Fatalf("relay with TURN: %q, %v", c.ICETransportPolicy, err)
	}
	for _, bad := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PARLEY_ICE_TRANSPORT_POLICY": "relay"}, "needs TURN servers"},
		{map[string]string{"PARLEY_ICE_TRANSPORT_POLICY": "Relay", "PARLEY_TURN_URLS": "turn:127.0.0.1:3478"}, "want all or relay"},
		{map[string]string{"PARLEY_ICE_TRANSPORT_POLICY": "none"}, "want all or relay"},
	} {
		if _, err := Load(nil, env(bad.env)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: err %v, want %q", bad.env, err, bad.want)
		}
	}
}
