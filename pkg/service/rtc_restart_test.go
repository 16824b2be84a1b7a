package service

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
	"github.com/parleychat/parley/pkg/relay/relaytest"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// The browser's ICE path really breaks (every UDP packet of its peer is
// dropped): the client sees its connection go disconnected and asks for a
// restart over the WebSocket, as the widget does. The server takes the
// chat to the WebSocket meanwhile, offers an ICE restart on the same peer,
// and once the path is back the same data channel carries chat again.
// Every send is acked once, with seqs in order, over the transport the
// link was on.
func TestICERestartAfterARealBreak(t *testing.T) {
	ts, _ := newRTCServer(t, storetest.SQLite(t))
	iceRestartAfterARealBreak(t, ts)
}

// The same through a standalone relay: the restart offer comes over the
// control link.
func TestStandaloneRelayICERestart(t *testing.T) {
	ts, pool, _ := newRemoteRTCServer(t, storetest.SQLite(t))
	startRelay(t, "relay-restart", ts.URL, nil)
	waitRelays(t, pool, 1)
	iceRestartAfterARealBreak(t, ts)
}

// The relay's own ICE fails first (the client does not ask): the server
// offers the restart by itself, and the client answers it.
func TestICERestartWhenTheRelayFails(t *testing.T) {
	ts, _ := newRTCServerWith(t, storetest.SQLite(t), func(rc *relay.Config) {
		rc.DisconnectedTimeout = 300 * time.Millisecond
		rc.FailedTimeout = 700 * time.Millisecond
		rc.KeepaliveInterval = 100 * time.Millisecond
	})
	c := dialRestartClient(t, ts.wsURL("/ws/visitor?token="+ts.visitorToken(t)), http.Header{"Origin": {ts.origin()}})
	c.send(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: 1})
	c.next(protocol.TypeWelcome, "")
	c.send(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}})
	c.answer(c.offer())
	c.waitOpen()
	waitFor(t, "the server has the visitor on the data channel", func() bool {
		return metric(t, ts.URL, `parley_connections{kind="visitor",transport="datachannel"}`) == 1
	})

	c.net.paused.Store(true)
	restart := c.offer() // unasked: the relay's ICE failed
	if n := metric(t, ts.URL, `parley_connections{kind="visitor",transport="websocket"}`); n != 1 {
		t.Fatalf("visitor connections on the WebSocket during the restart: %v, want 1", n)
	}
	c.net.paused.Store(false)
	c.answer(restart)
	waitFor(t, "the server takes the data channel back", func() bool {
		return metric(t, ts.URL, `parley_connections{kind="visitor",transport="datachannel"}`) == 1
	})
	if n := metric(t, ts.URL, `parley_rtc_ice_restarts_total{by="relay"}`); n != 1 {
		t.Fatalf("%v ICE restarts by the relay, want 1", n)
	}
	if n := metric(t, ts.URL, "parley_rtc_peers_total"); n != 1 {
		t.Fatalf("%v peers made, want 1", n)
	}
}

func iceRestartAfterARealBreak(t *testing.T, ts *testServer) {
	c, conv, dc := chattingOnDC(t, ts)
	var seqs []int64
	sendOn := func(id, via string) {
		t.Helper()
		b, _ := json.Marshal(sendFrame(conv, id, id))
		if via == transportDataChannel {
			if err := dc.SendText(string(b)); err != nil {
				t.Fatal(err)
			}
		} else {
			c.send(json.RawMessage(b))
		}
		f := c.next(protocol.TypeAck, id)
		if f.via != via {
			t.Fatalf("ack of %s came over the %s, want the %s", id, f.via, via)
		}
		var a protocol.Ack
		json.Unmarshal(f.data, &a)
		seqs = append(seqs, a.Seq)
	}
	sendOn("before", transportDataChannel)

	c.net.paused.Store(true)
	waitFor(t, "the client sees its connection disconnected", func() bool {
		return c.pc.ICEConnectionState() == webrtc.ICEConnectionStateDisconnected
	})
	asked := time.Now()
	c.send(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}, Restart: true})
	restart := c.offer()
	t.Logf("restart offer %v after rtc_start restart", time.Since(asked).Round(time.Millisecond))
	// Chat goes on over the WebSocket meanwhile.
	sendOn("during", transportWebSocket)

	c.net.paused.Store(false)
	answered := time.Now()
	c.answer(restart)
	waitFor(t, "the server takes the data channel back", func() bool {
		return metric(t, ts.URL, `parley_connections{kind="visitor",transport="datachannel"}`) == 1
	})
	t.Logf("chat back on the data channel %v after the answer", time.Since(answered).Round(time.Millisecond))
	sendOn("after", transportDataChannel)

	if seqs[0] >= seqs[1] || seqs[1] >= seqs[2] {
		t.Fatalf("seqs %v, want increasing", seqs)
	}
	if n := metric(t, ts.URL, `parley_rtc_ice_restarts_total{by="client"}`); n != 1 {
		t.Fatalf("%v ICE restarts, want 1", n)
	}
	if n := metric(t, ts.URL, "parley_rtc_peers_total"); n != 1 {
		t.Fatalf("%v peers made, want 1 (the restart keeps the peer)", n)
	}
}

