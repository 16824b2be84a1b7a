package relay

import (
	"net/netip"
	"strings"

	"github.com/pion/ice/v4"
)

// DefaultRemoteDeny are the networks a browser's candidate may not name
// unless RemoteAllow (or the relay's own configuration) allows them:
// loopback, link-local, private (RFC 1918, unique local), unspecified and
// multicast. The relay sends STUN checks to every candidate it is given,
// so a forged candidate would make it probe the relay host's own
// networks.
var DefaultRemoteDeny = []string{
	"0.0.0.0/8", "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
	"169.254.0.0/16", "224.0.0.0/4",
	"::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
}

// remoteFilter decides which candidates from browsers reach Pion.
type remoteFilter struct {
	allow, deny []netip.Prefix
	mdns        bool // .local names are resolved by mDNS (Config.MDNS)
}

// newRemoteFilter reads the lists (validated by Config.Validate). Without
// RemoteAllow the relay's own configuration allows what it serves:
// loopback with IncludeLoopback (tests, a laptop), and the networks of
// AllowedIPs.
func newRemoteFilter(c Config) remoteFilter {
	deny := c.RemoteDeny
	if len(deny) == 0 {
		deny = DefaultRemoteDeny
	}
	f := remoteFilter{mdns: c.MDNS}
	f.deny, _ = parsePrefixes(deny)
	f.allow, _ = parsePrefixes(c.RemoteAllow)
	if len(c.RemoteAllow) == 0 {
		f.allow, _ = parsePrefixes(c.AllowedIPs)
		if c.IncludeLoopback {
			f.allow = append(f.allow, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
		}
	}
	return f
}

// allowed reports whether the relay may send to the candidate's address.
// The only names Pion parses are mDNS .local ones: allowed when the relay
// resolves mDNS (on the local link only).
func (f remoteFilter) allowed(c ice.Candidate) bool {
	a, err := netip.ParseAddr(c.Address())
	if err != nil {
		return f.mdns && strings.HasSuffix(c.Address(), ".local")
	}
	a = a.Unmap()
	for _, p := range f.allow {
		if p.Contains(a) {
			return true
		}
	}
	for _, p := range f.deny {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// filterAnswer drops from an SDP the candidate lines the filter refuses.
func (f remoteFilter) filterAnswer(sdp string) string {
	if !strings.Contains(sdp, "a=candidate:") {
		return sdp
	}
	lines := strings.SplitAfter(sdp, "\n")
	out := lines[:0]
	for _, line := range lines {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "a=candidate:"); ok {
			if c, err := ice.UnmarshalCandidate(v); err == nil && !f.allowed(c) {
				continue
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "")
}
