package relay

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// mediaClient is a call participant's browser: it sends one local track
// when the relay's offer asks for it and records what it receives.
type mediaClient struct {
	end   *relayEnd
	c     *testClient
	local *webrtc.TrackLocalStaticRTP
	// attach says whether the next offers should get our track.
	attach atomic.Bool
	sender atomic.Pointer[webrtc.RTPSender]

	mu       sync.Mutex
	received map[string]int // payload prefix → packets received
	remote   *webrtc.TrackRemote
	got      chan struct{} // a packet arrived (buffered 1, coalesced)
	ended    chan struct{} // the remote track's reads ended
	plis     atomic.Int32  // PLIs received about our own track
}

func newMediaClient(t *testing.T, r *Relay, kind webrtc.RTPCodecType, name string) *mediaClient {
	t.Helper()
	mc := &mediaClient{received: make(map[string]int), got: make(chan struct{}, 1), ended: make(chan struct{})}
	capability := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	if kind == webrtc.RTPCodecTypeVideo {
		capability = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	}
	local, err := webrtc.NewTrackLocalStaticRTP(capability, name, name)
	if err != nil {
		t.Fatal(err)
	}
	mc.local = local
	var once sync.Once
	mc.end, mc.c = connect(t, r, clientOptions{media: true, onOffer: func(pc *webrtc.PeerConnection) {
		if !mc.attach.Load() || mc.sender.Load() != nil {
			return
		}
		s, err := pc.AddTrack(local)
		if err != nil {
			t.Errorf("%s AddTrack: %v", name, err)
			return
		}
		mc.sender.Store(s)
		go mc.readRTCP(s)
	}})
	mc.c.pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		mc.mu.Lock()
		mc.remote = remote
		mc.mu.Unlock()
		defer once.Do(func() { close(mc.ended) })
		for {
			pkt, _, err := remote.ReadRTP()
			if err != nil {
				return
			}
			mc.mu.Lock()
			mc.received[string(bytes.SplitN(pkt.Payload, []byte{'#'}, 2)[0])]++
			mc.mu.Unlock()
			select {
			case mc.got <- struct{}{}:
			default:
			}
		}
	})
	return mc
}

// readRTCP counts the keyframe requests the relay passes on to us.
func (mc *mediaClient) readRTCP(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if pli, ok := p.(*rtcp.PictureLossIndication); ok && pli.MediaSSRC == uint32(s.GetParameters().Encodings[0].SSRC) {
				mc.plis.Add(1)
			}
		}
	}
}

// sendUntil writes packets "<tag>#n" every 10ms until stop is closed.
func (mc *mediaClient) sendUntil(tag string, pt uint8, stop <-chan struct{}, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			_ = mc.local.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * 960},
				Payload: []byte(tag + "#" + string(rune('a'+seq%26)))})
		}
	}()
}

func (mc *mediaClient) count(tag string) int {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return mc.received[tag]
}

// waitCount waits until at least n packets tagged tag arrived.
func (mc *mediaClient) waitCount(t *testing.T, tag string, n int) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for mc.count(tag) < n {
		select {
		case <-mc.got:
		case <-deadline:
			t.Fatalf("only %d of %d %q packets arrived within 15s", mc.count(tag), n, tag)
		}
	}
}

