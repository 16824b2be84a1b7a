package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay/relaytest"
)

// The data-channel scenario: each side asks for a peer connection with
// rtc_start on its WebSocket, answers the server's rtc_offer with
// relaytest's Pion peer (what the widget does), and from then on sends its
// chat frames on the "chat" data channel; whatever comes back on the
// channel goes through the same onFrame as WebSocket frames. Parley's relay
// and the bare Pion forwarder negotiate the same way, so the clients are
// the same for both.

// dcWait bounds one side's negotiation (offer → channel open).
const dcWait = 30 * time.Second

// negotiate asks for a data channel on sd's WebSocket and waits until it is
// open, refused (rtc_stop) or dcWait has passed.
func (s *session) negotiate(sd *side) error {
	sd.mu.Lock()
	sd.dcOpen, sd.dcStop = make(chan struct{}), make(chan string, 1)
	open, stop := sd.dcOpen, sd.dcStop
	b, _ := json.Marshal(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}})
	sd.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	err := sd.ws.WriteMessage(websocket.TextMessage, b)
	sd.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-open:
		return nil
	case r := <-stop:
		return fmt.Errorf("%s %d: rtc_stop instead of a data channel: %s", sd.role, sd.p.idx, r)
	case <-time.After(dcWait):
		return fmt.Errorf("%s %d: data channel not open in %s", sd.role, sd.p.idx, dcWait)
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// onRTC handles a negotiation frame read from sd's WebSocket; false when
// data is not one.
func (s *session) onRTC(sd *side, data []byte) bool {
	if !bytes.HasPrefix(data, []byte(`{"type":"rtc_`)) {
		return false
	}
	var env protocol.Envelope
	json.Unmarshal(data, &env)
	switch env.Type {
	case protocol.TypeRTCOffer:
		var o protocol.RTCOffer
		if err := json.Unmarshal(data, &o); err != nil {
			s.tl().errorFrame("client_bad_offer")
			return true
		}
		s.answer(sd, o)
	case protocol.TypeRTCCandidate:
		sd.mu.Lock()
		pc := sd.pc
		sd.mu.Unlock()
		if err := relaytest.AddCandidate(pc, data); err != nil {
			s.tl().errorFrame("client_bad_candidate")
		}
	case protocol.TypeRTCStop:
		// The server gave the channel up: chat goes on over the WebSocket
		// (counted: a run with rtc_stops did not measure the channel only).
		var st protocol.RTCStop
		json.Unmarshal(data, &st)
		s.tl().errorFrame("rtc_stop")
		sd.mu.Lock()
		sd.dc = nil
		stop := sd.dcStop
		sd.mu.Unlock()
		if stop != nil {
			select {
			case stop <- st.Reason:
			default:
			}
		}
	}
	return true
}

// answer plays the browser: a fresh Pion peer answers the offer; frames on
// the chat channel go to onFrame.
func (s *session) answer(sd *side, o protocol.RTCOffer) {
	pc, err := relaytest.NewPeer()
	if err != nil {
		s.tl().errorFrame("client_peer")
		return
	}
	sd.mu.Lock()
	old := sd.pc
	sd.pc = pc
	open := sd.dcOpen
	sd.mu.Unlock()
	if old != nil {
		old.Close()
	}
	err = relaytest.Answer(pc, o, relaytest.Handlers{
		Send: func(frame any) {
			b, _ := json.Marshal(frame)
			sd.mu.Lock()
			defer sd.mu.Unlock()
			if sd.ws != nil {
				sd.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
				sd.ws.WriteMessage(websocket.TextMessage, b)
			}
		},
		OnOpen: func(dc *webrtc.DataChannel) {
			sd.mu.Lock()
			if sd.pc == pc {
				sd.dc = dc
			}
			sd.mu.Unlock()
			closeOnce(open)
		},
		OnMessage: func(data []byte) {
			now := time.Now()
			t := s.tl()
			if isPeerMessage(data) {
				t.overDC.Add(1)
			}
			sd.onFrame(data, now, t)
		},
	})
	if err != nil {
		s.tl().errorFrame("client_answer")
	}
}

// isPeerMessage: a chat message frame (Parley's message, or the baseline's
// forwarded send), counted per transport. Parley's system notices (an
// agent joined) are not the benchmark's messages: whether one comes before
// or after the data channel opens is a race, so counting it made the
// transport check flaky.
func isPeerMessage(data []byte) bool {
	if bytes.HasPrefix(data, []byte(`{"type":"send"`)) {
		return true
	}
	return bytes.HasPrefix(data, []byte(`{"type":"message"`)) && !bytes.Contains(data, []byte(`"client_id":"`+protocol.SystemClientIDPrefix))
}

// closePeer ends sd's peer connection, if any.
func (sd *side) closePeer() {
	sd.mu.Lock()
	pc := sd.pc
	sd.pc, sd.dc = nil, nil
	sd.mu.Unlock()
	if pc != nil {
		pc.Close()
	}
}
