package relay

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/pion/logging"
)

// Config holds the operator's knobs for a Relay. Every field is plain data
// so binaries can fill it from flags or environment variables; the zero
// value of a field means its default (see DefaultConfig). A Config is
// copied by New: changing it afterwards has no effect.
type Config struct {
	// PublicIPs are the public addresses of this host when it sits behind
	// a 1:1 NAT (a cloud VM with an elastic IP). They replace the local
	// addresses in the relay's host candidates, so browsers connect to
	// them. Empty: announce the local addresses themselves.
	PublicIPs []string

	// UDPPort, when not 0, makes every peer share this one UDP port (ICE
	// UDP mux), so a firewall needs a single rule. 0: each peer binds
	// ephemeral ports (see PortMin/PortMax).
	UDPPort int

	// TCPPort, when not 0, also offers ICE over TCP (passive candidates)
	// on this port, for networks that block UDP but allow outbound TCP.
	TCPPort int

	// ListenIP, when set, binds the UDP mux and the ICE-TCP listener to
	// this one address instead of every address that passes the filters.
	ListenIP string

	// Interfaces limits candidates to these network interfaces (e.g.
	// "eth0"). Empty: every interface.
	Interfaces []string

	// AllowedIPs limits candidates to local addresses matching one of
	// these IPs or CIDRs (e.g. "10.0.0.0/8", "192.0.2.7"). Empty: every
	// address (loopback only with IncludeLoopback).
	AllowedIPs []string

	// IncludeLoopback offers loopback addresses (127.0.0.1, ::1) as
	// candidates. For tests and laptops; off in production.
	IncludeLoopback bool

	// RemoteAllow and RemoteDeny filter the candidates browsers send, by
	// network (IPs or CIDRs): one in RemoteDeny and not in RemoteAllow is
	// dropped before Pion sees it, so a forged candidate cannot make the
	// relay probe its host's networks. RemoteDeny empty:
	// DefaultRemoteDeny. RemoteAllow empty: what the relay serves itself,
	// loopback with IncludeLoopback and the networks of AllowedIPs.
	RemoteAllow, RemoteDeny []string

	// IPv6 also gathers IPv6 candidates. Off: IPv4 only.
	IPv6 bool

	// MDNS answers and resolves multicast DNS (*.local) candidates. Off by
	// default: servers have real addresses, and the connection still forms
	// from peer-reflexive candidates when a browser hides its own.
	MDNS bool

	// DisconnectedTimeout is how long ICE waits without traffic before a
	// connection counts as disconnected (it may still recover).
	// Default 5s.
	DisconnectedTimeout time.Duration

	// FailedTimeout is how long ICE stays disconnected before the
	// connection counts as failed; the peer then reports StateFailed and
	// signaling may call Peer.Restart. Default 25s.
	FailedTimeout time.Duration

	// KeepaliveInterval is how often ICE sends keepalives on an idle
	// connection (NAT bindings expire otherwise). Default 2s.
	KeepaliveInterval time.Duration

	// TURNPathWait is how long ICE waits before settling on a path
	// through a client's TURN server, in case a direct path shows up. It
	// delays every TURN-relayed chat by that much (measured: Chromium
	// through coturn opens ~2s later than directly). Default 2s (Pion's);
	// negative: accept a TURN path at once.
	TURNPathWait time.Duration

	// MaxMessageSize is announced to browsers as SCTP max-message-size;
	// browsers refuse to send more (RTCDataChannel.send throws). At least
	// protocol.MaxFrameBytes, default protocol.MaxFrameBytes. Frames over
	// protocol.MaxFrameBytes are dropped and reported (OnOversize)
	// whatever this says, so raising it only lets browsers send frames the
	// relay will drop: useful in tests, not in production.
	MaxMessageSize int

	// ReadBufferSize is the per-channel read buffer. Chat frames are
	// small; a larger frame gets a one-off buffer of its exact size.
	// Default 2048 (the default Pion read loop holds 64 KiB per channel).
	ReadBufferSize int

	// MaxBufferedBytes caps the bytes waiting to be sent on one channel:
	// past it Send returns ErrSendBufferFull instead of letting a peer
	// that stopped reading grow the relay's memory. Default 1 MiB.
	MaxBufferedBytes int

	// PortMin and PortMax bound the ephemeral UDP ports used when UDPPort
	// is 0. Both 0: any port.
	PortMin, PortMax uint16

	// GatherWait is how long Offer waits for the relay's own candidates so
	// that the offer carries them (host candidates take milliseconds).
	// Candidates found later are trickled through PeerOptions.OnCandidate
	// once the answer is in. Default 1s; negative: do not wait, trickle
	// everything.
	GatherWait time.Duration

	// LogLevel of Pion's own logs: "disabled", "error", "warn", "info",
	// "debug" or "trace". Default "error".
	LogLevel string

	// LogWriter receives Pion's logs. Default os.Stderr.
	LogWriter io.Writer
}

