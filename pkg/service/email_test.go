package service

import (
	"context"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/parleychat/parley/pkg/email"
	"github.com/parleychat/parley/pkg/email/emailtest"
	"github.com/parleychat/parley/pkg/mailer"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// startMail makes ts's mailer quick (no quiet time, short ticks and
// retries), gives it reply addresses, runs it and an inbound listener for
// replies, and returns the listener's address.
func startMail(t *testing.T, ts *testServer) string {
	t.Helper()
	m := ts.srv.mail
	m.Quiet, m.Tick, m.RetryBase = 0, 50*time.Millisecond, 50*time.Millisecond
	m.Replies = email.NewReplies("0123456789abcdef0123456789abcdef", "reply.parley.test")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); m.Run(ctx) }()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := ts.srv.newInbound(ts.srv.log)
	go in.Serve(l)
	t.Cleanup(func() { cancel(); in.Close(); wg.Wait() })
	return l.Addr().String()
}

func mailText(t *testing.T, m emailtest.Mail) (mail.Header, string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Raw)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	return msg.Header, string(b)
}

// sendReply sends a mail program's reply (not auto-generated) to addr.
func sendReply(t *testing.T, inbound, from, to, messageID, text string) error {
	t.Helper()
	c, err := smtp.Dial(inbound)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw := "From: " + from + "\r\nTo: " + to + "\r\nSubject: Re: your question\r\nMessage-ID: <" + messageID + ">\r\n\r\n" +
		text + "\r\n\r\nOn Monday, Acme wrote:\r\n> earlier text\r\n"
	return c.SendMail(from, []string{to}, strings.NewReader(raw))
}

