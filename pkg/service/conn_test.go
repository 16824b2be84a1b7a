package service

import (
	"context"
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// A client that stops reading while publications keep coming is dropped
// once its send queue is full (it resumes from the store when it comes
// back); the server does not buffer without bound for it.
func TestClientThatStopsReadingIsDropped(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	v := ts.visitor(t)
	v.hello(nil)
	conv := v.start()
	// From here on the client reads nothing. Frames of 4 KB fill the
	// socket buffers first, then the connection's queue of sendQueue frames.
	frame, _ := json.Marshal(protocol.Message{Envelope: protocol.Envelope{Type: protocol.TypeMessage},
		Conversation: conv.ID, Seq: 1, ClientID: "x", Body: strings.Repeat("a", 4000)})
	dropped := func() bool {
		return metric(t, ts.URL, "parley_slow_client_disconnects_total") >= 1
	}
	for i := 0; i < 50000 && !dropped(); i++ {
		for j := 0; j < 100; j++ {
			if err := ts.srv.bus.Publish(context.Background(), bus.ConversationTopic(conv.ID), frame); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !dropped() {
		t.Fatal("a client that read nothing through 5,000,000 publications was not dropped")
	}
	// The socket is closed: after what was buffered, reading ends.
	v.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := v.ws.ReadMessage(); err != nil {
			if strings.Contains(err.Error(), "i/o timeout") {
				t.Fatal("the dropped connection is still open")
			}
			return
		}
	}
}

// Idle connections hold no goroutine: each waits in the readiness poller,
// and the goroutine that read its hello ends once it is welcomed.
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	ts.visitor(t).hello(nil) // the poller and the store's connections are up
	before := runtime.NumGoroutine()
	const n = 20
	for i := 0; i < n; i++ {
		ts.visitor(t).hello(nil)
	}
	var extra int
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if extra = runtime.NumGoroutine() - before; extra < n/4 {
			return
		}
	}
	t.Fatalf("%d idle connections hold %d goroutines", n, extra)
}

// A client's pings are answered and its pongs taken, between frames or in
// the same write as them; frames that arrive together, or a frame that
// arrives in pieces, are all handled, in order.
func TestControlFramesAndFramesInOneWrite(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	v := ts.visitor(t)
	v.hello(nil)
	pongs := make(chan string, 4)
	v.ws.SetPongHandler(func(p string) error { pongs <- p; return nil })
	ping := func(ref string) []byte {
		b, _ := json.Marshal(protocol.Ping{Envelope: protocol.Envelope{Type: protocol.TypePing, Ref: ref}})
		return clientFrame(websocket.TextMessage, b)
	}
	expectPong := func(ref string) {
		t.Helper()
		var p protocol.Pong
		v.next(protocol.TypePong, &p)
		if p.Ref != ref {
			t.Fatalf("pong for %q, want %q", p.Ref, ref)
		}
	}
	raw := func(b []byte) {
		t.Helper()
		if _, err := v.ws.NetConn().Write(b); err != nil {
			t.Fatal(err)
		}
	}

	if err := v.ws.WriteControl(websocket.PingMessage, []byte("alone"), time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	v.send(protocol.Ping{Envelope: protocol.Envelope{Type: protocol.TypePing, Ref: "a"}})
	expectPong("a")
	if p := <-pongs; p != "alone" {
		t.Fatalf("pong payload %q", p)
	}

	// A pong, a ping and two frames in one write.
	raw(slices.Concat(clientFrame(websocket.PongMessage, []byte("unasked")), ping("b"),
		clientFrame(websocket.PingMessage, []byte("together")), ping("c")))
	expectPong("b")
	expectPong("c")
	if p := <-pongs; p != "together" {
		t.Fatalf("pong payload %q", p)
	}

	// A frame in three pieces, the first shorter than its header.
	f := ping("d")
	raw(f[:1])
	time.Sleep(20 * time.Millisecond)
	raw(f[1:5])
	time.Sleep(20 * time.Millisecond)
	raw(f[5:])
	expectPong("d")
}

// clientFrame is one masked (client) WebSocket frame, FIN set, of a
// payload under 64 KB.
func clientFrame(op int, payload []byte) []byte {
	b := []byte{0x80 | byte(op)}
	if len(payload) < 126 {
		b = append(b, 0x80|byte(len(payload)))
	} else {
		b = append(b, 0x80|126, byte(len(payload)>>8), byte(len(payload)))
	}
	key := []byte{0x1b, 0x2c, 0x3d, 0x4e}
	b = append(b, key...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// A client that has sent nothing, not even a pong, for pongWait is
// disconnected by its keepalive timer: an idle connection has no read
// pending whose deadline would notice.
func TestSilentClientIsDisconnected(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	v := ts.visitor(t)
	v.hello(nil)
	ts.srv.mu.Lock()
	var c *conn
	for c = range ts.srv.conns {
	}
	ts.srv.mu.Unlock()
	c.heardAt.Store(time.Now().Add(-pongWait - time.Second).UnixNano())
	c.keep.Load().Reset(0) // keepalive runs now
	v.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := v.ws.ReadMessage(); err != nil {
			if strings.Contains(err.Error(), "i/o timeout") {
				t.Fatal("the silent client is still connected")
			}
			break
		}
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ts.srv.mu.Lock()
		n := len(ts.srv.conns)
		ts.srv.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(end) {
			t.Fatal("the closed connection is still tracked")
		}
	}
}
