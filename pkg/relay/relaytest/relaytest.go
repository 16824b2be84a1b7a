// Package relaytest is the browser's side of the relay's chat data channel,
// for Go tests that play the widget or the agent app with Pion: a peer set up
// for loopback only, which answers the relay's rtc_offer, trickles its ICE
// candidates back as rtc_candidate frames, takes the relay's candidates, and
// hands over the "chat" data channel once it is open.
//
// It speaks only the WebRTC part of the protocol; the caller owns the
// WebSocket, reads its frames, and decides what an open channel, a message on
// it and rtc_stop mean for its client. The split into NewPeer and Answer lets
// the caller record the peer (under its own lock) before any callback can
// fire or any of the relay's candidates can arrive.
package relaytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
)

// QuietLogs turns Pion's own logging off: tests open hundreds of peers and
// their ICE chatter would bury the failure that matters.
var QuietLogs logging.LoggerFactory = func() logging.LoggerFactory {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled
	return f
}()

// SettingEngine is the loopback setup the tests' peers use: IPv4 UDP on the
// loopback interface only, no mDNS, logs off. The relays under test listen on
// 127.0.0.1, and other interfaces would only slow ICE down (or reach
// networks the sandbox has not got).
func SettingEngine() webrtc.SettingEngine {
	var se webrtc.SettingEngine
	se.LoggerFactory = QuietLogs
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return se
}

// NewPeer returns a peer connection with SettingEngine's setup and no media.
// The caller closes it.
func NewPeer() (*webrtc.PeerConnection, error) {
	se := SettingEngine()
	return webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
}

// Handlers connect a peer to its client. Send is required; OnOpen and
// OnMessage may be nil. All three are called from Pion's goroutines, so they
// must be safe to call concurrently with the client's own code.
type Handlers struct {
	// Send writes a frame (rtc_candidate, rtc_answer) on the client's
	// protocol WebSocket.
	Send func(frame any)
	// OnOpen is called once the relay's "chat" data channel is open.
	OnOpen func(dc *webrtc.DataChannel)
	// OnMessage is called with each frame received on the chat channel;
	// data is a copy the callee may keep.
	OnMessage func(data []byte)
	// OnSignalsOpen and OnSignal are OnOpen and OnMessage for the relay's
	// unordered "signals" channel (typing); nil: it is ignored.
	OnSignalsOpen func(dc *webrtc.DataChannel)
	OnSignal      func(data []byte)
}

// Answer does what the widget does with an rtc_offer on pc (from NewPeer):
// it wires the handlers, takes the relay's offer, and sends the answer with
// h.Send. Its own candidates follow by h.Send as Pion gathers them, then an
// empty rtc_candidate for end of candidates. Channels other than "chat" and
// "signals" are ignored. The error says which step failed; pc is left for the caller to
// close.
func Answer(pc *webrtc.PeerConnection, o protocol.RTCOffer, h Handlers) error {
	Trickle(pc, h.Send)
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		open, message := h.OnOpen, h.OnMessage
		switch dc.Label() {
		case relay.ChannelChat:
		case relay.ChannelSignals:
			open, message = h.OnSignalsOpen, h.OnSignal
		default:
			return
		}
		if open != nil {
			dc.OnOpen(func() { open(dc) })
		}
		if message != nil {
			dc.OnMessage(func(m webrtc.DataChannelMessage) { message(append([]byte(nil), m.Data...)) })
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP}); err != nil {
		return fmt.Errorf("set the relay's offer: %w", err)
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create the answer: %w", err)
	}
	if err := pc.SetLocalDescription(ans); err != nil {
		return fmt.Errorf("set the answer: %w", err)
	}
	h.Send(protocol.RTCAnswer{Envelope: protocol.Envelope{Type: protocol.TypeRTCAnswer}, SDP: ans.SDP})
	return nil
}

// AddCandidate applies an rtc_candidate frame from the relay to pc. A nil pc
// (no offer answered yet, or the peer was dropped) and the empty
// end-of-candidates frame are no-ops.
func AddCandidate(pc *webrtc.PeerConnection, frame []byte) error {
	var rc protocol.RTCCandidate
	if err := json.Unmarshal(frame, &rc); err != nil {
		return fmt.Errorf("rtc_candidate frame: %w", err)
	}
	if pc == nil || rc.Candidate == "" {
		return nil
	}
	return pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: rc.Candidate, SDPMid: rc.SDPMid, SDPMLineIndex: rc.SDPMLineIndex})
}

// Trickle sends pc's ICE candidates with send as rtc_candidate frames, as
// Pion gathers them, then the empty one for end of candidates.
func Trickle(pc *webrtc.PeerConnection, send func(frame any)) {
	pc.OnICECandidate(func(ic *webrtc.ICECandidate) {
		rc := protocol.RTCCandidate{Envelope: protocol.Envelope{Type: protocol.TypeRTCCandidate}}
		if ic != nil {
			init := ic.ToJSON()
			rc.Candidate, rc.SDPMid, rc.SDPMLineIndex = init.Candidate, init.SDPMid, init.SDPMLineIndex
		}
		send(rc)
	})
}

// FrameReader is the reading half of a client's protocol WebSocket (a
// *websocket.Conn).
type FrameReader interface {
	ReadMessage() (messageType int, data []byte, err error)
}

// ReadFrames reads ws until it fails (closed) and hands each frame to handle
// with its type; a frame that is not a JSON envelope comes with type "".
func ReadFrames(ws FrameReader, handle func(typ string, frame []byte)) {
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var env protocol.Envelope
		json.Unmarshal(data, &env)
		handle(env.Type, data)
	}
}

// Offer decodes an rtc_offer frame; a malformed one has an empty SDP, which
// the peer then refuses.
func Offer(frame []byte) protocol.RTCOffer {
	var o protocol.RTCOffer
	json.Unmarshal(frame, &o)
	return o
}

// Metric reads one sample (series, e.g. `parley_connections{kind="visitor"}`)
// of the Prometheus /metrics at base, as the relay tests check what a server
// or relay counted; a series it does not list reads 0.
func Metric(base, series string) (float64, error) {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, value, ok := strings.Cut(line, " "); ok && name == series {
			var v float64
			_, err := fmt.Sscan(value, &v)
			return v, err
		}
	}
	return 0, nil
}