// Defaults.
const (
	DefaultDisconnectedTimeout = 5 * time.Second
	DefaultFailedTimeout       = 25 * time.Second
	DefaultKeepaliveInterval   = 2 * time.Second
	DefaultMaxMessageSize      = protocol.MaxFrameBytes
	DefaultReadBufferSize      = 2048
	DefaultMaxBufferedBytes    = 1 << 20
	DefaultGatherWait          = time.Second
	DefaultTURNPathWait        = 2 * time.Second
	DefaultLogLevel            = "error"
)

// maxSCTPMessageSize is the largest max-message-size we announce: beyond
// this a single message pins too much memory in the SCTP reassembly queue.
const maxSCTPMessageSize = 1 << 20

// DefaultConfig returns the configuration used for zero fields: every
// interface but loopback, ephemeral UDP ports, no TCP, no mDNS.
func DefaultConfig() Config {
	return Config{
		DisconnectedTimeout: DefaultDisconnectedTimeout,
		FailedTimeout:       DefaultFailedTimeout,
		KeepaliveInterval:   DefaultKeepaliveInterval,
		MaxMessageSize:      DefaultMaxMessageSize,
		ReadBufferSize:      DefaultReadBufferSize,
		MaxBufferedBytes:    DefaultMaxBufferedBytes,
		GatherWait:          DefaultGatherWait,
		TURNPathWait:        DefaultTURNPathWait,
		LogLevel:            DefaultLogLevel,
	}
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.DisconnectedTimeout == 0 {
		c.DisconnectedTimeout = d.DisconnectedTimeout
	}
	if c.FailedTimeout == 0 {
		c.FailedTimeout = d.FailedTimeout
	}
	if c.KeepaliveInterval == 0 {
		c.KeepaliveInterval = d.KeepaliveInterval
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = d.MaxMessageSize
	}
	if c.ReadBufferSize == 0 {
		c.ReadBufferSize = d.ReadBufferSize
	}
	if c.MaxBufferedBytes == 0 {
		c.MaxBufferedBytes = d.MaxBufferedBytes
	}
	if c.TURNPathWait == 0 {
		c.TURNPathWait = DefaultTURNPathWait
	}
	if c.GatherWait == 0 {
		c.GatherWait = d.GatherWait
	}
	if c.LogLevel == "" {
		c.LogLevel = d.LogLevel
	}
	return c
}

