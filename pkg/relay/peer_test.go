package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

func TestFramesBothWaysOnBothChannels(t *testing.T) {
	r := newTestRelay(t, loopbackConfig())
	end, c := connect(t, r, clientOptions{})

	if got := end.peer.State(); got != StateOpen {
		t.Fatalf("State() = %v, want open", got)
	}
	c.send(t, `{"type":"send","body":"hello relay"}`)
	if got := recv(t, end.frames, "frame at relay"); got != `{"type":"send","body":"hello relay"}` {
		t.Fatalf("relay got %q", got)
	}
	if err := end.peer.Send([]byte(`{"type":"message","body":"hello browser"}`)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := recv(t, c.frames, "frame at client"); got != `{"type":"message","body":"hello browser"}` {
		t.Fatalf("client got %q", got)
	}

	// signals: unordered and unreliable, but loopback does not lose packets.
	deadline := time.Now().Add(10 * time.Second)
	for c.signals.Load() == nil || c.signals.Load().ReadyState() != webrtc.DataChannelStateOpen {
		if time.Now().After(deadline) {
			t.Fatal("signals channel did not open at the client")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.signals.Load().SendText(`{"type":"typing","on":true}`); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, end.signals, "signal at relay"); got != `{"type":"typing","on":true}` {
		t.Fatalf("relay got signal %q", got)
	}
	for end.peer.SendSignal([]byte(`{"type":"typing","on":false}`)) != nil {
		if time.Now().After(deadline) {
			t.Fatal("SendSignal never succeeded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := recv(t, c.sigFrames, "signal at client"); got != `{"type":"typing","on":false}` {
		t.Fatalf("client got signal %q", got)
	}
}

// Frames larger than the read buffer (2 KiB) but within
// protocol.MaxFrameBytes arrive whole.
func TestLargeFrameWithinLimitArrivesWhole(t *testing.T) {
	r := newTestRelay(t, loopbackConfig())
	end, c := connect(t, r, clientOptions{})
	big := strings.Repeat("x", protocol.MaxFrameBytes)
	c.send(t, big)
	c.send(t, "after")
	if got := recv(t, end.frames, "big frame"); got != big {
		t.Fatalf("big frame: got %d bytes, want %d", len(got), len(big))
	}
	if got := recv(t, end.frames, "next frame"); got != "after" {
		t.Fatalf("next frame = %q", got)
	}
}

func TestOversizeFrameIsDroppedAndPeerGoesOn(t *testing.T) {
	cfg := loopbackConfig()
	cfg.MaxMessageSize = 64 << 10 // let the client send more than MaxFrameBytes
	r := newTestRelay(t, cfg)
	end, c := connect(t, r, clientOptions{maxMessageSize: 64 << 10})

	c.send(t, strings.Repeat("y", protocol.MaxFrameBytes+1))
	c.send(t, "still alive")
	select {
	case n := <-end.oversize:
		if n != protocol.MaxFrameBytes+1 {
			t.Fatalf("OnOversize size = %d, want %d", n, protocol.MaxFrameBytes+1)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnOversize not called")
	}
	if got := recv(t, end.frames, "frame after oversize"); got != "still alive" {
		t.Fatalf("after oversize got %q", got)
	}
	if end.peer.State() != StateOpen {
		t.Fatalf("state after oversize = %v", end.peer.State())
	}

	// Sending more than the browser accepts (64 KiB here, 256 KiB for Chromium) fails
	// with ErrFrameTooBig and the channel stays usable.
	err := end.peer.Send(make([]byte, 70000))
	if !errors.Is(err, ErrFrameTooBig) {
		t.Fatalf("Send(70000 bytes) = %v, want ErrFrameTooBig", err)
	}
	if err := end.peer.Send([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, c.frames, "frame after refused send"); got != "ok" {
		t.Fatalf("client got %q", got)
	}
}

// With the default MaxMessageSize the relay announces
// protocol.MaxFrameBytes, so a browser refuses to send a bigger frame.
func TestDefaultMaxMessageSizeIsAnnounced(t *testing.T) {
	r := newTestRelay(t, loopbackConfig())
	end, c := connect(t, r, clientOptions{})
	err := c.chat.Load().SendText(strings.Repeat("z", protocol.MaxFrameBytes+1))
	if err == nil {
		t.Fatal("client could send more than the announced max-message-size")
	}
	c.send(t, "fine")
	if got := recv(t, end.frames, "frame"); got != "fine" {
		t.Fatalf("got %q", got)
	}
}

func TestManyConcurrentPeersInOrder(t *testing.T) {
	const peers, frames = 50, 100
	r, cfg := newTestRelayOnFreePorts(t, loopbackConfig(), true, false)

	type pair struct {
		end *relayEnd
		c   *testClient
	}
	pairs := make([]pair, peers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	// Open in waves of 10: on a loaded 2-core machine (-race, other
	// tests) 50 simultaneous DTLS handshakes can starve ICE checks.
	for wave := 0; wave < peers; wave += 10 {
		for i := wave; i < wave+10; i++ {
			end, c := startPair(t, r, clientOptions{})
			pairs[i] = pair{end, c}
		}
		for _, p := range pairs[wave : wave+10] {
			waitOpen(t, p.end, p.c)
		}
	}
	if r.Peers() != peers {
		t.Fatalf("Peers() = %d, want %d", r.Peers(), peers)
	}
	for _, p := range pairs {
		wg.Add(2)
		go func() { // client → relay
			defer wg.Done()
			for j := range frames {
				if err := p.c.chat.Load().SendText(fmt.Sprintf("c%d", j)); err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					return
				}
			}
		}()
		go func() { // relay → client
			defer wg.Done()
			for j := range frames {
				if err := p.end.peer.Send(fmt.Appendf(nil, "r%d", j)); err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d sends failed, first: %s", len(failures), failures[0])
	}
	for i, p := range pairs {
		for j := range frames {
			// Generous: a packet lost under load waits for SCTP's
			// retransmission timer, which backs off.
			if got, want := recvWithin(t, p.end.frames, "frame at relay", time.Minute), fmt.Sprintf("c%d", j); got != want {
				t.Fatalf("peer %d: relay got %q, want %q", i, got, want)
			}
			if got, want := recvWithin(t, p.c.frames, "frame at client", time.Minute), fmt.Sprintf("r%d", j); got != want {
				t.Fatalf("peer %d: client got %q, want %q", i, got, want)
			}
		}
	}

	// One UDP port for everybody: every relay candidate uses it.
	if offer := pairs[0].c.pc.RemoteDescription(); offer != nil {
		port := fmt.Sprintf(" %d typ host", cfg.UDPPort)
		for _, line := range strings.Split(offer.SDP, "\n") {
			if strings.HasPrefix(line, "a=candidate:") && strings.Contains(line, " udp ") && !strings.Contains(line, port) {
				t.Errorf("candidate not on the mux port %d: %s", cfg.UDPPort, line)
			}
		}
	}
}

// The client trickles all its candidates before its answer reaches the
// relay: they must be queued, not dropped, and used.
func TestCandidatesBeforeAnswerAreQueued(t *testing.T) {
	cfg := loopbackConfig()
	r := newTestRelay(t, cfg)
	end, c := connect(t, r, clientOptions{candidatesFirst: true})
	c.send(t, "queued candidates worked")
	if got := recv(t, end.frames, "frame"); got != "queued candidates worked" {
		t.Fatalf("got %q", got)
	}
	answer := <-c.sentAnswers
	if strings.Contains(answer, "a=candidate:") {
		t.Fatal("test setup: the answer carries candidates, so the queue is not exercised")
	}
	// The relay must know the client's host candidate from the queue (a
	// lost queue would leave it only a peer-reflexive one).
	if typ := selectedRemoteType(t, end.peer); typ != webrtc.ICECandidateTypeHost {
		t.Fatalf("selected remote candidate type = %v, want host (queued candidate)", typ)
	}
}

func selectedRemoteType(t *testing.T, p *Peer) webrtc.ICECandidateType {
	t.Helper()
	stats := p.pc.GetStats()
	for _, s := range stats {
		pair, ok := s.(webrtc.ICECandidatePairStats)
		if !ok || !pair.Nominated {
			continue
		}
		if rc, ok := stats[pair.RemoteCandidateID].(webrtc.ICECandidateStats); ok {
			return rc.CandidateType
		}
	}
	t.Fatal("no nominated candidate pair in stats")
	return 0
}

func TestMalformedNegotiationIsRefusedAndHarmless(t *testing.T) {
	r := newTestRelay(t, loopbackConfig())
	p, err := r.NewPeer(PeerOptions{ID: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	if err := p.SetAnswer("v=0\r\n"); !errors.Is(err, ErrNoOffer) {
		t.Fatalf("SetAnswer before Offer = %v, want ErrNoOffer", err)
	}
	sdp, err := p.Offer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sdp, "a=candidate:") || !strings.Contains(sdp, "127.0.0.1") {
		t.Fatalf("offer does not carry the loopback candidate:\n%s", sdp)
	}
	for _, bad := range []string{"", "garbage", "v=0\r\nthis is not sdp\r\n", sdp /* an offer is no answer */, strings.Repeat("a", maxSDPLen+1)} {
		if err := p.SetAnswer(bad); !errors.Is(err, ErrBadSDP) {
			t.Errorf("SetAnswer(%.20q) = %v, want ErrBadSDP", bad, err)
		}
	}
	for _, bad := range []string{"candidate:garbage", "candidate:1 1 udp notanumber 127.0.0.1 5000 typ host", strings.Repeat("c", 2000)} {
		if err := p.AddCandidate(protocol.RTCCandidate{Candidate: bad}); !errors.Is(err, ErrBadCandidate) {
			t.Errorf("AddCandidate(%.30q) = %v, want ErrBadCandidate", bad, err)
		}
	}
	// Too many candidates before the answer.
	good := protocol.RTCCandidate{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"}
	var queueErr error
	for range maxQueuedCandidates + 1 {
		queueErr = p.AddCandidate(good)
	}
	if !errors.Is(queueErr, ErrTooManyCandidates) {
		t.Fatalf("candidate %d before the answer = %v, want ErrTooManyCandidates", maxQueuedCandidates+1, queueErr)
	}
	if p.State() != StateConnecting {
		t.Fatalf("state after bad input = %v", p.State())
	}
}

// After bad answers the peer still connects with the good one.
func TestGoodAnswerAfterBadOnes(t *testing.T) {
	r := newTestRelay(t, loopbackConfig())
	var end *relayEnd
	ready := make(chan struct{})
	end, c := startPair(t, r, clientOptions{beforeAnswer: func() {
		<-ready
		for _, bad := range []string{"garbage", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"} {
			if err := end.peer.SetAnswer(bad); !errors.Is(err, ErrBadSDP) {
				t.Errorf("SetAnswer(%q) = %v, want ErrBadSDP", bad, err)
			}
		}
	}})
	close(ready)
	waitOpen(t, end, c)
	c.send(t, "ok")
	if got := recv(t, end.frames, "frame"); got != "ok" {
		t.Fatalf("got %q", got)
	}
}

func TestSendBeforeOpenAndAfterClose(t *testing.T) {
	r := newTestRelay(t, loopbackConfig())
	p, err := r.NewPeer(PeerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send([]byte("x")); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("Send before open = %v, want ErrNotOpen", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	<-p.Done()
	if err := p.Send([]byte("x")); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("Send after close = %v, want ErrNotOpen", err)
	}
	if _, err := p.Offer(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Offer after close = %v, want ErrClosed", err)
	}
	if err := p.AddCandidate(protocol.RTCCandidate{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("AddCandidate after close = %v, want ErrClosed", err)
	}
	if r.Peers() != 0 {
		t.Fatalf("Peers() after close = %d", r.Peers())
	}
}

func TestBrowserClosingChatClosesPeer(t *testing.T) {
	r := newTestRelay(t, loopbackConfig())
	end, c := connect(t, r, clientOptions{})
	if err := c.chat.Load().Close(); err != nil {
		t.Fatal(err)
	}
	waitState(t, end, StateClosed)
	select {
	case <-end.peer.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed")
	}
	if err := end.peer.Send([]byte("x")); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("Send after browser closed = %v, want ErrNotOpen", err)
	}
}

// Close may be called from inside callbacks without deadlock.
func TestCloseFromCallbacks(t *testing.T) {
	r := newTestRelay(t, loopbackConfig())

	t.Run("OnFrame", func(t *testing.T) {
		end, c := connect(t, r, clientOptions{})
		closed := make(chan error, 1)
		hook := func(string, []byte) { closed <- end.peer.Close() }
		end.frameHook.Store(&hook)
		c.send(t, "close me")
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("Close from OnFrame: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close from OnFrame did not return")
		}
		<-end.peer.Done()
	})
	t.Run("OnState", func(t *testing.T) {
		end, c := startPair(t, r, clientOptions{})
		closed := make(chan error, 1)
		hook := func(s State) {
			if s == StateOpen {
				closed <- end.peer.Close()
			}
		}
		end.stateHook.Store(&hook)
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("Close from OnState: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close from OnState did not return")
		}
		<-end.peer.Done()
		_ = c
	})
}

// Close and Relay.Close release every goroutine and socket.
func TestCloseReleasesEverything(t *testing.T) {
	defer goleak.VerifyNone(t)
	cfg := loopbackConfig()
	cfg.ListenIP = "127.0.0.1"
	r, _ := onFreePorts(t, cfg, true, true)
	ends := make([]*relayEnd, 0, 3)
	clients := make([]*testClient, 0, 3)
	for range 3 {
		e, c := startPair(t, r, clientOptions{noCleanup: true})
		ends = append(ends, e)
		clients = append(clients, c)
	}
	for i := range ends {
		waitOpen(t, ends[i], clients[i])
	}
	_ = ends[0].peer.Close() // one by hand, the rest by Relay.Close
	if err := r.Close(); err != nil {
		t.Fatalf("Relay.Close: %v", err)
	}
	for _, e := range ends {
		select {
		case <-e.peer.Done():
		default:
			t.Fatal("Relay.Close returned before a peer was done")
		}
	}
	if _, err := r.NewPeer(PeerOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewPeer after Relay.Close = %v, want ErrClosed", err)
	}
	for _, c := range clients {
		c.close()
	}
}

// With GatherWait < 0 the offer carries no candidates: all of them trickle
// through OnCandidate, only after the answer, and end with an empty
// candidate (end of candidates).
func TestRelayCandidatesTrickleAfterAnswer(t *testing.T) {
	cfg := loopbackConfig()
	cfg.GatherWait = -1
	r := newTestRelay(t, cfg)
	end, c := startPair(t, r, clientOptions{})
	offer := c.pc.RemoteDescription()
	deadline := time.Now().Add(10 * time.Second)
	for offer == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		offer = c.pc.RemoteDescription()
	}
	if offer == nil {
		t.Fatal("client never got the offer")
	}
	if strings.Contains(offer.SDP, "a=candidate:") {
		t.Fatalf("offer carries candidates although GatherWait < 0:\n%s", offer.SDP)
	}
	waitOpen(t, end, c)
	for !c.endOfCandidates.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !c.endOfCandidates.Load() {
		t.Fatal("no end-of-candidates trickled")
	}
	if n := c.candidates.Load(); n < 2 {
		t.Fatalf("client got %d trickled candidates, want the loopback one and end of candidates", n)
	}
}

// Candidates are held while an offer waits for its answer.
func TestNoRelayCandidateBeforeAnswer(t *testing.T) {
	cfg := loopbackConfig()
	cfg.GatherWait = -1
	r := newTestRelay(t, cfg)
	got := make(chan protocol.RTCCandidate, 8)
	p, err := r.NewPeer(PeerOptions{OnCandidate: func(c protocol.RTCCandidate) { got <- c }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close(); <-p.Done() }()
	if _, err := p.Offer(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		t.Fatalf("candidate %q handed out before the answer", c.Candidate)
	case <-time.After(300 * time.Millisecond): // loopback gathering takes ~1ms
	}
}
