package relay

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" = valid; else a piece of the message
	}{
		{"zero value", Config{}, ""},
		{"defaults", DefaultConfig(), ""},
		{"production-like", Config{PublicIPs: []string{"203.0.113.7"}, UDPPort: 3479, TCPPort: 3480, AllowedIPs: []string{"10.0.0.0/8", "192.0.2.1"}, PortMin: 50000, PortMax: 50100}, ""},
		{"public IP", Config{PublicIPs: []string{"relay.example.com"}}, "PublicIPs[0]"},
		{"UDP port", Config{UDPPort: 70000}, "UDPPort"},
		{"TCP port", Config{TCPPort: -1}, "TCPPort"},
		{"listen IP", Config{ListenIP: "localhost"}, "ListenIP"},
		{"interface", Config{Interfaces: []string{" "}}, "Interfaces[0]"},
		{"CIDR", Config{AllowedIPs: []string{"10.0.0.0/33"}}, "AllowedIPs[0]"},
		{"allowed IP", Config{AllowedIPs: []string{"127.0.0.1", "nope"}}, "AllowedIPs[1]"},
		{"timeout", Config{FailedTimeout: -time.Second}, "FailedTimeout"},
		{"message size too small", Config{MaxMessageSize: 1000}, "MaxMessageSize"},
		{"message size too big", Config{MaxMessageSize: 2 << 20}, "MaxMessageSize"},
		{"read buffer", Config{ReadBufferSize: -1}, "ReadBufferSize"},
		{"buffered", Config{MaxBufferedBytes: -1}, "MaxBufferedBytes"},
		{"port range half", Config{PortMin: 5000}, "PortMin"},
		{"port range reversed", Config{PortMin: 6000, PortMax: 5000}, "PortMin"},
		{"log level", Config{LogLevel: "loud"}, "LogLevel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig naming %s", err, tc.want)
			}
			if _, err := New(tc.cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New() = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestNewFillsDefaults(t *testing.T) {
	r := newTestRelay(t, Config{IncludeLoopback: true})
	got := r.Config()
	if got.FailedTimeout != DefaultFailedTimeout || got.MaxMessageSize != DefaultMaxMessageSize ||
		got.ReadBufferSize != DefaultReadBufferSize || got.GatherWait != DefaultGatherWait || got.LogLevel != DefaultLogLevel {
		t.Fatalf("defaults not filled: %+v", got)
	}
}

func TestIPFilter(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		ip   string
		keep bool
	}{
		{Config{}, "192.0.2.1", true},
		{Config{}, "127.0.0.1", false},
		{Config{IncludeLoopback: true}, "127.0.0.1", true},
		{Config{}, "2001:db8::1", false},
		{Config{IPv6: true}, "2001:db8::1", true},
		{Config{AllowedIPs: []string{"10.0.0.0/8"}}, "10.1.2.3", true},
		{Config{AllowedIPs: []string{"10.0.0.0/8"}}, "192.168.1.1", false},
		{Config{AllowedIPs: []string{"192.168.1.1"}}, "192.168.1.1", true},
		{Config{AllowedIPs: []string{"127.0.0.1"}}, "127.0.0.1", false}, // loopback still needs IncludeLoopback
	} {
		if got := tc.cfg.ipFilter()(parseIP(t, tc.ip)); got != tc.keep {
			t.Errorf("%+v keeps %s = %v, want %v", tc.cfg, tc.ip, got, tc.keep)
		}
	}
}

func parseIP(t *testing.T, s string) []byte {
	t.Helper()
	ip := net.ParseIP(s)
	if ip == nil {
		t.Fatalf("bad test IP %q", s)
	}
	return ip
}
