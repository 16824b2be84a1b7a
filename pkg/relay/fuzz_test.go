package relay

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
)

// Whatever a browser sends as answer or candidate, the peer answers with
// an error or accepts it; it never panics, and a refused answer leaves the
// offer pending.
func FuzzNegotiationInput(f *testing.F) {
	for _, seed := range []string{
		"",
		"garbage",
		"v=0\r\n",
		"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
		"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host",
		"candidate:1 1 tcp 2130706431 ::1 5000 typ host tcptype passive",
		"candidate:abc 1 udp 1 x.local 1 typ host",
		"candidate:1 1 udp 1 127.0.0.1 99999 typ relay raddr 0.0.0.0 rport 0",
	} {
		f.Add(seed)
	}
	cfg := loopbackConfig()
	cfg.LogLevel = "disabled"
	r, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	p, err := r.NewPeer(PeerOptions{ID: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := p.Offer(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, input string) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				panic(fmt.Sprintf("stuck on input %q", input))
			}
		}()
		err := p.SetAnswer(input)
		if err == nil {
			t.Fatalf("SetAnswer(%q) accepted", input)
		}
		if !errors.Is(err, ErrBadSDP) {
			t.Fatalf("SetAnswer(%q) = %v, want ErrBadSDP", input, err)
		}
		err = p.AddCandidate(protocol.RTCCandidate{Candidate: input})
		if err != nil && !errors.Is(err, ErrBadCandidate) && !errors.Is(err, ErrTooManyCandidates) {
			t.Fatalf("AddCandidate(%q) = %v", input, err)
		}
	})
}
