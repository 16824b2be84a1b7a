package relaynode

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/protocol"
)

// rawLink is signaling's end of a control link spoken message by message,
// so a test can send what a Pool never would (a reused call id) and watch
// the order of replies.
type rawLink struct {
	t       *testing.T
	ws      *websocket.Conn
	wmu     sync.Mutex
	replies chan msg
}

func startNode(t *testing.T, chat *Chat) string {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg, err := config.LoadRelay([]string{"-id", "relay-raw", "-secret", testSecret, "-signaling-urls", "http://127.0.0.1:1"},
		func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(cfg, log, chat)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(func() { srv.Close(); n.Close() })
	return srv.URL
}

func dialRaw(t *testing.T, url string) *rawLink {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + testSecret}}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+ControlPath, h)
	if err != nil {
		t.Fatal(err)
	}
	l := &rawLink{t: t, ws: ws, replies: make(chan msg, 64)}
	go func() {
		for {
			var m msg
			if ws.ReadJSON(&m) != nil {
				close(l.replies)
				return
			}
			if m.Op == opReply {
				l.replies <- m
			}
		}
	}()
	t.Cleanup(func() { ws.Close() })
	return l
}

func (l *rawLink) send(m msg) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.ws.WriteJSON(m); err != nil {
		l.t.Fatal(err)
	}
}

// reply waits for the next reply (bounded: a relay that never answers fails
// the test rather than hanging it).
func (l *rawLink) reply() msg {
	l.t.Helper()
	select {
	case m, ok := <-l.replies:
		if !ok {
			l.t.Fatal("the control link closed")
		}
		return m
	case <-time.After(10 * time.Second):
		l.t.Fatal("no reply from the relay within 10s")
	}
	return msg{}
}

// Two connects with one call id, sent back to back, are served at once
// on their own goroutines: exactly one may win the id.
func TestConnectReservesTheCallID(t *testing.T) {
	l := dialRaw(t, startNode(t, nil))
	l.send(msg{Op: opCreate, Req: 1, Peer: "a", Media: true})
	l.send(msg{Op: opCreate, Req: 2, Peer: "b", Media: true})
	for range 2 {
		if r := l.reply(); r.Error != "" {
			t.Fatalf("create: %s", r.Error)
		}
	}
	l.send(msg{Op: opConnect, Req: 3, Peer: "a", Other: "b", Call: "c1", Kind: "voice"})
	l.send(msg{Op: opConnect, Req: 4, Peer: "a", Other: "b", Call: "c1", Kind: "voice"})
	won := 0
	for range 2 {
		if r := l.reply(); r.Error == "" {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d connects took call id c1, want exactly 1", won)
	}
}

// slowBus holds Subscribe until gate closes: a store or Redis that is slow
// while a committing relay subscribes a new peer's topics.
type slowBus struct {
	bus.Bus
	gate chan struct{}
}

func (b slowBus) Subscribe(topic string, h bus.Handler) (func(), error) {
	<-b.gate
	return b.Bus.Subscribe(topic, h)
}

// A create whose subscriptions are slow must not hold up the link: the
// next peer's create is answered meanwhile (and pongs keep the link up).
func TestSlowSubscribeDoesNotBlockTheLink(t *testing.T) {
	gate := make(chan struct{})
	mem := bus.NewMemory()
	defer mem.Close()
	released := false
	release := func() {
		if !released {
			released = true
			close(gate)
		}
	}
	defer release()
	l := dialRaw(t, startNode(t, &Chat{Bus: slowBus{mem, gate}}))
	agent := &participant{Kind: protocol.AuthorAgent, ID: "agent-1", WorkspaceID: "ws-1"}
	l.send(msg{Op: opCreate, Req: 1, Peer: "slow", Participant: agent})
	l.send(msg{Op: opCreate, Req: 2, Peer: "fast"})
	if r := l.reply(); r.Req != 2 || r.Error != "" {
		t.Fatalf("first reply %+v: want the second create answered while the first subscribes", r)
	}
	release()
	if r := l.reply(); r.Req != 1 || r.Error != "" || !r.Chat {
		t.Fatalf("the slow create's reply %+v: want success with chat", r)
	}
}
