package relay

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/parleychat/parley/pkg/turn"
	"github.com/parleychat/parley/pkg/turn/turntest"
	"github.com/pion/webrtc/v4"
)

// A client that may only use TURN (iceTransportPolicy "relay") reaches the
// relay through a real coturn, with credentials minted by package turn.
func TestRelayOnlyClientThroughCoturn(t *testing.T) {
	srv := turntest.Start(t, "relay-test-secret")
	cfg := loopbackConfig()
	cfg.TURNPathWait = -1 // accept the TURN path at once
	r := newTestRelay(t, cfg)

	turnCfg := turn.Config{TURNURLs: []string{"turn:" + srv.Addr + "?transport=udp"}, Secret: srv.Secret}
	var servers []webrtc.ICEServer
	for _, s := range turn.ICEServers(turnCfg, "visitor-7", nowForTURN()) {
		servers = append(servers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	end, c := connect(t, r, clientOptions{relayOnly: true, iceServers: servers})

	c.send(t, "via turn")
	if got := recv(t, end.frames, "frame through TURN"); got != "via turn" {
		t.Fatalf("got %q", got)
	}
	if err := end.peer.Send([]byte("back via turn")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, c.frames, "frame back through TURN"); got != "back via turn" {
		t.Fatalf("got %q", got)
	}
	// The client really used its TURN allocation.
	if typ := selectedLocalType(t, c.pc); typ != webrtc.ICECandidateTypeRelay {
		t.Fatalf("client's selected candidate type = %v, want relay", typ)
	}
}

// ICE over TCP on a fixed port, for networks that block UDP.
func TestICEOverTCP(t *testing.T) {
	cfg := loopbackConfig()
	cfg.ListenIP = "127.0.0.1"
	r, _ := newTestRelayOnFreePorts(t, cfg, false, true)
	end, c := startPair(t, r, clientOptions{tcpOnly: true})
	waitOpen(t, end, c)
	c.send(t, "over tcp")
	if got := recv(t, end.frames, "frame over ICE-TCP"); got != "over tcp" {
		t.Fatalf("got %q", got)
	}
	offer := c.pc.RemoteDescription().SDP
	if !strings.Contains(offer, " tcp ") || !strings.Contains(offer, "tcptype passive") {
		t.Fatalf("offer has no passive TCP candidate:\n%s", offer)
	}
}

func selectedLocalType(t *testing.T, pc *webrtc.PeerConnection) webrtc.ICECandidateType {
	t.Helper()
	stats := pc.GetStats()
	for _, s := range stats {
		pair, ok := s.(webrtc.ICECandidatePairStats)
		if !ok || !pair.Nominated {
			continue
		}
		if lc, ok := stats[pair.LocalCandidateID].(webrtc.ICECandidateStats); ok {
			return lc.CandidateType
		}
	}
	t.Fatal("no nominated candidate pair in stats")
	return 0
}

// One UDP port bound to one address: every candidate is that address and
// port, and peers connect through it.
func TestSingleUDPPortOnListenIP(t *testing.T) {
	cfg := loopbackConfig()
	cfg.ListenIP = "127.0.0.1"
	r, cfg := newTestRelayOnFreePorts(t, cfg, true, false)
	end, c := connect(t, r, clientOptions{})
	c.send(t, "one port")
	if got := recv(t, end.frames, "frame"); got != "one port" {
		t.Fatalf("got %q", got)
	}
	lines := candidateLinesOf(c.pc.RemoteDescription().SDP)
	if len(lines) == 0 {
		t.Fatal("offer carries no candidates")
	}
	for _, l := range lines {
		if !strings.Contains(l, fmt.Sprintf("127.0.0.1 %d typ host", cfg.UDPPort)) {
			t.Errorf("candidate not on 127.0.0.1:%d: %s", cfg.UDPPort, l)
		}
	}
}

// Behind 1:1 NAT the offer announces the public address instead of the
// local one.
func TestPublicIPsReplaceHostAddresses(t *testing.T) {
	cfg := loopbackConfig()
	cfg.PublicIPs = []string{"192.0.2.10"}
	r := newTestRelay(t, cfg)
	p, err := r.NewPeer(PeerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close(); <-p.Done() }()
	sdp, err := p.Offer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lines := candidateLinesOf(sdp)
	if len(lines) == 0 {
		t.Fatal("offer carries no candidates")
	}
	for _, l := range lines {
		if !strings.Contains(l, " 192.0.2.10 ") || strings.Contains(l, "127.0.0.1") {
			t.Errorf("candidate does not announce the public IP only: %s", l)
		}
	}
}

func candidateLinesOf(sdp string) []string {
	var out []string
	for _, l := range strings.Split(sdp, "\n") {
		if strings.HasPrefix(l, "a=candidate:") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}
