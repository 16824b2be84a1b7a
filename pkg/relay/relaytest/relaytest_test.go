package relaytest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
)

// TestAnswerOpensTheChatChannel plays the relay with a second Pion peer: it
// offers a "chat" and an "other" channel, and the frames Answer sends go
// back to it as the relay's signaling would take them. The chat channel
// must open and carry a frame both ways; the other one is ignored.
func TestAnswerOpensTheChatChannel(t *testing.T) {
	offerer, err := NewPeer()
	if err != nil {
		t.Fatal(err)
	}
	defer offerer.Close()
	relayChat, err := offerer.CreateDataChannel(relay.ChannelChat, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := offerer.CreateDataChannel("other", nil)
	if err != nil {
		t.Fatal(err)
	}
	relayGot := make(chan string, 1)
	relayChat.OnMessage(func(m webrtc.DataChannelMessage) { relayGot <- string(m.Data) })
	relayChat.OnOpen(func() { relayChat.SendText(`{"type":"welcome"}`) })

	pc, err := NewPeer()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// The relay's candidates reach the browser as rtc_candidate frames, on
	// the WebSocket after the offer (so they wait for Answer here).
	relayCandidates := make(chan []byte, 64)
	offerer.OnICECandidate(func(ic *webrtc.ICECandidate) {
		rc := protocol.RTCCandidate{Envelope: protocol.Envelope{Type: protocol.TypeRTCCandidate}}
		if ic != nil {
			init := ic.ToJSON()
			rc.Candidate, rc.SDPMid, rc.SDPMLineIndex = init.Candidate, init.SDPMid, init.SDPMLineIndex
		}
		b, _ := json.Marshal(rc)
		relayCandidates <- b
	})
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := offerer.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}

	// What the browser sends on its WebSocket goes to the relay's peer.
	send := func(frame any) {
		switch f := frame.(type) {
		case protocol.RTCAnswer:
			if err := offerer.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: f.SDP}); err != nil {
				t.Errorf("set the answer: %v", err)
			}
		case protocol.RTCCandidate:
			if f.Candidate != "" {
				offerer.AddICECandidate(webrtc.ICECandidateInit{Candidate: f.Candidate, SDPMid: f.SDPMid, SDPMLineIndex: f.SDPMLineIndex})
			}
		default:
			t.Errorf("unexpected frame %T", frame)
		}
	}
	opened := make(chan *webrtc.DataChannel, 2)
	browserGot := make(chan string, 2)
	err = Answer(pc, protocol.RTCOffer{Envelope: protocol.Envelope{Type: protocol.TypeRTCOffer}, SDP: offer.SDP}, Handlers{
		Send:      send,
		OnOpen:    func(dc *webrtc.DataChannel) { opened <- dc },
		OnMessage: func(data []byte) { browserGot <- string(data) },
	})
	if err != nil {
		t.Fatal(err)
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	defer func() { close(done); <-stopped }()
	go func() {
		defer close(stopped)
		for {
			select {
			case b := <-relayCandidates:
				if err := AddCandidate(pc, b); err != nil {
					t.Errorf("add the relay's candidate: %v", err)
				}
			case <-done:
				return
			}
		}
	}()

	timeout := time.After(20 * time.Second)
	var dc *webrtc.DataChannel
	select {
	case dc = <-opened:
	case <-timeout:
		t.Fatal("chat channel not open in 20s")
	}
	if dc.Label() != relay.ChannelChat {
		t.Fatalf("OnOpen got channel %q, want %q", dc.Label(), relay.ChannelChat)
	}
	select {
	case got := <-browserGot:
		if got != `{"type":"welcome"}` {
			t.Fatalf("browser got %q", got)
		}
	case <-timeout:
		t.Fatal("no frame from the relay in 20s")
	}
	if err := dc.SendText(`{"type":"hello"}`); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-relayGot:
		if got != `{"type":"hello"}` {
			t.Fatalf("relay got %q", got)
		}
	case <-timeout:
		t.Fatal("no frame from the browser in 20s")
	}
	// The other channel is open on the relay's side by now or soon; it
	// must never reach the handlers.
	other.SendText(`{"type":"noise"}`)
	time.Sleep(200 * time.Millisecond)
	select {
	case dc := <-opened:
		t.Fatalf("OnOpen called for channel %q", dc.Label())
	case got := <-browserGot:
		t.Fatalf("OnMessage got %q from a channel other than chat", got)
	default:
	}
}

func TestAddCandidate(t *testing.T) {
	if err := AddCandidate(nil, []byte(`{"type":"rtc_candidate","candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}`)); err != nil {
		t.Fatalf("no peer yet must be a no-op: %v", err)
	}
	pc, err := NewPeer()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := AddCandidate(pc, []byte(`{"type":"rtc_candidate"}`)); err != nil {
		t.Fatalf("end of candidates must be a no-op: %v", err)
	}
	if err := AddCandidate(pc, []byte(`{"type":`)); err == nil {
		t.Fatal("a broken frame must be an error")
	}
	// Before an offer is set Pion refuses candidates; the error must reach
	// the caller.
	if err := AddCandidate(pc, []byte(`{"type":"rtc_candidate","candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}`)); err == nil {
		t.Fatal("a candidate without a remote description must be an error")
	}
}