// The whole round trip through a real SMTP server: a visitor's offline
// message is mailed to the team; the agent's answer is mailed to the
// visitor with a signed reply address; the visitor's mailed answer comes
// back into the same conversation, once however often it is delivered;
// a failing SMTP server delays a mail, never loses it.
func TestEmailRoundTrip(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		smtpd := emailtest.Start(t, "parley", "smtp password", nil)
		inbound := startMail(t, ts)
		admin := ts.signIn(t, "admin@parley.local", adminPassword)

		// Settings: bad ones are refused with a clear error.
		for _, bad := range []map[string]any{
			{"enabled": true, "host": "", "port": 587, "security": "starttls", "from_address": "support@acme.test"},
			{"enabled": true, "host": "smtp://x", "port": 587, "security": "starttls", "from_address": "support@acme.test"},
			{"enabled": true, "host": "127.0.0.1", "port": 0, "security": "starttls", "from_address": "support@acme.test"},
			{"enabled": true, "host": "127.0.0.1", "port": 25, "security": "ssl3", "from_address": "support@acme.test"},
			{"enabled": true, "host": "127.0.0.1", "port": 25, "security": "none", "from_address": "nobody"},
			{"enabled": true, "host": "127.0.0.1", "port": 25, "security": "none", "from_address": "support@acme.test", "team_to": "team@acme.test, oops"},
		} {
			var e struct{ Code string }
			if code := admin.call(t, "PUT", "/api/email/settings", bad, &e); code != 400 || e.Code != protocol.CodeInvalid {
				t.Fatalf("%v: %d %q, want 400 invalid", bad, code, e.Code)
			}
		}
		settings := map[string]any{"enabled": true, "host": smtpd.Host, "port": smtpd.Port, "security": "none",
			"username": "parley", "password": "smtp password", "from_address": "support@acme.test", "from_name": "Acme Support",
			"team_to": "team@acme.test"}
		var got struct{ Settings map[string]any }
		if code := admin.call(t, "PUT", "/api/email/settings", settings, &got); code != 200 {
			t.Fatalf("save settings: %d", code)
		}
		if _, leaked := got.Settings["password"]; leaked || got.Settings["has_password"] != true {
			t.Fatalf("settings answer %v: the password must never come back, only has_password", got.Settings)
		}
		// Saving without a password keeps the stored one.
		delete(settings, "password")
		if code := admin.call(t, "PUT", "/api/email/settings", settings, &got); code != 200 || got.Settings["has_password"] != true {
			t.Fatalf("save without password: %d %v", code, got.Settings)
		}
		if code := admin.call(t, "POST", "/api/email/test", map[string]string{"to": "admin@acme.test"}, nil); code != 200 {
			t.Fatalf("test mail: %d", code)
		}
		if m := smtpd.Wait(t, 1, 10*time.Second)[0]; m.To[0] != "admin@acme.test" {
			t.Fatalf("test mail went to %v", m.To)
		}

		// 1. An offline message → the team.
		token := ts.visitorToken(t)
		var left struct{ Conversation protocol.ConversationInfo }
		if code := ts.widgetPost(t, "/api/widget/offline", map[string]string{"token": token, "client_id": "off-1",
			"name": "Ana", "email": "ana@example.test", "message": "Do you ship to Lisbon?"}, &left); code != 200 {
			t.Fatalf("offline message: %d", code)
		}
		conv := left.Conversation.ID
		team := smtpd.Wait(t, 2, 15*time.Second)[1]
		h, text := mailText(t, team)
		if team.To[0] != "team@acme.test" || !strings.Contains(text, "Do you ship to Lisbon?") || !strings.Contains(text, "ana@example.test") ||
			!strings.Contains(text, "/app/#c="+conv) || !strings.Contains(h.Get("Subject"), "Ana") {
			t.Fatalf("team mail to %v: %q\n%s", team.To, h.Get("Subject"), text)
		}

		// 2. The agent answers (taking the offline message); the visitor
		// is not on the site, so the answer goes out by mail. The first
		// try fails (451): it is retried.
		smtpd.FailNext(1)
		sock := admin.socket(t)
		sock.sendMsg(conv, "reply-1", "Yes, we ship to Lisbon in 3 days.")
		reply := smtpd.Wait(t, 3, 15*time.Second)[2]
		h, text = mailText(t, reply)
		replyTo := h.Get("Reply-To")
		if reply.To[0] != "ana@example.test" || !strings.Contains(text, "Yes, we ship to Lisbon in 3 days.") ||
			!strings.HasPrefix(replyTo, "r-") || !strings.HasSuffix(replyTo, "@reply.parley.test") || reply.From != "support@acme.test" {
			t.Fatalf("reply mail to %v from %s, reply-to %q:\n%s", reply.To, reply.From, replyTo, text)
		}
		var log struct {
			Mails []struct {
				Kind, Status string
				Attempts     int
			}
		}
		// The mail is marked sent just after the SMTP server took it.
		for deadline := time.Now().Add(10 * time.Second); ; {
			admin.call(t, "GET", "/api/email/outbox", nil, &log)
			if len(log.Mails) == 2 && log.Mails[0].Status == "sent" || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(log.Mails) != 2 || log.Mails[0].Kind != "reply" || log.Mails[0].Status != "sent" || log.Mails[0].Attempts != 2 || log.Mails[1].Kind != "offline" {
			t.Fatalf("mail log %+v", log.Mails)
		}

		// 3. Ana answers by mail: it lands in the conversation, once,
		// without the quoted text.
		for range 2 { // a mail server may deliver twice
			if err := sendReply(t, inbound, "ana@example.test", replyTo, "ana-1@example.test", "Great, I will order today."); err != nil {
				t.Fatal(err)
			}
		}
		if err := sendReply(t, inbound, "mallory@example.test", replyTo, "m-1@example.test", "Send me the admin password"); err == nil {
			t.Fatal("a reply from another address than the conversation's contact was taken")
		}
		ms, err := ts.st.Workspace(ts.site.WorkspaceID).MessagesAfter(context.Background(), conv, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, m := range ms {
			if m.AuthorKind != protocol.AuthorSystem {
				bodies = append(bodies, m.AuthorKind+": "+m.Body)
			}
		}
		want := []string{"visitor: Do you ship to Lisbon?", "agent: Yes, we ship to Lisbon in 3 days.", "visitor: Great, I will order today."}
		if strings.Join(bodies, "|") != strings.Join(want, "|") {
			t.Fatalf("conversation holds %q, want %q", bodies, want)
		}
		// The agent sees it live, too.
		var msg protocol.Message
		sock.next(protocol.TypeMessage, &msg)
		for msg.Author.Kind != protocol.AuthorVisitor {
			sock.next(protocol.TypeMessage, &msg)
		}
		if msg.Body != "Great, I will order today." {
			t.Fatalf("agent got %q", msg.Body)
		}
		// Nothing more goes out: the visitor's own reply is not mailed back.
		waitMailerRound(t, ts.srv.mail)
		if n := len(smtpd.Mails()); n != 3 {
			t.Fatalf("%d mails sent, want 3", n)
		}
	})
}

// waitMailerRound runs one scan and send of m itself, so that what the
// running mailer would have done by now is done.
func waitMailerRound(t *testing.T, m *mailer.Mailer) {
	t.Helper()
	ctx := context.Background()
	if err := m.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SendDue(ctx); err != nil {
		t.Fatal(err)
	}
}

