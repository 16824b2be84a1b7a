package turn

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
)

func TestCredentialsKnownVectors(t *testing.T) {
	// Expected passwords computed independently:
	//   printf '%s' '1700003600:alice' | openssl dgst -sha1 -hmac north -binary | base64
	now := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		secret, user string
		ttl          time.Duration
		username     string
		password     string
	}{
		{"north", "alice", time.Hour, "1700003600:alice", "wjwSXO2ch1B6VaLTLMy2Avn5O9o="},
		{"s3cr3t-with-UTF8-é", "visitor:42", 24 * time.Hour, "1700086400:visitor:42", "b3H64QZmfuInPu8wU8/l6ipHw8A="},
		{"", "", 0, "1700000000:", "Ewb2cramJ/QiTbUgaEfVAUQyj7s="},
	} {
		u, p := Credentials(tc.secret, tc.user, tc.ttl, now)
		if u != tc.username || p != tc.password {
			t.Errorf("Credentials(%q, %q, %v) = %q, %q; want %q, %q", tc.secret, tc.user, tc.ttl, u, p, tc.username, tc.password)
		}
	}
}

func TestICEServers(t *testing.T) {
	now := time.Unix(1700000000, 0)
	cfg := Config{
		STUNURLs: []string{"stun:turn.example.com:3478"},
		TURNURLs: []string{"turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349?transport=tcp"},
		Secret:   "north",
		TTL:      time.Hour,
	}
	got := ICEServers(cfg, "alice", now)
	want := []protocol.ICEServer{
		{URLs: []string{"stun:turn.example.com:3478"}},
		{URLs: cfg.TURNURLs, Username: "1700003600:alice", Credential: "wjwSXO2ch1B6VaLTLMy2Avn5O9o="},
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Fatalf("ICEServers =\n%s\nwant\n%s", gj, wj)
	}

	// Default TTL.
	got = ICEServers(Config{TURNURLs: cfg.TURNURLs, Secret: "x"}, "bob", now)
	if got[0].Username != "1700086400:bob" {
		t.Fatalf("default TTL username = %q", got[0].Username)
	}
	// Nothing configured: [] (not null) in JSON.
	if j, _ := json.Marshal(ICEServers(Config{}, "x", now)); string(j) != "[]" {
		t.Fatalf("empty config marshals to %s", j)
	}
	// No secret: TURN left out rather than handed out unusable.
	if got := ICEServers(Config{STUNURLs: cfg.STUNURLs, TURNURLs: cfg.TURNURLs}, "x", now); len(got) != 1 || got[0].Username != "" {
		t.Fatalf("without secret = %+v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{STUNURLs: []string{"stun:a:3478"}, TURNURLs: []string{"turns:a:5349?transport=tcp"}, Secret: "s"}, ""},
		{Config{STUNURLs: []string{"turn:a"}}, "STUNURLs[0]"},
		{Config{TURNURLs: []string{"http://a"}, Secret: "s"}, "TURNURLs[0]"},
		{Config{TURNURLs: []string{"turn:a"}}, "Secret"},
		{Config{TTL: -time.Second}, "TTL"},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.cfg, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: Validate() = %v, want ErrInvalidConfig naming %s", tc.cfg, err, tc.want)
		}
	}
}