// Typing travels on the signals channel both ways; the server takes only
// typing from it (a send there could be lost or reordered).
func TestTypingOnSignalsChannel(t *testing.T) {
	ts, _ := newRTCServer(t, storetest.SQLite(t))
	ag, _ := ts.rtcAgent(t)
	ag.hello()
	ag.negotiate()
	v, conv, _ := chattingOnDC(t, ts)
	var sig *webrtc.DataChannel
	select {
	case sig = <-v.signals:
	case <-time.After(10 * time.Second):
		t.Fatal("the signals channel did not open in 10s")
	}
	if sig.Ordered() || sig.MaxRetransmits() == nil || *sig.MaxRetransmits() != 0 {
		t.Fatalf("signals channel ordered=%v maxRetransmits=%v, want unordered, 0", sig.Ordered(), sig.MaxRetransmits())
	}
	waitFor(t, "the server has the visitor on the data channel", func() bool {
		return metric(t, ts.URL, `parley_connections{kind="visitor",transport="datachannel"}`) == 1
	})

	// The visitor types on signals: the server takes it.
	b, _ := json.Marshal(protocol.Typing{Envelope: protocol.Envelope{Type: protocol.TypeTyping}, Conversation: conv, On: true})
	if err := sig.SendText(string(b)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "typing taken from signals", func() bool {
		return metric(t, ts.URL, `parley_rtc_signal_frames_total{direction="in"}`) == 1
	})
	// The agent types: the visitor gets it on signals.
	ag.sendDC(protocol.Typing{Envelope: protocol.Envelope{Type: protocol.TypeTyping}, Conversation: conv, On: true})
	if f := v.next(protocol.TypeTyping, ""); f.via != relay.ChannelSignals {
		t.Fatalf("typing came over the %s, want the signals channel", f.via)
	}
	// A send on signals is refused and not stored; on chat it is taken.
	send, _ := json.Marshal(sendFrame(conv, "on-signals", "lossy"))
	if err := sig.SendText(string(send)); err != nil {
		t.Fatal(err)
	}
	if f := v.next(protocol.TypeError, "on-signals"); !strings.Contains(string(f.data), protocol.CodeInvalid) {
		t.Fatalf("error %s, want %s", f.data, protocol.CodeInvalid)
	}
	if n := metric(t, ts.URL, `parley_transport_frames_total{direction="in",transport="datachannel",type="send"}`); n != 0 {
		t.Fatalf("%v sends handled, want 0", n)
	}
}

// restartClient is a browser whose UDP can be cut: one peer connection for
// its whole life, answering every offer (the first and ICE restarts) on it.
type restartClient struct {
	t   *testing.T
	ws  *websocket.Conn
	wmu sync.Mutex
	net *cutNet
	pc  *webrtc.PeerConnection

	offers  chan protocol.RTCOffer
	opened  chan *webrtc.DataChannel
	signals chan *webrtc.DataChannel // the signals channel, once open
	in      chan frameIn
	done    chan struct{}
}

