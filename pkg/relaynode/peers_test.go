package relaynode

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/relay"
)

// The relay's operator knobs (PARLEY_RTC_*) reach the Pion relay both
// binaries build, and a bad one stops it with a clear error.
func TestPionConfigCarriesOperatorKnobs(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	c, err := config.Load([]string{"-rtc-ice-keepalive", "3s"}, env(map[string]string{
		"PARLEY_RTC_INTERFACES":               "lo",
		"PARLEY_RTC_MDNS":                     "on",
		"PARLEY_RTC_ICE_DISCONNECTED_TIMEOUT": "4s",
		"PARLEY_RTC_ICE_FAILED_TIMEOUT":       "12s",
		"PARLEY_RTC_ICE_KEEPALIVE":            "1s", // the flag wins
		"PARLEY_RTC_MAX_MESSAGE_SIZE":         "65536",
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := PionConfig(c)
	if len(got.Interfaces) != 1 || got.Interfaces[0] != "lo" || !got.MDNS ||
		got.DisconnectedTimeout != 4*time.Second || got.FailedTimeout != 12*time.Second ||
		got.KeepaliveInterval != 3*time.Second || got.MaxMessageSize != 65536 {
		t.Fatalf("relay config %+v", got)
	}
	r, err := relay.New(got)
	if err != nil {
		t.Fatalf("relay from valid knobs: %v", err)
	}
	r.Close()

	// Defaults: mDNS off, the relay's own timings.
	c, err = config.Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := PionConfig(c); got.MDNS || got.DisconnectedTimeout != 0 || got.MaxMessageSize != 0 {
		t.Fatalf("default relay config %+v", got)
	}

	c, err = config.Load(nil, env(map[string]string{"PARLEY_RTC_MAX_MESSAGE_SIZE": "100"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := relay.New(PionConfig(c)); !errors.Is(err, relay.ErrInvalidConfig) || !strings.Contains(err.Error(), "MaxMessageSize") {
		t.Fatalf("a max message size below the frame limit: %v", err)
	}
	for _, bad := range []map[string]string{
		{"PARLEY_RTC_ICE_FAILED_TIMEOUT": "-1s"},
		{"PARLEY_RTC_ICE_KEEPALIVE": "soon"},
		{"PARLEY_RTC_MDNS": "maybe"},
		{"PARLEY_RTC_MAX_MESSAGE_SIZE": "big"},
	} {
		if _, err := config.Load(nil, env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
