package fleet

import (
	"encoding/json"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay/relaytest"
)

// The chatter's WebRTC side, as the widget does it: after welcome it asks
// for a data channel (rtc_start), answers the relay's offer, and once the
// chat channel is open sends and receives chat over it. On rtc_stop (its
// relay died) it goes back to the WebSocket, resends what is unacked,
// resumes every conversation, and asks again a second later, to be served
// by a live relay.

// rtcTick asks for a data channel when the chatter wants one and has none
// (called by the ticker, without c.mu).
func (c *chatter) rtcTick(ws *websocket.Conn) {
	c.mu.Lock()
	ask := c.rtc && c.dc == nil && time.Now().After(c.rtcRetryAt)
	if ask {
		c.rtcRetryAt = time.Now().Add(10 * time.Second) // an offer not open by then is asked again
	}
	c.mu.Unlock()
	if ask {
		c.write(ws, protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}})
	}
}

// rtcFrame handles negotiation frames; it reports whether data was one.
func (c *chatter) rtcFrame(ws *websocket.Conn, typ string, data []byte) bool {
	switch typ {
	case protocol.TypeRTCOffer:
		var o protocol.RTCOffer
		json.Unmarshal(data, &o)
		c.answer(ws, o)
	case protocol.TypeRTCCandidate:
		c.mu.Lock()
		pc := c.pc
		c.mu.Unlock()
		relaytest.AddCandidate(pc, data)
	case protocol.TypeRTCStop:
		c.mu.Lock()
		had := c.dc != nil
		if had {
			c.rtcStops++
		}
		c.dropRTC()
		c.rtcRetryAt = time.Now().Add(time.Second)
		// Back on the WebSocket: resend what is unacked, resume
		// everything (what was in flight on the channel is lost).
		for _, o := range c.pending {
			o.sentAt = time.Time{}
		}
		for id, l := range c.convs {
			c.resume(ws, id, l)
		}
		c.mu.Unlock()
	default:
		return false
	}
	return true
}

// dropRTC closes the peer; called with c.mu.
func (c *chatter) dropRTC() {
	if c.pc != nil {
		go c.pc.Close()
	}
	c.pc, c.dc = nil, nil
}

func (c *chatter) answer(ws *websocket.Conn, o protocol.RTCOffer) {
	pc, err := relaytest.NewPeer()
	if err != nil {
		return
	}
	c.mu.Lock()
	if c.ws != ws {
		c.mu.Unlock()
		pc.Close()
		return
	}
	c.dropRTC()
	c.pc = pc
	c.mu.Unlock()
	relaytest.Answer(pc, o, relaytest.Handlers{
		Send: func(frame any) { c.write(ws, frame) },
		OnOpen: func(dc *webrtc.DataChannel) {
			c.mu.Lock()
			if c.pc == pc {
				c.dc = dc
				c.dcOpens++
			}
			c.mu.Unlock()
		},
		OnMessage: func(data []byte) {
			c.mu.Lock()
			c.overDC++
			c.mu.Unlock()
			c.apply(ws, data)
		},
	})
}

// onDC reports whether the chatter's chat goes over a data channel now.
func (c *chatter) onDC() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dc != nil
}