// chattingOnDC connects a visitor of ts, starts its conversation and opens
// its data channel; it returns the client, the conversation and the chat
// channel.
func chattingOnDC(t *testing.T, ts *testServer) (c *restartClient, conv string, dc *webrtc.DataChannel) {
	t.Helper()
	c = dialRestartClient(t, ts.wsURL("/ws/visitor?token="+ts.visitorToken(t)), http.Header{"Origin": {ts.origin()}})
	c.send(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: 1})
	c.next(protocol.TypeWelcome, "")
	c.send(protocol.Start{Envelope: protocol.Envelope{Type: protocol.TypeStart, Ref: "s"}})
	var cf protocol.Conversation
	json.Unmarshal(c.next(protocol.TypeConversation, "s").data, &cf)
	c.send(protocol.RTCStart{Envelope: protocol.Envelope{Type: protocol.TypeRTCStart}})
	c.answer(c.offer())
	return c, cf.Conversation.ID, c.waitOpen()
}

func dialRestartClient(t *testing.T, url string, h http.Header) *restartClient {
	ws, _, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	cut := &cutNet{Net: n}
	se := relaytest.SettingEngine()
	se.SetNet(cut)
	// Notice the break within a second, as a browser would within seconds.
	se.SetICETimeouts(300*time.Millisecond, 5*time.Second, 100*time.Millisecond)
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c := &restartClient{t: t, ws: ws, net: cut, pc: pc, offers: make(chan protocol.RTCOffer, 4),
		opened: make(chan *webrtc.DataChannel, 1), signals: make(chan *webrtc.DataChannel, 1), in: make(chan frameIn, 256), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() {
		pc.Close()
		ws.Close()
		<-c.done
	})
	return c
}

func (c *restartClient) read() {
	defer close(c.done)
	relaytest.ReadFrames(c.ws, func(typ string, data []byte) {
		switch typ {
		case protocol.TypeRTCOffer:
			c.offers <- relaytest.Offer(data)
		case protocol.TypeRTCCandidate:
			relaytest.AddCandidate(c.pc, data)
		default:
			c.in <- frameIn{via: transportWebSocket, typ: typ, data: data}
		}
	})
}

func (c *restartClient) send(v any) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Errorf("ws write: %v", err)
	}
}

func (c *restartClient) offer() protocol.RTCOffer {
	c.t.Helper()
	return nextOffer(c.t, c.offers)
}

func (c *restartClient) answer(o protocol.RTCOffer) {
	c.t.Helper()
	err := relaytest.Answer(c.pc, o, relaytest.Handlers{
		Send: c.send,
		OnOpen: func(dc *webrtc.DataChannel) {
			select {
			case c.opened <- dc:
			default:
			}
		},
		OnMessage: func(data []byte) {
			var env protocol.Envelope
			json.Unmarshal(data, &env)
			c.in <- frameIn{via: transportDataChannel, typ: env.Type, data: data}
		},
		OnSignalsOpen: func(dc *webrtc.DataChannel) {
			select {
			case c.signals <- dc:
			default:
			}
		},
		OnSignal: func(data []byte) {
			var env protocol.Envelope
			json.Unmarshal(data, &env)
			c.in <- frameIn{via: relay.ChannelSignals, typ: env.Type, data: data}
		},
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

func (c *restartClient) waitOpen() *webrtc.DataChannel {
	c.t.Helper()
	select {
	case dc := <-c.opened:
		return dc
	case <-time.After(10 * time.Second):
		c.t.Fatal("the chat channel did not open in 10s")
	}
	return nil
}

// next returns the next frame of type typ (with ref, if not empty).
func (c *restartClient) next(typ, ref string) frameIn {
	c.t.Helper()
	return nextFrame(c.t, c.in, typ, ref, "")
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cutNet is the host network with a switch that silently drops every UDP
// packet in and out: ICE breaks as on a network that went away.
type cutNet struct {
	*stdnet.Net
	paused atomic.Bool
}

func (n *cutNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	conn, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &cutConn{UDPConn: conn, paused: &n.paused}, nil
}

type cutConn struct {
	transport.UDPConn
	paused *atomic.Bool
}

func (c *cutConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(p)
		if err != nil || !c.paused.Load() {
			return n, addr, err
		}
	}
}

func (c *cutConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.paused.Load() {
		return len(p), nil
	}
	return c.UDPConn.WriteTo(p, addr)
}
