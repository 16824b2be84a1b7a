package service

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// A hello is a frame like any other: a socket repeating it is rate limited
// by the per-connection frame limit, and everyone else chats on.
func TestHelloCountsAgainstFrameLimit(t *testing.T) {
	rules := ratelimit.DefaultRules()
	rules.MessagePerConnection.Limit = ratelimit.Limit{Rate: 3, Burst: 3, Period: time.Hour}
	ts := newTestServerWith(t, storetest.SQLite(t), ratelimit.NewMemory(), rules)

	abuser := ts.visitor(t)
	for i := 0; i < 3; i++ {
		abuser.hello(nil)
	}
	abuser.send(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello, Ref: "again"}, V: 1})
	if e := abuser.expectError(protocol.CodeRateLimited); e.Ref != "again" || !e.Retryable {
		t.Fatalf("fourth hello: %+v", e)
	}

	bystander := ts.visitor(t)
	bystander.hello(nil)
	conv := bystander.start()
	if a := bystander.sendMsg(conv.ID, "b1", "still here"); a.Seq == 0 {
		t.Fatal("bystander's message not stored")
	}
}

// A visitor resumes only its own conversations; made-up ids are refused
// together, with one error and no store read each.
func TestResumeRefusesUnknownConversations(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	token := ts.visitorToken(t)
	url, h := ts.wsURL("/ws/visitor?token="+token), http.Header{"Origin": {ts.origin()}}
	first := dial(t, url, h)
	first.hello(nil)
	conv := first.start()
	first.sendMsg(conv.ID, "m1", "hello")

	again := dial(t, url, h)
	resume := map[string]int64{conv.ID: 0}
	for len(resume) < protocol.MaxResumeTopics {
		resume[uuid.NewString()] = 0
	}
	again.send(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello, Ref: "h"}, V: 1, Resume: resume})
	again.send(protocol.Ping{Envelope: protocol.Envelope{Type: protocol.TypePing, Ref: "p"}})
	var errs []protocol.Error
	synced := false
	again.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var f struct {
			protocol.Error
			Conversation string `json:"conversation"`
		}
		if err := again.ws.ReadJSON(&f); err != nil {
			t.Fatalf("reading: %v", err)
		}
		switch f.Type {
		case protocol.TypeError:
			errs = append(errs, f.Error)
		case protocol.TypeSynced:
			synced = synced || f.Conversation == conv.ID
		}
		if f.Type == protocol.TypePong {
			break
		}
	}
	if !synced {
		t.Error("the visitor's own conversation was not resumed")
	}
	if len(errs) != 1 || errs[0].Code != protocol.CodeNotFound || !strings.Contains(errs[0].Message, "199") {
		t.Fatalf("want one not_found for the 199 unknown ids, got %d errors: %+v", len(errs), errs[:min(len(errs), 3)])
	}
}

// Sockets per visitor token and per client address are capped: the next
// one is closed with 4429 and a reason; the others, and other visitors
// within the address's cap, are untouched.
func TestSocketCaps(t *testing.T) {
	ts := newTestServerWith(t, storetest.SQLite(t), ratelimit.NewMemory(), ratelimit.DefaultRules(),
		"-max-sockets-per-visitor", "2", "-max-sockets-per-address", "4")
	h := http.Header{"Origin": {ts.origin()}}
	token := ts.visitorToken(t)
	url := ts.wsURL("/ws/visitor?token=" + token)
	tab1, tab2 := dial(t, url, h), dial(t, url, h)
	tab1.hello(nil)
	tab2.hello(nil)
	expectRefused(t, dial(t, url, h), "visitor")
	tab1.ping()

	// Closing a tab frees its place.
	tab2.ws.Close()
	waitFor(t, "a freed place for the visitor", func() bool {
		ws, _, err := websocket.DefaultDialer.Dial(url, h)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		ws.WriteJSON(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: 1})
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err = ws.ReadMessage()
		return err == nil
	})

	// Other visitors from the same address, up to its cap (tab1 and the
	// probe's place count until the probe's socket has finished).
	bystander := ts.visitor(t)
	bystander.hello(nil)
	conv := bystander.start()
	var more []*client
	waitFor(t, "the address's cap", func() bool {
		v := dial(t, ts.wsURL("/ws/visitor?token="+ts.visitorToken(t)), h)
		v.ws.WriteJSON(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: 1}) // may find it closed
		v.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := v.ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != CloseTooManySockets || !strings.Contains(ce.Text, "address") {
				t.Fatalf("closed with %d %q", ce.Code, ce.Text)
			}
			return true
		}
		if err != nil {
			t.Fatal(err)
		}
		more = append(more, v)
		if len(more) > 4 {
			t.Fatal("more sockets than the address's cap")
		}
		return false
	})
	if a := bystander.sendMsg(conv.ID, "b1", "still chatting"); a.Seq == 0 {
		t.Fatal("bystander's message not stored")
	}
	tab1.ping()
}

func expectRefused(t *testing.T, c *client, what string) {
	t.Helper()
	c.ws.WriteJSON(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: 1}) // may find it closed
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != CloseTooManySockets || !strings.Contains(ce.Text, what) {
		t.Fatalf("socket over the %s cap: %v, want close %d", what, err, CloseTooManySockets)
	}
}
