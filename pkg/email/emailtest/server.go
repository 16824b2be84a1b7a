// Package emailtest is a real SMTP server for tests: it listens on
// loopback, speaks SMTP through emersion/go-smtp (with STARTTLS and
// sign-in when asked) and keeps every mail it accepts, so a test checks
// what a mail program would have received.
package emailtest

import (
	"crypto/tls"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one accepted message.
type Mail struct {
	From string
	To   []string
	Raw  []byte
}

// Header parses the mail's header.
func (m Mail) Header() mail.Header {
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Raw)))
	if err != nil {
		return mail.Header{}
	}
	return msg.Header
}

// Server is a recording SMTP server.
type Server struct {
	Host string
	Port int
	// User and Password, when User is set, are required to send.
	User, Password string
	// FailNext makes the next n mails fail with a 451 (try later).
	failNext int

	mu    sync.Mutex
	mails []Mail
	cond  *sync.Cond
	srv   *smtp.Server
}

// Start listens on 127.0.0.1 (a free port) until the test ends. With tlsConf
// the server offers STARTTLS.
func Start(t testing.TB, user, password string, tlsConf *tls.Config) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, User: user, Password: password}
	s.cond = sync.NewCond(&s.mu)
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "mail.test"
	s.srv.TLSConfig = tlsConf
	s.srv.AllowInsecureAuth = tlsConf == nil
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// FailNext makes the next n mails fail with a temporary error.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	s.failNext = n
	s.mu.Unlock()
}

// Mails returns what was accepted so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Wait returns once n mails were accepted, or fails the test after d.
func (s *Server) Wait(t testing.TB, n int, d time.Duration) []Mail {
	t.Helper()
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(d, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.mails) < n {
		if time.Now().After(deadline) {
			t.Fatalf("SMTP server: %d mails after %v, want %d", len(s.mails), d, n)
		}
		s.cond.Wait()
	}
	return append([]Mail(nil), s.mails...)
}

type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != x.s.User || password != x.s.Password {
			return smtp.ErrAuthFailed
		}
		x.authed = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.User != "" && !x.authed {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.failNext > 0 {
		x.s.failNext--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	x.s.mails = append(x.s.mails, Mail{From: x.from, To: x.to, Raw: raw})
	x.s.cond.Broadcast()
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }
