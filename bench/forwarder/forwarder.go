// Package forwarder is the benchmarks' baseline: a bare WebSocket forwarder
// (gorilla/websocket, like Parley) that pairs two connections by a key and
// copies every text frame from one to the other. No storage, no routing, no
// JSON: whatever Parley costs above this is Parley's own.
//
// It is also the bare Pion baseline of the data-channel scenario: a client
// that sends rtc_start gets a Pion peer (offered by the server, as Parley's
// relay does, negotiated over the same WebSocket with rtc_offer, rtc_answer
// and rtc_candidate) with one ordered "chat" channel, and frames from that
// channel are copied to the paired peer's channel (its WebSocket while it
// has none open).
package forwarder

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
	"github.com/parleychat/parley/pkg/relay/relaytest"
)

// Server pairs connections of /ws?pair=KEY&role=visitor|agent.
type Server struct {
	up websocket.Upgrader

	mu    sync.Mutex
	pairs map[string]*pair

	// Dropped counts frames that arrived while the peer was not connected.
	Dropped atomic.Int64
}

type pair struct{ visitor, agent *peer }

type peer struct {
	mu sync.Mutex // gorilla allows one writer at a time; guards the rest too
	ws *websocket.Conn

	pc       *webrtc.PeerConnection
	dc       *webrtc.DataChannel // set once open
	answered bool
	queued   []webrtc.ICECandidateInit // the client's candidates before its answer
}

// write sends data to the peer: on its data channel when open, else on its
// WebSocket.
func (me *peer) write(typ int, data []byte) error {
	me.mu.Lock()
	defer me.mu.Unlock()
	if me.dc != nil {
		return me.dc.Send(data)
	}
	me.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return me.ws.WriteMessage(typ, data)
}

// writeWS sends a negotiation frame, always on the WebSocket.
func (me *peer) writeWS(v any) {
	b, _ := json.Marshal(v)
	me.mu.Lock()
	defer me.mu.Unlock()
	me.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	me.ws.WriteMessage(websocket.TextMessage, b)
}

// rtcPrefix starts every negotiation frame (the envelope's type comes
// first); other frames are forwarded without being parsed.
var rtcPrefix = []byte(`{"type":"rtc_`)

// negotiate handles one rtc_* frame from the client. Errors end WebRTC for
// this connection with rtc_stop, as Parley does.
func (s *Server) negotiate(me *peer, data []byte, forward func(int, []byte)) {
	var f protocol.RTCCandidate // the widest of the rtc frames
	var a protocol.RTCAnswer
	if json.Unmarshal(data, &f) != nil || json.Unmarshal(data, &a) != nil {
		return
	}
	stop := func(err error) {
		me.writeWS(protocol.RTCStop{Envelope: protocol.Envelope{Type: protocol.TypeRTCStop}, Reason: err.Error()})
	}
	switch f.Type {
	case protocol.TypeRTCStart:
		me.mu.Lock()
		started := me.pc != nil
		me.mu.Unlock()
		if started {
			return
		}
		// relaytest's peer: loopback UDP only, no mDNS, no media codecs and
		// no interceptors (the lean setup Parley's relay uses for chat).
		pc, err := relaytest.NewPeer()
		if err != nil {
			stop(err)
			return
		}
		ordered := true
		dc, err := pc.CreateDataChannel(relay.ChannelChat, &webrtc.DataChannelInit{Ordered: &ordered})
		if err != nil {
			pc.Close()
			stop(err)
			return
		}
		dc.OnOpen(func() {
			me.mu.Lock()
			me.dc = dc
			me.mu.Unlock()
		})
		dc.OnMessage(func(m webrtc.DataChannelMessage) { forward(websocket.TextMessage, m.Data) })
		pc.OnICECandidate(func(ic *webrtc.ICECandidate) {
			rc := protocol.RTCCandidate{Envelope: protocol.Envelope{Type: protocol.TypeRTCCandidate}}
			if ic != nil {
				init := ic.ToJSON()
				rc.Candidate, rc.SDPMid, rc.SDPMLineIndex = init.Candidate, init.SDPMid, init.SDPMLineIndex
			}
			me.writeWS(rc)
		})
		offer, err := pc.CreateOffer(nil)
		if err == nil {
			err = pc.SetLocalDescription(offer)
		}
		if err != nil {
			pc.Close()
			stop(err)
			return
		}
		me.mu.Lock()
		me.pc = pc
		me.mu.Unlock()
		me.writeWS(protocol.RTCOffer{Envelope: protocol.Envelope{Type: protocol.TypeRTCOffer}, SDP: offer.SDP, ICEServers: []protocol.ICEServer{}})
	case protocol.TypeRTCAnswer:
		me.mu.Lock()
		pc, queued := me.pc, me.queued
		me.answered, me.queued = pc != nil, nil
		me.mu.Unlock()
		if pc == nil {
			return
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: a.SDP}); err != nil {
			stop(err)
			return
		}
		for _, c := range queued {
			pc.AddICECandidate(c)
		}
	case protocol.TypeRTCCandidate:
		if f.Candidate == "" {
			return
		}
		c := webrtc.ICECandidateInit{Candidate: f.Candidate, SDPMid: f.SDPMid, SDPMLineIndex: f.SDPMLineIndex}
		me.mu.Lock()
		pc, answered := me.pc, me.answered
		if pc != nil && !answered {
			// The client gathers as it sets its answer: a candidate may
			// come first. Queue it, as Parley's relay does.
			me.queued = append(me.queued, c)
		}
		me.mu.Unlock()
		if pc != nil && answered {
			pc.AddICECandidate(c)
		}
	}
}

// New returns a forwarder with the same buffer sizes as Parley's server.
func New() *Server {
	return &Server{
		up: websocket.Upgrader{
			ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{},
			HandshakeTimeout: 10 * time.Second,
			CheckOrigin:      func(*http.Request) bool { return true },
		},
		pairs: map[string]*pair{},
	}
}

// ServeHTTP upgrades /ws requests; anything else is 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.Write([]byte("ok"))
		return
	}
	key, role := r.URL.Query().Get("pair"), r.URL.Query().Get("role")
	if r.URL.Path != "/ws" || key == "" || (role != "visitor" && role != "agent") {
		http.NotFound(w, r)
		return
	}
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	me := &peer{ws: ws}
	s.mu.Lock()
	p := s.pairs[key]
	if p == nil {
		p = &pair{}
		s.pairs[key] = p
	}
	if role == "visitor" {
		p.visitor = me
	} else {
		p.agent = me
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if role == "visitor" && p.visitor == me {
			p.visitor = nil
		} else if role == "agent" && p.agent == me {
			p.agent = nil
		}
		if p.visitor == nil && p.agent == nil && s.pairs[key] == p {
			delete(s.pairs, key)
		}
		s.mu.Unlock()
		ws.Close()
		me.mu.Lock()
		pc := me.pc
		me.mu.Unlock()
		if pc != nil {
			pc.Close()
		}
	}()
	forward := func(typ int, data []byte) {
		s.mu.Lock()
		other := p.agent
		if role == "agent" {
			other = p.visitor
		}
		s.mu.Unlock()
		if other == nil || other.write(typ, data) != nil {
			s.Dropped.Add(1)
		}
	}
	ws.SetReadLimit(32 << 10)
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if bytes.HasPrefix(data, rtcPrefix) {
			s.negotiate(me, data, forward)
			continue
		}
		forward(typ, data)
	}
}
