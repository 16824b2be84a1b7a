package relay

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parleychat/parley/pkg/protocol"
)

// remoteCandidates lists the addresses of the remote candidates Pion has.
func remoteCandidates(p *Peer) map[string]bool {
	out := map[string]bool{}
	for _, s := range p.pc.GetStats() {
		if c, ok := s.(webrtc.ICECandidateStats); ok && c.Type == webrtc.StatsTypeRemoteCandidate {
			out[c.IP] = true
		}
	}
	return out
}

// Candidates a browser sends that name networks the relay must not probe
// (loopback unless the relay offers it, link-local, private, names) never
// reach Pion, trickled or inside the answer; a candidate with a public
// address does, and the chat goes on. The relay would send STUN checks to
// each (UDP probing of internal networks from the relay's host).
func TestForgedCandidatesAreFiltered(t *testing.T) {
	cfg := loopbackConfig()
	cfg.RemoteAllow = []string{"127.0.0.1"} // the test's browser; the rest of 127/8 stays denied
	r := newTestRelay(t, cfg)
	end, c := connect(t, r, clientOptions{})
	mid, line := "0", uint16(0)
	for _, cand := range []string{
		"candidate:1 1 udp 2130706431 10.1.2.3 40000 typ host",
		"candidate:2 1 udp 2130706431 169.254.9.9 40001 typ host",
		"candidate:3 1 udp 2130706431 192.168.7.7 40002 typ host",
		"candidate:4 1 udp 2130706431 fd00::7 40003 typ host",
		"candidate:5 1 udp 2130706431 127.0.0.2 40004 typ host",
		"candidate:6 1 udp 1694498815 172.16.0.9 40005 typ srflx raddr 0.0.0.0 rport 0",
		"candidate:8 1 udp 2130706431 192.0.2.10 40007 typ host", // public: the control
	} {
		if err := end.peer.AddCandidate(protocol.RTCCandidate{Candidate: cand, SDPMid: &mid, SDPMLineIndex: &line}); err != nil {
			t.Fatalf("AddCandidate(%q): %v", cand, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !remoteCandidates(end.peer)["192.0.2.10"] {
		if time.Now().After(deadline) {
			t.Fatalf("the public candidate never reached Pion: %v", remoteCandidates(end.peer))
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := remoteCandidates(end.peer)
	for _, forged := range []string{"10.1.2.3", "169.254.9.9", "192.168.7.7", "fd00::7", "127.0.0.2", "172.16.0.9"} {
		if got[forged] {
			t.Errorf("forged candidate %s reached Pion", forged)
		}
	}
	c.send(t, "still chatting")
	if got := recv(t, end.frames, "frame"); got != "still chatting" {
		t.Fatalf("got %q", got)
	}

	// Inside an answer, likewise.
	f := newRemoteFilter(cfg)
	answer := "v=0\r\na=candidate:1 1 udp 2130706431 10.1.2.3 40000 typ host\r\na=candidate:8 1 udp 2130706431 192.0.2.10 40007 typ host\r\na=end-of-candidates\r\n"
	if want := "v=0\r\na=candidate:8 1 udp 2130706431 192.0.2.10 40007 typ host\r\na=end-of-candidates\r\n"; f.filterAnswer(answer) != want {
		t.Fatalf("filtered answer %q", f.filterAnswer(answer))
	}
}
