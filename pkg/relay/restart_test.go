package relay

import (
	"fmt"
	"testing"
	"time"
)

// When the network drops every packet, ICE fails; Restart with a new offer
// re-establishes the connection over the same DTLS and SCTP, and frames
// sent during the outage arrive, in order, afterwards.
func TestICERestartReestablishes(t *testing.T) {
	cfg := loopbackConfig()
	cfg.DisconnectedTimeout = 300 * time.Millisecond
	cfg.FailedTimeout = 700 * time.Millisecond
	cfg.KeepaliveInterval = 100 * time.Millisecond
	r := newTestRelay(t, cfg)
	cut := newPausableNet(t)
	end, c := connect(t, r, clientOptions{
		net:          cut,
		disconnected: cfg.DisconnectedTimeout,
		failed:       cfg.FailedTimeout,
		keepalive:    cfg.KeepaliveInterval,
	})
	c.send(t, "before")
	if got := recv(t, end.frames, "frame before the outage"); got != "before" {
		t.Fatalf("got %q", got)
	}

	cut.paused.Store(true)
	waitState(t, end, StateFailed)
	// Frames sent while failed wait in SCTP's queue.
	for i := range 3 {
		if err := end.peer.Send(fmt.Appendf(nil, "during %d", i)); err != nil {
			t.Fatalf("Send while failed: %v", err)
		}
	}
	cut.paused.Store(false)

	offerAgain(t, end, c, true)
	waitState(t, end, StateConnecting)
	waitState(t, end, StateOpen)
	if n := c.answers.Load(); n != 2 {
		t.Fatalf("client answered %d offers, want 2", n)
	}
	for i := range 3 {
		if got, want := recv(t, c.frames, "frame sent during the outage"), fmt.Sprintf("during %d", i); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	c.send(t, "after")
	if got := recv(t, end.frames, "frame after the restart"); got != "after" {
		t.Fatalf("got %q", got)
	}
}