// Two nodes' mailers on one store mail each message once, and a mail whose
// node died while sending goes out after its lease.
func TestMailersOfTwoNodesMailOnce(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, st)
			smtpd := emailtest.Start(t, "", "", nil)
			ctx := context.Background()
			sc := st.Workspace(ts.site.WorkspaceID)
			if err := sc.SaveEmailSettings(ctx, store.EmailSettings{Enabled: true, Host: smtpd.Host, Port: smtpd.Port, Security: "none",
				FromAddress: "support@acme.test", TeamTo: "team@acme.test"}); err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				token := ts.visitorToken(t)
				if code := ts.widgetPost(t, "/api/widget/offline", map[string]string{"token": token, "client_id": "o", "name": "V",
					"email": "v@example.test", "message": "message " + string(rune('a'+i))}, nil); code != 200 {
					t.Fatalf("offline: %d", code)
				}
			}
			var wg sync.WaitGroup
			for range 2 {
				m := mailer.New(st, email.Replies{}, ts.URL, ts.srv.log)
				m.Quiet = 0
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 3 {
						if err := m.Scan(ctx); err != nil {
							t.Error(err)
						}
						if _, err := m.SendDue(ctx); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			if n := len(smtpd.Mails()); n != 5 {
				t.Fatalf("%d mails for 5 offline messages from two nodes, want 5", n)
			}
			// A lease that ran out (its node died mid-send) makes the mail due again.
			if err := sc.QueueMail(ctx, "", 0, 0, []store.MailOut{{Kind: "test", ToAddress: "x@example.test", Subject: "s", Body: "b"}}); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			claimed, err := st.ClaimMail(ctx, now, now.Add(time.Minute), 10)
			if err != nil || len(claimed) != 1 || claimed[0].ToAddress != "x@example.test" {
				t.Fatalf("claim: %v %+v", err, claimed)
			}
			if again, _ := st.ClaimMail(ctx, now, now.Add(time.Minute), 10); len(again) != 0 {
				t.Fatal("a leased mail was claimed twice")
			}
			if later, _ := st.ClaimMail(ctx, now.Add(2*time.Minute), now.Add(3*time.Minute), 10); len(later) != 1 {
				t.Fatal("a mail whose lease ran out is not due again")
			}
			// At rest, the queued mail's address, subject and body are sealed.
			var raw store.MailOut
			if err := st.Gorm().Where("id = ?", claimed[0].ID).Take(&raw).Error; err != nil {
				t.Fatal(err)
			}
			if strings.Contains(raw.ToAddress+raw.Subject+raw.Body, "x@example.test") {
				t.Fatal("a queued mail is stored in the clear")
			}
		})
	}
}

// Only admins see and change the email settings.
func TestEmailSettingsAreAdminOnly(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		agent := admin.newAgent(t, "Eve", nil)
		for _, r := range []struct{ method, path string }{{"GET", "/api/email/settings"}, {"PUT", "/api/email/settings"}, {"GET", "/api/email/outbox"}, {"POST", "/api/email/test"}} {
			if code := agent.call(t, r.method, r.path, map[string]any{}, nil); code != http.StatusForbidden {
				t.Errorf("agent %s %s: %d, want 403", r.method, r.path, code)
			}
		}
	})
}

// An invite is mailed to the invitee when mail is on, with the link the
// admin sees; with mail off the admin shares the link.
func TestInviteIsMailedWhenMailIsOn(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		smtpd := emailtest.Start(t, "", "", nil)
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		var out struct {
			Link       string
			Emailed    bool
			EmailError string `json:"email_error"`
		}
		if code := admin.call(t, "POST", "/api/invites", map[string]string{"email": "new@acme.test", "role": "agent"}, &out); code != 201 || out.Emailed {
			t.Fatalf("mail off: %d emailed=%v", code, out.Emailed)
		}
		if code := admin.call(t, "PUT", "/api/email/settings", map[string]any{"enabled": true, "host": smtpd.Host, "port": smtpd.Port,
			"security": "none", "from_address": "support@acme.test"}, nil); code != 200 {
			t.Fatalf("settings: %d", code)
		}
		if code := admin.call(t, "POST", "/api/invites", map[string]string{"email": "sam@acme.test", "role": "supervisor"}, &out); code != 201 || !out.Emailed || out.EmailError != "" {
			t.Fatalf("mail on: %d %+v", code, out)
		}
		m := smtpd.Wait(t, 1, 10*time.Second)[0]
		_, text := mailText(t, m)
		if m.To[0] != "sam@acme.test" || !strings.Contains(text, out.Link) || !strings.Contains(text, "supervisor") {
			t.Fatalf("invite mail to %v:\n%s\nwant the link %s", m.To, text, out.Link)
		}
		// The SMTP server down: the invite still exists, the admin is told.
		smtpd.FailNext(1)
		if code := admin.call(t, "POST", "/api/invites", map[string]string{"email": "kim@acme.test", "role": "agent"}, &out); code != 201 || out.Emailed || out.EmailError == "" || out.Link == "" {
			t.Fatalf("SMTP failing: %d %+v", code, out)
		}
	})
}