// Validate reports the first problem in c, wrapped around ErrInvalidConfig
// and naming the field. Zero fields are valid (they take their defaults).
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	for i, s := range c.PublicIPs {
		if net.ParseIP(strings.TrimSpace(s)) == nil {
			return bad("PublicIPs[%d] = %q is not an IP address", i, s)
		}
	}
	if c.UDPPort < 0 || c.UDPPort > 65535 {
		return bad("UDPPort %d is not a port (0-65535; 0 means one ephemeral port per peer)", c.UDPPort)
	}
	if c.TCPPort < 0 || c.TCPPort > 65535 {
		return bad("TCPPort %d is not a port (0-65535; 0 means no ICE over TCP)", c.TCPPort)
	}
	if c.ListenIP != "" && net.ParseIP(c.ListenIP) == nil {
		return bad("ListenIP %q is not an IP address", c.ListenIP)
	}
	for i, name := range c.Interfaces {
		if strings.TrimSpace(name) == "" {
			return bad("Interfaces[%d] is empty", i)
		}
	}
	for _, l := range [][]string{c.AllowedIPs, c.RemoteAllow, c.RemoteDeny} {
		if _, err := parsePrefixes(l); err != nil {
			return bad("%v", err)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"DisconnectedTimeout", c.DisconnectedTimeout},
		{"FailedTimeout", c.FailedTimeout},
		{"KeepaliveInterval", c.KeepaliveInterval},
	} {
		if d.v < 0 {
			return bad("%s %v is negative", d.name, d.v)
		}
	}
	if c.MaxMessageSize != 0 && (c.MaxMessageSize < protocol.MaxFrameBytes || c.MaxMessageSize > maxSCTPMessageSize) {
		return bad("MaxMessageSize %d is outside %d-%d (protocol.MaxFrameBytes up to 1 MiB)",
			c.MaxMessageSize, protocol.MaxFrameBytes, maxSCTPMessageSize)
	}
	if c.ReadBufferSize < 0 || c.ReadBufferSize > maxSCTPMessageSize {
		return bad("ReadBufferSize %d is outside 0-%d", c.ReadBufferSize, maxSCTPMessageSize)
	}
	if c.MaxBufferedBytes < 0 {
		return bad("MaxBufferedBytes %d is negative", c.MaxBufferedBytes)
	}
	if (c.PortMin == 0) != (c.PortMax == 0) || c.PortMin > c.PortMax {
		return bad("PortMin %d / PortMax %d: set both, with PortMin <= PortMax, or neither", c.PortMin, c.PortMax)
	}
	if c.LogLevel != "" {
		if _, ok := logLevels[strings.ToLower(c.LogLevel)]; !ok {
			return bad("LogLevel %q is not one of disabled, error, warn, info, debug, trace", c.LogLevel)
		}
	}
	return nil
}

var logLevels = map[string]logging.LogLevel{
	"disabled": logging.LogLevelDisabled,
	"error":    logging.LogLevelError,
	"warn":     logging.LogLevelWarn,
	"info":     logging.LogLevelInfo,
	"debug":    logging.LogLevelDebug,
	"trace":    logging.LogLevelTrace,
}

// parsePrefixes turns IPs and CIDRs into prefixes (an IP is a /32 or /128).
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("AllowedIPs[%d] = %q is not a CIDR: %v", i, s, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("AllowedIPs[%d] = %q is not an IP address or CIDR", i, s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// ipFilter returns the filter deciding which local addresses become
// candidates: loopback only with IncludeLoopback, and only addresses in
// AllowedIPs when that is set.
func (c Config) ipFilter() func(net.IP) bool {
	prefixes, _ := parsePrefixes(c.AllowedIPs) // validated by New
	return func(ip net.IP) bool {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			return false
		}
		a = a.Unmap()
		if a.IsLoopback() && !c.IncludeLoopback {
			return false
		}
		if a.Is6() && !c.IPv6 {
			return false
		}
		if len(prefixes) == 0 {
			return true
		}
		for _, p := range prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
}

// interfaceFilter returns nil (every interface) or a filter keeping the
// named interfaces.
func (c Config) interfaceFilter() func(string) bool {
	if len(c.Interfaces) == 0 {
		return nil
	}
	keep := make(map[string]bool, len(c.Interfaces))
	for _, name := range c.Interfaces {
		keep[strings.TrimSpace(name)] = true
	}
	return func(name string) bool { return keep[name] }
}
