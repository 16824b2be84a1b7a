package service

import (
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
)

// A visitor's start is answered by routing at once when an agent is free;
// the "joined" notice routing stores is the conversation's first message.
// The visitor's connection is subscribed before routing publishes it, so
// the notice arrives live: no gap, no resume round trip.
func TestStartDeliversTheJoinNoticeLive(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		admin.socket(t)
		for range 3 {
			v, _ := ts.visitorWithLocale(t, "en-US")
			conv, seen := startSeeing(v)
			if conv.Status != protocol.ConversationOpen {
				t.Fatalf("start: %+v, want open with the admin", conv)
			}
			var m protocol.Message
			frame(v, seen, protocol.TypeMessage, &m) // fails after 5s if it never comes live
			if m.Conversation != conv.ID || m.Seq != 1 || m.Author.Kind != protocol.AuthorSystem {
				t.Fatalf("first live message %+v, want the join notice at seq 1", m)
			}
			v.ws.Close()
		}
	})
}