// renegotiate sends a fresh relay offer to each client and waits for their
// answers to be applied.
func renegotiate(t *testing.T, clients ...*mediaClient) {
	t.Helper()
	for _, mc := range clients {
		before := mc.c.answers.Load()
		offerAgain(t, mc.end, mc.c, false)
		deadline := time.Now().Add(10 * time.Second)
		for mc.c.answers.Load() == before {
			if time.Now().After(deadline) {
				t.Fatal("the client did not answer the renegotiation offer within 10s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		// The relay applies the answer on the signaling pump: wait for it.
		for mc.end.peer.pc.SignalingState() != webrtc.SignalingStateStable {
			if time.Now().After(deadline) {
				t.Fatal("the relay did not apply the answer within 10s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func TestVoiceCallForwardsBothWaysAndHangUpRemovesTracks(t *testing.T) {
	r := newTestRelay(t, loopbackConfig())
	alice := newMediaClient(t, r, webrtc.RTPCodecTypeAudio, "alice")
	bob := newMediaClient(t, r, webrtc.RTPCodecTypeAudio, "bob")

	call, err := alice.end.peer.Connect(bob.end.peer, MediaVoice)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if got := call.SendMids(alice.end.peer); len(got) != 1 {
		t.Fatalf("alice should send on one transceiver, SendMids = %v", got)
	}
	alice.attach.Store(true)
	bob.attach.Store(true)
	renegotiate(t, alice, bob)

	stop := make(chan struct{})
	var senders sync.WaitGroup
	alice.sendUntil("alice", 111, stop, &senders)
	bob.sendUntil("bob", 111, stop, &senders)
	defer func() { close(stop); senders.Wait() }()

	bob.waitCount(t, "alice", 20)
	alice.waitCount(t, "bob", 20)
	if alice.count("alice") != 0 || bob.count("bob") != 0 {
		t.Fatal("a participant heard itself")
	}
	for _, s := range call.Stats() {
		if s.Packets == 0 || s.Bytes == 0 || s.Kind != "audio" {
			t.Fatalf("leg stats %+v: want audio packets counted", s)
		}
	}

	// Chat keeps going during the call.
	alice.c.send(t, `{"type":"ping","ref":"during"}`)
	if got := recv(t, alice.end.frames, "chat frame during the call"); got != `{"type":"ping","ref":"during"}` {
		t.Fatalf("chat frame = %q", got)
	}

	// Hang up: the call's transceivers stop on the relay, the browsers'
	// tracks end after renegotiation, forwarding stops.
	if err := call.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, mc := range []*mediaClient{alice, bob} {
		for _, tr := range mc.end.peer.pc.GetTransceivers() {
			if tr.Direction() != webrtc.RTPTransceiverDirectionInactive {
				t.Fatalf("transceiver %s is %s after hang-up, want inactive", tr.Mid(), tr.Direction())
			}
		}
	}
	renegotiate(t, alice, bob)
	for _, mc := range []*mediaClient{alice, bob} {
		select {
		case <-mc.ended:
		case <-time.After(10 * time.Second):
			t.Fatal("the remote track did not end after hang-up")
		}
	}
	forwarded := call.Stats()
	time.Sleep(200 * time.Millisecond) // the clients keep writing meanwhile
	for i, s := range call.Stats() {
		if s.Packets != forwarded[i].Packets {
			t.Fatalf("leg %s→%s forwarded %d more packets after hang-up", s.From, s.To, s.Packets-forwarded[i].Packets)
		}
	}
	if err := call.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// And the chat still works after the call.
	bob.c.send(t, `{"type":"ping","ref":"after"}`)
	if got := recv(t, bob.end.frames, "chat frame after the call"); got != `{"type":"ping","ref":"after"}` {
		t.Fatalf("chat frame = %q", got)
	}
}

func TestScreenShareForwardsVideoAndKeyframeRequests(t *testing.T) {
	r := newTestRelay(t, loopbackConfig())
	sharer := newMediaClient(t, r, webrtc.RTPCodecTypeVideo, "sharer")
	viewer := newMediaClient(t, r, webrtc.RTPCodecTypeVideo, "viewer")

	call, err := sharer.end.peer.Connect(viewer.end.peer, MediaScreen)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer func() { _ = call.Close() }()
	if got := call.SendMids(viewer.end.peer); len(got) != 0 {
		t.Fatalf("the viewer sends nothing in a screen share, SendMids = %v", got)
	}
	sharer.attach.Store(true)
	renegotiate(t, sharer, viewer)

	stop := make(chan struct{})
	var senders sync.WaitGroup
	sharer.sendUntil("screen", 96, stop, &senders)
	defer func() { close(stop); senders.Wait() }()
	viewer.waitCount(t, "screen", 10)

	// The relay asks for a keyframe when the sharer's track arrives...
	waitFor(t, "the relay's own keyframe request", func() bool { return sharer.plis.Load() >= 1 })
	first := sharer.plis.Load()
	// ...and passes on the viewer's.
	viewer.mu.Lock()
	remote := viewer.remote
	viewer.mu.Unlock()
	if err := viewer.c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(remote.SSRC())}}); err != nil {
		t.Fatalf("viewer PLI: %v", err)
	}
	waitFor(t, "the viewer's PLI at the sharer", func() bool { return sharer.plis.Load() > first })
	if s := call.Stats(); len(s) != 1 || s[0].KeyframeRequests < 2 || s[0].Kind != "video" {
		t.Fatalf("stats %+v: want one video leg with ≥ 2 keyframe requests", s)
	}
}

func TestConnectRefusesDataOnlyPeers(t *testing.T) {
	r := newTestRelay(t, loopbackConfig())
	a, _ := connect(t, r, clientOptions{})
	b, _ := connect(t, r, clientOptions{media: true})
	if _, err := a.peer.Connect(b.peer, MediaVoice); !errors.Is(err, ErrNoMedia) {
		t.Fatalf("Connect with a data-only peer: err = %v, want ErrNoMedia", err)
	}
	if _, err := b.peer.Connect(b.peer, MediaVoice); err == nil {
		t.Fatal("Connect of a peer with itself: no error")
	}
	b2, _ := connect(t, r, clientOptions{media: true})
	if _, err := b.peer.Connect(b2.peer, Media("video-call")); err == nil {
		t.Fatal("Connect with unknown media: no error")
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
