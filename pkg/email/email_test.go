package email_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/parleychat/parley/pkg/email"
	"github.com/parleychat/parley/pkg/email/emailtest"
	"github.com/parleychat/parley/pkg/testcert"
)

// selfSigned makes a certificate for 127.0.0.1 and a client config that
// trusts only it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	p := testcert.New(t, "mail.test")
	return &tls.Config{Certificates: []tls.Certificate{p.Cert}}, &tls.Config{RootCAs: p.Pool, ServerName: "127.0.0.1"}
}

func body(t *testing.T, raw []byte) (mail.Header, string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	return msg.Header, string(b)
}

func TestSendOverStartTLSWithSignIn(t *testing.T) {
	srvTLS, cliTLS := selfSigned(t)
	s := emailtest.Start(t, "parley", "s3cret-pass", srvTLS)
	m := email.Message{
		From: mail.Address{Name: "Acme Support", Address: "support@acme.test"}, To: []string{"ana@example.test"},
		ReplyTo: "r-x@reply.acme.test", Subject: "Réponse à votre message", Text: "Bonjour Ana,\nvoici la réponse.",
		InReplyTo: "abc@acme.test",
	}
	err := email.Send(context.Background(), email.Server{Host: s.Host, Port: s.Port, Security: email.StartTLS, Username: "parley", Password: "s3cret-pass", TLSConfig: cliTLS}, m)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Wait(t, 1, 10*time.Second)[0]
	if got.From != "support@acme.test" || len(got.To) != 1 || got.To[0] != "ana@example.test" {
		t.Fatalf("envelope %q → %v", got.From, got.To)
	}
	h, text := body(t, got.Raw)
	subj, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if subj != "Réponse à votre message" || h.Get("Reply-To") != "r-x@reply.acme.test" || h.Get("In-Reply-To") != "<abc@acme.test>" {
		t.Fatalf("headers: subject %q, reply-to %q, in-reply-to %q", subj, h.Get("Reply-To"), h.Get("In-Reply-To"))
	}
	if strings.TrimRight(text, "\r\n") != "Bonjour Ana,\r\nvoici la réponse." {
		t.Fatalf("body %q", text)
	}
}

func TestSendFailures(t *testing.T) {
	s := emailtest.Start(t, "parley", "right", nil)
	srv := email.Server{Host: s.Host, Port: s.Port, Security: email.None, Username: "parley", Password: "wrong"}
	m := email.Message{From: mail.Address{Address: "a@acme.test"}, To: []string{"b@example.test"}, Subject: "x", Text: "y"}
	if err := email.Send(context.Background(), srv, m); !errors.Is(err, email.ErrRefused) {
		t.Fatalf("wrong password: %v, want ErrRefused (retrying cannot help)", err)
	}
	if strings.Contains(email.Server{Password: "wrong"}.String(), "wrong") {
		t.Fatal("Server.String prints the password")
	}
	srv.Password = "right"
	s.FailNext(1)
	if err := email.Send(context.Background(), srv, m); err == nil || errors.Is(err, email.ErrRefused) {
		t.Fatalf("451: %v, want a temporary error", err)
	}
	if err := email.Send(context.Background(), srv, m); err != nil {
		t.Fatal(err)
	}
	m.Subject = "x\r\nBcc: evil@example.test"
	if err := email.Send(context.Background(), srv, m); err == nil {
		t.Fatal("a subject with a line break was sent (header injection)")
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv.Port = port
	if err := email.Send(context.Background(), srv, m); err == nil || errors.Is(err, email.ErrRefused) {
		t.Fatalf("closed port: %v, want a temporary error", err)
	}
}

func TestReplyAddresses(t *testing.T) {
	r := email.NewReplies("a secret of at least thirty-two characters", "Reply.Acme.test")
	id := "0b6f3c1e-8a55-4c4e-9a39-5f2d2b1c9e77"
	addr := r.Address(id)
	if len(addr) > 254 || !strings.HasSuffix(addr, "@reply.acme.test") || len(addr[:strings.IndexByte(addr, '@')]) > 64 {
		t.Fatalf("address %q", addr)
	}
	if got, ok := r.Conversation(strings.ToUpper(addr)); !ok || got != id {
		t.Fatalf("%q → %q %v", addr, got, ok)
	}
	other := "0b6f3c1e-8a55-4c4e-9a39-5f2d2b1c9e78"
	forged := strings.Replace(addr, strings.ReplaceAll(id, "-", ""), strings.ReplaceAll(other, "-", ""), 1)
	for _, bad := range []string{forged, strings.Replace(addr, "reply.acme.test", "evil.test", 1), "r-x-y@reply.acme.test", ""} {
		if _, ok := r.Conversation(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, ok := email.NewReplies("another secret of at least thirty-two chars", "reply.acme.test").Conversation(addr); ok {
		t.Error("an address signed with another secret was accepted")
	}
}

func TestParseReply(t *testing.T) {
	cases := []struct{ name, raw, want string }{
		{"plain with quote", "From: Ana <Ana@Example.test>\r\nMessage-ID: <m1@example.test>\r\nSubject: Re: x\r\n\r\nThanks, that works!\r\n\r\nOn Mon, 7 Dec 2026 at 10:00, Acme <support@acme.test> wrote:\r\n> Try turning it off and on.\r\n", "Thanks, that works!"},
		{"quoted-printable latin1", "From: ana@example.test\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nMerci, =E7a marche.\r\n> ancien\r\n", "Merci, ça marche."},
		{"multipart prefers plain", "From: ana@example.test\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>HTML <b>version</b></p>\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nUGxhaW4g\r\ndmVyc2lvbg==\r\n--b--\r\n", "Plain version"},
		{"html only", "From: ana@example.test\r\nContent-Type: text/html\r\n\r\n<div>Yes &amp; no<br>second</div><blockquote>old mail</blockquote><script>alert(1)</script>", "Yes & no\nsecond"},
		{"outlook", "From: ana@example.test\r\n\r\nOk\r\n-----Original Message-----\r\nFrom: Acme\r\nold\r\n", "Ok"},
	}
	for _, c := range cases {
		r, err := email.ParseReply(strings.NewReader(c.raw))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if r.Text != c.want || r.From != strings.ToLower(r.From) {
			t.Errorf("%s: %q from %q, want %q", c.name, r.Text, r.From, c.want)
		}
	}
	if r, _ := email.ParseReply(strings.NewReader(cases[0].raw)); r.MessageID != "m1@example.test" || r.From != "ana@example.test" {
		t.Errorf("id %q from %q", r.MessageID, r.From)
	}
	for _, raw := range []string{
		"From: mailer@example.test\r\nAuto-Submitted: auto-replied\r\n\r\nI am on vacation.",
		"From: ana@example.test\r\n\r\n> only a quote\r\n",
	} {
		if _, err := email.ParseReply(strings.NewReader(raw)); !errors.Is(err, email.ErrNotAReply) {
			t.Errorf("%q: %v, want ErrNotAReply", raw, err)
		}
	}
}

func TestInboundTakesRepliesToSignedAddressesOnly(t *testing.T) {
	replies := email.NewReplies("a secret of at least thirty-two characters", "reply.acme.test")
	var mu sync.Mutex
	var got []email.Reply
	fail := true
	in := &email.Inbound{Replies: replies, Deliver: func(_ context.Context, r email.Reply) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			fail = false
			return errors.New("store down")
		}
		got = append(got, r)
		return nil
	}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go in.Serve(l)
	t.Cleanup(func() { in.Close() })
	addr := l.Addr().String()
	id := "0b6f3c1e-8a55-4c4e-9a39-5f2d2b1c9e77"
	// A mail program's reply, sent raw: Send marks Parley's own mail as
	// auto-generated, which Inbound rightly drops.
	send := func(to string) error {
		raw := "From: Ana <ana@example.test>\r\nTo: " + to + "\r\nSubject: Re: hi\r\nMessage-ID: <r1@example.test>\r\n\r\nIt works now.\r\n\r\nOn Monday, Acme wrote:\r\n> old\r\n"
		c, err := smtp.Dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.SendMail("ana@example.test", []string{to}, strings.NewReader(raw))
	}
	code := func(err error) int {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se.Code
		}
		return 0
	}
	if err := send(replies.Address(id)); code(err) != 451 {
		t.Fatalf("store down: %v, want a 451 so the sender retries", err)
	}
	if err := send(replies.Address(id)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(got) != 1 || got[0].Conversation != id || got[0].Text != "It works now." || got[0].From != "ana@example.test" || got[0].MessageID != "r1@example.test" {
		t.Fatalf("delivered %+v", got)
	}
	mu.Unlock()
	if err := send("r-" + strings.Repeat("0", 32) + "-aaaaaaaaaaaaaaaa@reply.acme.test"); code(err) != 550 {
		t.Fatalf("unsigned address: %v, want 550 (no open relay)", err)
	}
	if err := send("someone@elsewhere.test"); code(err) != 550 {
		t.Fatalf("relaying: %v, want 550", err)
	}
	// Parley's own mail (auto-generated) coming back is dropped, not stored.
	own := email.Message{From: mail.Address{Address: "support@acme.test"}, To: []string{replies.Address(id)}, Subject: "x", Text: "loop"}
	if err := email.Send(context.Background(), email.Server{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, Security: email.None}, own); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("an auto-generated mail was stored as a reply: %+v", got)
	}
}
