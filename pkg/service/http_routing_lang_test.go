package service

import (
	"context"
	"strings"
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
)

// write sends a message without waiting for its ack: the conversation
// frames routing publishes on the way arrive before it.
func (c *client) write(conv, id, body string) {
	c.send(protocol.Send{Envelope: protocol.Envelope{Type: protocol.TypeSend, Ref: id}, ClientID: id, Conversation: conv, Body: body})
}

// openedBy waits for the conversation frame that shows conv open.
func openedBy(c *client, conv string) protocol.ConversationInfo {
	c.t.Helper()
	var f protocol.Conversation
	for f.Conversation.ID != conv || f.Conversation.Status != protocol.ConversationOpen {
		c.next(protocol.TypeConversation, &f)
	}
	return f.Conversation
}

// A visitor whose widget gives no locale, or one no agent speaks, is routed
// by the language of their first message: the new conversation waits for
// it, then goes to the agent who speaks it, with the reason stored.
func TestRoutingDetectsTheLanguageOfTheFirstMessage(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		admin.call(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"languages": []string{"en"}, "capacity": 10}, nil)
		fleur := admin.newAgent(t, "Fleur", map[string]any{"languages": []string{"fr"}, "capacity": 10})
		admin.socket(t)
		fleur.socket(t)
		for i, locale := range []string{"", "ja-JP"} {
			v, _ := ts.visitorWithLocale(t, locale)
			conv, _ := startSeeing(v)
			if conv.Status != protocol.ConversationQueued {
				t.Fatalf("locale %q: routed before the first message: %+v", locale, conv)
			}
			v.write(conv.ID, "m1", "Bonjour, je voudrais savoir où est ma commande")
			got := openedBy(v, conv.ID)
			if got.AgentID != fleur.id || got.Language != "fr" {
				t.Fatalf("visitor %d (locale %q) writing French: %+v, want Fleur", i, locale, got)
			}
			c, _ := ts.st.Workspace(ts.site.WorkspaceID).Conversation(context.Background(), conv.ID)
			if !strings.Contains(c.RoutingReason, "language fr detected") || !strings.Contains(c.RoutingReason, "speaks fr") {
				t.Fatalf("stored reason %q", c.RoutingReason)
			}
		}
		// English words go to the English-speaking admin.
		v, _ := ts.visitorWithLocale(t, "")
		conv, _ := startSeeing(v)
		v.write(conv.ID, "m1", "Hi, I need help with my order please")
		if got := openedBy(v, conv.ID); got.AgentID != admin.id || got.Language != "en" {
			t.Fatalf("English words: %+v", got)
		}
		// Words that say nothing: routed at once, without a language.
		v, _ = ts.visitorWithLocale(t, "")
		conv, _ = startSeeing(v)
		v.write(conv.ID, "m1", "ok")
		if got := openedBy(v, conv.ID); got.Language != "" {
			t.Fatalf("no language in %q, got %+v", "ok", got)
		}
	})
}

// A conversation already waiting (nobody who speaks the visitor's language
// is online) gets its detected language and is routed again with it.
func TestRoutingDetectedLanguageReroutesAWaitingConversation(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		admin.call(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"languages": []string{"en"}, "capacity": 0}, nil)
		fleur := admin.newAgent(t, "Fleur", map[string]any{"languages": []string{"fr"}})
		admin.socket(t)
		v, _ := ts.visitorWithLocale(t, "")
		conv, _ := startSeeing(v)
		v.sendMsg(conv.ID, "m1", "ok")      // nothing to tell: routed without a language, and waits
		v.sendMsg(conv.ID, "m2", "bonjour") // one word is not enough
		v.sendMsg(conv.ID, "m3", "j'ai un problème avec mon compte, vous pouvez m'aider ?")
		c, _ := ts.st.Workspace(ts.site.WorkspaceID).Conversation(context.Background(), conv.ID)
		if c.Status != protocol.ConversationQueued || c.Language != "fr" || !strings.Contains(c.RoutingReason, "first 3 visitor message(s)") {
			t.Fatalf("after three messages: status %s language %q reason %q", c.Status, c.Language, c.RoutingReason)
		}
		fleur.socket(t)
		if got := openedBy(v, conv.ID); got.AgentID != fleur.id {
			t.Fatalf("waiting French conversation went to %+v", got)
		}
	})
}
