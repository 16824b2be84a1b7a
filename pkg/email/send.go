// Package email sends a workspace's mail through its SMTP server and takes
// visitors' emailed replies back in (inbound.go). It knows nothing of
// conversations: callers hand it a Message and a Server, and get back the
// text of a reply with the conversation its address names.
package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Security is how the connection to the SMTP server is protected.
type Security string

const (
	// StartTLS upgrades a plain connection (port 587); the default.
	StartTLS Security = "starttls"
	// TLS connects with TLS from the start (port 465).
	TLS Security = "tls"
	// None sends in the clear: only for a server on the same host.
	None Security = "none"
)

// Valid reports whether s is one of the known modes.
func (s Security) Valid() bool { return s == StartTLS || s == TLS || s == None }

// Server is an SMTP submission server and the account that sends through it.
type Server struct {
	Host     string
	Port     int
	Security Security
	Username string
	Password string // never logged: Server has no String that prints it
	// TLSConfig overrides the TLS settings (tests trust their own CA);
	// nil verifies the server's certificate against the system roots.
	TLSConfig *tls.Config
}

// String names the server without its password.
func (s Server) String() string {
	return fmt.Sprintf("smtp://%s@%s (%s)", s.Username, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), s.Security)
}

// Message is one email to send.
type Message struct {
	From    mail.Address
	To      []string
	ReplyTo string // where a reply goes (a conversation's reply address)
	Subject string
	Text    string // plain text, UTF-8
	// ID is the Message-ID without angle brackets; made up when empty.
	ID string
	// InReplyTo threads the mail under an earlier one (without brackets).
	InReplyTo string
	Date      time.Time
}

// Sentinel errors of Send.
var (
	ErrNoRecipient = errors.New("email: no recipient")
	// ErrRefused: the server refused the mail for good (a 5xx reply):
	// retrying the same mail will not help.
	ErrRefused = errors.New("email: refused by the SMTP server")
)

// Send delivers m through srv, giving up when ctx ends. A 5xx reply is
// wrapped in ErrRefused; anything else (a refused connection, a 4xx) is
// worth retrying later.
func Send(ctx context.Context, srv Server, m Message) error {
	if len(m.To) == 0 {
		return ErrNoRecipient
	}
	body, err := m.Bytes()
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port))
	d := net.Dialer{Timeout: 15 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("email: connect to %s: %w", addr, err)
	}
	// One deadline for the whole conversation with the server: a server
	// that stalls mid-DATA must not hold a sender forever.
	deadline := time.Now().Add(60 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	tlsConf := srv.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{ServerName: srv.Host, MinVersion: tls.VersionTLS12}
	}
	var c *smtp.Client
	switch srv.Security {
	case TLS:
		c = smtp.NewClient(tls.Client(conn, tlsConf))
	case None:
		c = smtp.NewClient(conn)
	default:
		c, err = smtp.NewClientStartTLS(conn, tlsConf)
		if err != nil {
			conn.Close()
			return fmt.Errorf("email: STARTTLS with %s: %w", addr, classify(err))
		}
	}
	defer c.Close()
	if srv.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", srv.Username, srv.Password)); err != nil {
			return fmt.Errorf("email: sign in to %s: %w", addr, classify(err))
		}
	}
	if err := c.SendMail(m.From.Address, m.To, bytes.NewReader(body)); err != nil {
		return fmt.Errorf("email: send through %s: %w", addr, classify(err))
	}
	_ = c.Quit()
	return nil
}

// classify marks a permanent SMTP refusal (5xx) as ErrRefused.
func classify(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 {
		return fmt.Errorf("%w: %d %s", ErrRefused, se.Code, se.Message)
	}
	return err
}

// Bytes renders m as an RFC 5322 message: UTF-8 headers encoded as
// RFC 2047 words, the body quoted-printable.
func (m Message) Bytes() ([]byte, error) {
	for _, v := range append([]string{m.From.Address, m.ReplyTo, m.Subject, m.ID, m.InReplyTo}, m.To...) {
		if strings.ContainsAny(v, "\r\n") {
			return nil, errors.New("email: a header holds a line break")
		}
	}
	id := m.ID
	if id == "" {
		id = NewMessageID(domainOf(m.From.Address))
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", m.From.String())
	h("To", strings.Join(m.To, ", "))
	if m.ReplyTo != "" {
		h("Reply-To", m.ReplyTo)
	}
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", date.Format(time.RFC1123Z))
	h("Message-ID", "<"+id+">")
	if m.InReplyTo != "" {
		h("In-Reply-To", "<"+m.InReplyTo+">")
		h("References", "<"+m.InReplyTo+">")
	}
	// Replies from mail servers' vacation responders would come back in
	// as visitor messages: ask them not to answer.
	h("Auto-Submitted", "auto-generated")
	h("MIME-Version", "1.0")
	h("Content-Type", `text/plain; charset="utf-8"`)
	h("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	w := quotedprintable.NewWriter(&b)
	text := strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\r\n")
	if _, err := w.Write([]byte(text)); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// NewMessageID makes a unique Message-ID (without brackets) at domain.
func NewMessageID(domain string) string {
	var r [12]byte
	_, _ = rand.Read(r[:])
	if domain == "" {
		domain = "parley.invalid"
	}
	return hex.EncodeToString(r[:]) + "@" + domain
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// ValidAddress reports whether s is one bare email address (no display
// name, no list) with a domain that has a dot.
func ValidAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(domainOf(s), ".") && len(s) <= 320
}
