package service

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
)

// A transfer tells each side what happened in its own words: the visitor
// "You are now chatting with Bob.", the agents who handed the chat to
// whom. Each notice is marked with its audience, live and in history, so
// neither client shows the other side's line as if it were its own.
func TestTransferNoticesAreWordedForEachSide(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		admin.socket(t)
		v, _ := ts.visitorWithLocale(t, "en-US")
		conv := v.start()
		v.sendMsg(conv.ID, "m1", "I need billing help")
		bob := admin.newAgent(t, "Bob", map[string]any{"teams": []string{"billing"}})
		bobWS := bob.socket(t)
		if code := admin.call(t, "POST", "/api/conversations/"+conv.ID+"/transfer", map[string]any{"to_agent": bob.id}, nil); code != http.StatusOK {
			t.Fatalf("transfer: %d", code)
		}
		want := map[string]string{
			"You are now chatting with Bob.":    protocol.AudienceVisitor,
			"Admin transferred the chat to Bob": protocol.AudienceAgent,
		}
		live := map[string]string{}
		for len(live) < len(want) {
			var m protocol.Message
			bobWS.next(protocol.TypeMessage, &m)
			if _, ok := want[m.Body]; ok && m.Conversation == conv.ID {
				live[m.Body] = m.Audience
			}
		}
		var msgs struct{ Messages []protocol.Message }
		bob.call(t, "GET", "/api/conversations/"+conv.ID+"/messages", nil, &msgs)
		stored := map[string]string{}
		for _, m := range msgs.Messages {
			if _, ok := want[m.Body]; ok {
				stored[m.Body] = m.Audience
			}
			if m.Body == "I need billing help" && m.Audience != "" {
				t.Fatalf("a chat message has an audience: %+v", m)
			}
		}
		for body, audience := range want {
			if live[body] != audience || stored[body] != audience {
				t.Fatalf("%q: audience live %q, in history %q, want %q", body, live[body], stored[body], audience)
			}
		}
	})
}

// The agent reads why a chat is theirs in a sentence, on the conversation
// itself; the routing log keeps the engine's terms.
func TestAssignedConversationCarriesASummaryForAgents(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		if code := admin.call(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"languages": []string{"en"}}, nil); code != 200 {
			t.Fatalf("patch admin languages: %d", code)
		}
		fleur := admin.newAgent(t, "Fleur", map[string]any{"languages": []string{"fr"}})
		admin.socket(t)
		fleurWS := fleur.socket(t)
		fr, _ := ts.visitorWithLocale(t, "fr-FR")
		conv := fr.start()
		var f protocol.Conversation
		for f.Conversation.ID != conv.ID || f.Conversation.RoutingSummary == "" {
			fleurWS.next(protocol.TypeConversation, &f)
		}
		if got, want := f.Conversation.RoutingSummary, "speaks French, the only one available"; got != want {
			t.Fatalf("summary %q, want %q", got, want)
		}
		// The routing log still has the details, for admins.
		var why struct{ Routing struct{ Reasons []string } }
		admin.call(t, "GET", "/api/conversations/"+conv.ID+"/routing", nil, &why)
		if len(why.Routing.Reasons) == 0 || !strings.Contains(why.Routing.Reasons[0], "best of 1 eligible") {
			t.Fatalf("routing log %q", why.Routing.Reasons)
		}
	})
}

// The agent sees, live, whether the visitor is there: online while a
// connection is up with the page shown, away while the page is hidden,
// gone when the last connection closes; and when that last changed.
func TestVisitorPresenceReachesTheAgent(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		agentWS := admin.socket(t)
		token := ts.visitorToken(t)
		open := func() *client {
			c := dial(t, ts.wsURL("/ws/visitor?token="+token), http.Header{"Origin": {ts.origin()}})
			c.hello(nil)
			return c
		}
		v := open()
		conv := v.start()
		presence := func(want string) protocol.ConversationInfo {
			t.Helper()
			var f protocol.Conversation
			for f.Conversation.ID != conv.ID || f.Conversation.VisitorPresence != want {
				agentWS.next(protocol.TypeConversation, &f)
			}
			if f.Conversation.VisitorSeenAt == nil || time.Since(*f.Conversation.VisitorSeenAt) > time.Minute {
				t.Fatalf("%s: seen at %v", want, f.Conversation.VisitorSeenAt)
			}
			return f.Conversation
		}
		status := func(c *client, s string) {
			c.send(protocol.Status{Envelope: protocol.Envelope{Type: protocol.TypeStatus}, Status: s})
		}
		status(v, protocol.StatusAway)
		presence(protocol.PresenceAway)
		status(v, protocol.StatusOnline)
		presence(protocol.PresenceOnline)
		status(v, "busy")
		v.expectError(protocol.CodeInvalid)

		// A second tab: hiding one leaves the visitor online, closing the
		// shown one leaves it away, closing both leaves it gone.
		v2 := open()
		status(v2, protocol.StatusAway)
		v2.ping()
		v.ws.Close()
		presence(protocol.PresenceAway)
		v2.ws.Close()
		gone := presence(protocol.PresenceGone)

		// An agent connecting later reads it in its welcome.
		var w protocol.Welcome
		for _, c := range admin.socket(t).hello(nil).Conversations {
			if c.ID == conv.ID {
				w.Conversations = append(w.Conversations, c)
			}
		}
		if len(w.Conversations) != 1 || w.Conversations[0].VisitorPresence != protocol.PresenceGone ||
			!w.Conversations[0].VisitorSeenAt.Equal(*gone.VisitorSeenAt) {
			t.Fatalf("welcome: %+v, want gone at %v", w.Conversations, gone.VisitorSeenAt)
		}
	})
}
