package service

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// A message committed while the bus was away reaches nobody by publication;
// after the bus is back the server sends every connection a resync frame
// with its conversation list, and the client's resume brings the message.
func TestResyncRecoversLostPublications(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		ag, _ := ts.agent(t)
		w := ag.hello(nil)
		v := ts.visitor(t)
		v.hello(nil)
		conv := v.start()
		first := v.sendMsg(conv.ID, "v1", "hello")

		// Committed behind the bus's back: no publication at all, as when
		// Redis was down while another node stored it.
		ctx := context.Background()
		lost, _, err := ts.st.Workspace(ts.site.WorkspaceID).AppendMessage(ctx, store.Message{
			ConversationID: conv.ID, ClientID: "lost-1", AuthorKind: protocol.AuthorAgent,
			AuthorID: w.Self.ID, AuthorName: w.Self.Name, Body: "sent while the bus was away",
		})
		if err != nil {
			t.Fatal(err)
		}

		ts.srv.Resync()
		for _, c := range []*client{v, ag} {
			var r protocol.Resync
			c.next(protocol.TypeResync, &r)
			found := false
			for _, info := range r.Conversations {
				if info.ID == conv.ID {
					found = true
					if info.LastSeq != lost.Seq {
						t.Fatalf("resync lists last_seq %d, want %d", info.LastSeq, lost.Seq)
					}
				}
			}
			if !found {
				t.Fatalf("resync frame lists %+v, not conversation %s", r.Conversations, conv.ID)
			}
			// What the shared client does on resync: resume from its last seq.
			c.send(protocol.Resume{Envelope: protocol.Envelope{Type: protocol.TypeResume}, Conversations: map[string]int64{conv.ID: first.Seq}})
			var m protocol.Message
			for m.Seq != lost.Seq {
				c.next(protocol.TypeMessage, &m)
			}
			if m.Body != "sent while the bus was away" {
				t.Fatalf("resumed %+v", m)
			}
			var s protocol.Synced
			c.next(protocol.TypeSynced, &s)
			if s.Seq != lost.Seq {
				t.Fatalf("synced at %d, want %d", s.Seq, lost.Seq)
			}
		}
	})
}

// /readyz fails while the bus's Redis does not answer, and passes with a
// Redis that does.
func TestReadyzChecksTheBus(t *testing.T) {
	st := storetest.Stores(t)["sqlite"]
	ts := newTestServer(t, st)
	ready := func() int {
		res, err := http.Get(ts.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("readyz on the in-process bus: %d", got)
	}
	// Nothing listens on a port just closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	gone := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer gone.Close()
	down := bus.NewRedis(gone, bus.RedisOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer down.Close()
	ts.srv.bus = down
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Fatalf("readyz with Redis unreachable: %d, want 503", got)
	}
	addr = os.Getenv("PARLEY_TEST_REDIS")
	if addr == "" {
		return
	}
	up := redis.NewClient(&redis.Options{Addr: addr})
	defer up.Close()
	live := bus.NewRedis(up, bus.RedisOptions{})
	defer live.Close()
	ts.srv.bus = live
	if got := ready(); got != http.StatusOK {
		t.Fatalf("readyz with Redis up: %d", got)
	}
}
