package service

import (
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/email/emailtest"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// A chat that ended in the queue with nobody answering is mailed to the
// team, once: a conversation closed without a visitor message is not,
// and a restarted server (a new mailer on the same store) mails nothing
// again.
func TestMissedChatIsMailedToTheTeamOnce(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			smtpd := emailtest.Start(t, "parley", "smtp password", nil)
			ts := newTestServerWith(t, st, nil, ratelimit.Rules{})
			startMail(t, ts)
			admin := ts.signIn(t, "admin@parley.local", adminPassword)
			if code := admin.call(t, "PUT", "/api/email/settings", map[string]any{"enabled": true, "host": smtpd.Host, "port": smtpd.Port,
				"security": "none", "username": "parley", "password": "smtp password", "from_address": "support@acme.test",
				"team_to": "team@acme.test, night@acme.test"}, nil); code != 200 {
				t.Fatalf("settings: %d", code)
			}

			// The only agent is busy: new conversations wait in the queue.
			if code := admin.call(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"capacity": 1}, nil); code != 200 {
				t.Fatalf("capacity: %d", code)
			}
			admin.socket(t)
			busy, _ := ts.visitorWithLocale(t, "en-US")
			if c := busy.start(); c.Status != protocol.ConversationOpen {
				t.Fatalf("first conversation: %+v", c)
			}
			v, _ := ts.visitorWithLocale(t, "en-US")
			silent := v.start()
			if silent.Status != protocol.ConversationQueued {
				t.Fatalf("a new conversation with the only agent busy is %q, want queued", silent.Status)
			}
			v.send(protocol.Close{Envelope: protocol.Envelope{Type: protocol.TypeClose}, Conversation: silent.ID})
			conv := v.start()
			v.sendMsg(conv.ID, "m-1", "Is anyone there? My order #1182 never came.")
			v.send(protocol.Close{Envelope: protocol.Envelope{Type: protocol.TypeClose}, Conversation: conv.ID})

			got := smtpd.Wait(t, 1, 15*time.Second)[0]
			h, text := mailText(t, got)
			if strings.Join(got.To, ",") != "team@acme.test,night@acme.test" || !strings.HasPrefix(h.Get("Subject"), "Missed chat from") ||
				!strings.Contains(text, "My order #1182 never came.") || !strings.Contains(text, "/app/#c="+conv.ID) ||
				!strings.Contains(text, "left before anyone answered") {
				t.Fatalf("missed-chat mail to %v: %q\n%s", got.To, h.Get("Subject"), text)
			}
			waitMailerRound(t, ts.srv.mail)
			if n := len(smtpd.Mails()); n != 1 {
				t.Fatalf("%d mails, want 1 (the silent conversation is no missed chat)", n)
			}

			// Restart: a new server on the same store looks again.
			again := newTestServerWith(t, st, nil, ratelimit.Rules{})
			startMail(t, again)
			waitMailerRound(t, again.srv.mail)
			if n := len(smtpd.Mails()); n != 1 {
				t.Fatalf("%d mails after a restart, want 1", n)
			}
			var log struct {
				Mails []struct{ Kind, Status string }
			}
			admin.call(t, "GET", "/api/email/outbox", nil, &log)
			if len(log.Mails) != 1 || log.Mails[0].Kind != "missed" {
				t.Fatalf("outbox %+v", log.Mails)
			}
		})
	}
}

// An agent mails a conversation's transcript to the visitor, at the
// address the visitor left: every message the visitor saw, nothing else;
// without an address, or with mail off, the answer says why.
func TestTranscriptIsMailedToTheVisitor(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			smtpd := emailtest.Start(t, "parley", "smtp password", nil)
			ts := newTestServerWith(t, st, nil, ratelimit.Rules{})
			startMail(t, ts)
			admin := ts.signIn(t, "admin@parley.local", adminPassword)
			agent := admin.newAgent(t, "Eve", nil)

			token := ts.visitorToken(t)
			var left struct{ Conversation protocol.ConversationInfo }
			if code := ts.widgetPost(t, "/api/widget/offline", map[string]string{"token": token, "client_id": "off-1",
				"name": "Ana", "email": "ana@example.test", "message": "Do you ship to Lisbon?"}, &left); code != 200 {
				t.Fatalf("offline message: %d", code)
			}
			conv := left.Conversation.ID
			var e struct{ Code string }
			if code := agent.call(t, "POST", "/api/conversations/"+conv+"/transcript", nil, &e); code != 409 {
				t.Fatalf("transcript with mail off: %d %s, want 409", code, e.Code)
			}
			if code := admin.call(t, "PUT", "/api/email/settings", map[string]any{"enabled": true, "host": smtpd.Host, "port": smtpd.Port,
				"security": "none", "username": "parley", "password": "smtp password", "from_address": "support@acme.test"}, nil); code != 200 {
				t.Fatalf("settings: %d", code)
			}
			if code := admin.call(t, "POST", "/api/conversations/"+conv+"/notes", map[string]any{"body": "internal: check stock"}, nil); code != 201 {
				t.Fatalf("note: %d", code)
			}
			var out struct{ To string }
			if code := agent.call(t, "POST", "/api/conversations/"+conv+"/transcript", nil, &out); code != 202 || out.To != "ana@example.test" {
				t.Fatalf("transcript: %d %+v", code, out)
			}
			got := smtpd.Wait(t, 1, 15*time.Second)[0]
			h, text := mailText(t, got)
			if got.To[0] != "ana@example.test" || !strings.HasPrefix(h.Get("Subject"), "Your chat with") ||
				!strings.Contains(text, "You: Do you ship to Lisbon?") || strings.Contains(text, "check stock") {
				t.Fatalf("transcript to %v: %q\n%s", got.To, h.Get("Subject"), text)
			}

			// A visitor who left no address.
			v, _ := ts.visitorWithLocale(t, "en-US")
			anon := v.start()
			if code := agent.call(t, "POST", "/api/conversations/"+anon.ID+"/transcript", nil, &e); code != 409 {
				t.Fatalf("transcript without an address: %d, want 409", code)
			}
		})
	}
}
