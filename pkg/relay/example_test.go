package relay_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// The offer/answer flow as signaling runs it. The relay offers; here a Pion
// peer plays the browser, and Go channels play the WebSocket that carries
// rtc_offer, rtc_answer and rtc_candidate frames.
func Example() {
	r, err := relay.New(relay.Config{IncludeLoopback: true, AllowedIPs: []string{"127.0.0.1"}})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	toBrowser := make(chan protocol.RTCCandidate, 16)
	got := make(chan string, 1)
	open := make(chan struct{})
	peer, err := r.NewPeer(relay.PeerOptions{
		ID:          "visitor-1",
		OnCandidate: func(c protocol.RTCCandidate) { toBrowser <- c }, // → rtc_candidate
		OnFrame:     func(channel string, data []byte) { got <- channel + ": " + string(data) },
		OnState: func(s relay.State) {
			if s == relay.StateOpen {
				close(open)
			}
		},
	})
	if err != nil {
		panic(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offer, err := peer.Offer(ctx) // → rtc_offer
	if err != nil {
		panic(err)
	}

	browser := newBrowser()
	defer browser.Close()
	browser.OnICECandidate(func(c *webrtc.ICECandidate) { // ← rtc_candidate
		if c != nil {
			init := c.ToJSON()
			_ = peer.AddCandidate(protocol.RTCCandidate{Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex})
		}
	})
	browser.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() == relay.ChannelChat {
			dc.OnOpen(func() { _ = dc.SendText(`{"type":"ping"}`) })
		}
	})
	_ = browser.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer})
	answer, _ := browser.CreateAnswer(nil)
	_ = browser.SetLocalDescription(answer)
	if err := peer.SetAnswer(answer.SDP); err != nil { // ← rtc_answer
		panic(err)
	}

	<-open
	fmt.Println(<-got)
	// Output: chat: {"type":"ping"}
}

// newBrowser is a Pion peer connection limited to loopback, like the relay.
func newBrowser() *webrtc.PeerConnection {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		panic(err)
	}
	return pc
}
