package email

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"
)

// Replies: every mail Parley sends about a conversation carries a Reply-To
// address that names the conversation and is signed, r-<id>-<mac>@domain,
// so an inbound mail server needs no table to know where a reply goes, and
// nobody can write into a conversation by guessing its address.

// Replies makes and checks reply addresses.
type Replies struct {
	key    []byte
	Domain string
}

// NewReplies signs reply addresses at domain with a key derived from
// secret (the server's signing secret), so every node agrees.
func NewReplies(secret, domain string) Replies {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("parley email reply addresses"))
	return Replies{key: m.Sum(nil), Domain: strings.ToLower(domain)}
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func (r Replies) mac(id string) string {
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(id))
	return strings.ToLower(b32.EncodeToString(m.Sum(nil)[:10]))
}

// Address is the reply address of conversation id ("" when no domain is
// set: then mail goes out without a Reply-To into Parley).
func (r Replies) Address(id string) string {
	if r.Domain == "" {
		return ""
	}
	return "r-" + strings.ReplaceAll(id, "-", "") + "-" + r.mac(id) + "@" + r.Domain
}

var replyLocal = regexp.MustCompile(`^r-([0-9a-f]{32})-([a-z2-7]{16})$`)

// Conversation returns the conversation id a reply address names, or false
// when the address is not one of ours or its signature is wrong.
func (r Replies) Conversation(addr string) (string, bool) {
	addr = strings.ToLower(strings.TrimSpace(addr))
	at := strings.LastIndexByte(addr, '@')
	if r.Domain == "" || at < 0 || addr[at+1:] != r.Domain {
		return "", false
	}
	m := replyLocal.FindStringSubmatch(addr[:at])
	if m == nil {
		return "", false
	}
	h := m[1]
	id := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	if !hmac.Equal([]byte(r.mac(id)), []byte(m[2])) {
		return "", false
	}
	return id, true
}

// Reply is a visitor's emailed answer, reduced to what a chat needs.
type Reply struct {
	Conversation string // from the signed address it was sent to
	From         string // the sender's address
	MessageID    string // makes a redelivered mail idempotent
	Text         string // the new text, without the quoted mail below it
}

// ErrNotAReply: the mail has no text of its own, or comes from a robot.
var ErrNotAReply = errors.New("email: not a reply a person wrote")

// ErrUnknownSender: the reply does not come from the address the
// conversation mailed (or names no conversation); refused with a 550.
var ErrUnknownSender = errors.New("email: the sender is not the conversation's contact")

// MaxReplyBytes bounds an inbound mail; longer ones are refused (552).
const MaxReplyBytes = 1 << 20

// ParseReply reads one RFC 5322 message and returns its sender, id and
// new text: the first text/plain part (or text/html stripped of tags),
// cut where the quoted earlier mail begins.
func ParseReply(r io.Reader) (Reply, error) {
	msg, err := mail.ReadMessage(bufio.NewReader(io.LimitReader(r, MaxReplyBytes)))
	if err != nil {
		return Reply{}, err
	}
	// RFC 3834: an automatic answer (vacation, bounce) is not the visitor.
	if as := strings.ToLower(msg.Header.Get("Auto-Submitted")); as != "" && as != "no" {
		return Reply{}, ErrNotAReply
	}
	from, err := msg.Header.AddressList("From")
	if err != nil || len(from) == 0 {
		return Reply{}, errors.New("email: no sender")
	}
	text, err := plainText(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0)
	if err != nil {
		return Reply{}, err
	}
	text = StripQuoted(text)
	if text == "" {
		return Reply{}, ErrNotAReply
	}
	return Reply{
		From:      strings.ToLower(from[0].Address),
		MessageID: strings.Trim(strings.TrimSpace(msg.Header.Get("Message-Id")), "<>"),
		Text:      text,
	}, nil
}

// plainText finds the text of a part, descending into multiparts (at most
// a few levels: a mail nested deeper is not a person's reply).
func plainText(ctype, cte string, body io.Reader, depth int) (string, error) {
	if ctype == "" {
		ctype = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth > 3 {
			return "", ErrNotAReply
		}
		mr := multipart.NewReader(body, params["boundary"])
		var html string
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return "", err
			}
			t, err := plainText(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1)
			if err != nil {
				continue // an attachment or an odd part: look at the others
			}
			pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if pt == "text/html" {
				if html == "" {
					html = t
				}
				continue
			}
			if t != "" {
				return t, nil
			}
		}
		if html != "" {
			return html, nil
		}
		return "", ErrNotAReply
	}
	if mt != "text/plain" && mt != "text/html" {
		return "", ErrNotAReply
	}
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // ignores line breaks
	}
	raw, err := io.ReadAll(io.LimitReader(body, MaxReplyBytes))
	if err != nil {
		return "", err
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		raw = latin1ToUTF8(raw, cs)
	}
	s := string(bytes.ToValidUTF8(raw, []byte("\uFFFD")))
	if mt == "text/html" {
		s = htmlToText(s)
	}
	return strings.ReplaceAll(s, "\r\n", "\n"), nil
}

// latin1ToUTF8 decodes ISO-8859-1 (and treats Windows-1252 as it, which
// is right for letters); other charsets are kept as UTF-8 best effort.
func latin1ToUTF8(b []byte, cs string) []byte {
	if cs != "iso-8859-1" && cs != "latin1" && cs != "windows-1252" {
		return b
	}
	out := make([]byte, 0, len(b)*2)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

var (
	htmlBreak = regexp.MustCompile(`(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6])\s*/?>`)
	htmlQuote = regexp.MustCompile(`(?is)<blockquote.*?</blockquote>`)
	htmlDrop  = regexp.MustCompile(`(?is)<(script|style|head)\b.*?</(script|style|head)>`)
	htmlTag   = regexp.MustCompile(`<[^>]*>`)
)

// htmlToText keeps a mail's words: line breaks where blocks end, no tags,
// no quoted earlier mail. The result is shown as plain text, never HTML.
func htmlToText(s string) string {
	s = htmlDrop.ReplaceAllString(s, "")
	s = htmlQuote.ReplaceAllString(s, "")
	s = htmlBreak.ReplaceAllString(s, "\n")
	s = htmlTag.ReplaceAllString(s, "")
	r := strings.NewReplacer("&nbsp;", " ", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&amp;", "&")
	return r.Replace(s)
}

// The lines where mail programs start quoting the mail answered: "On …
// wrote:" (and its translations), Outlook's separator and header block.
var quoteStart = regexp.MustCompile(`(?i)^(on .+ wrote:|le .+ a écrit\s?:|am .+ schrieb .+:|el .+ escribió:|em .+ escreveu:|-{2,}\s*original message\s*-{2,}|_{10,}|from:\s.+|de\s?:\s.+|von:\s.+)$`)

// StripQuoted cuts a reply where the earlier mail is quoted and drops
// quoted (">") lines and a trailing "-- " signature.
func StripQuoted(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if quoteStart.MatchString(t) || line == "-- " {
			break
		}
		if strings.HasPrefix(t, ">") {
			continue
		}
		keep = append(keep, strings.TrimRight(line, " \t"))
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}

// Inbound is an SMTP listener for replies: it accepts mail only for valid
// reply addresses, so it is no open relay and needs no sign-in, and hands
// each reply to Deliver.
type Inbound struct {
	Replies Replies
	// Deliver stores a reply; an error makes the sending server try again
	// later (a 451), except ErrNotAReply, which drops the mail quietly.
	Deliver func(ctx context.Context, r Reply) error
	Log     *slog.Logger

	// Serve and Close may run at once (Close before Serve has begun):
	// mu orders them, and a listener given after Close is closed at once.
	mu     sync.Mutex
	closed bool
	srv    *smtp.Server
	l      net.Listener
}

// Serve accepts mail on l until Close.
func (in *Inbound) Serve(l net.Listener) error {
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{in: in}, nil }))
	s.Domain = in.Replies.Domain
	s.MaxMessageBytes = MaxReplyBytes
	s.MaxRecipients = 10
	s.ReadTimeout = time.Minute
	s.WriteTimeout = time.Minute
	s.ErrorLog = slogLogger{in.Log}
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		l.Close()
		return smtp.ErrServerClosed
	}
	in.srv, in.l = s, l
	in.mu.Unlock()
	return s.Serve(l)
}

// Close stops listening and ends open sessions.
func (in *Inbound) Close() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.closed = true
	if in.srv == nil {
		return nil
	}
	// The listener too: Close may come before Serve has registered it
	// with the SMTP server, whose Close would then miss it.
	in.l.Close()
	return in.srv.Close()
}

type slogLogger struct{ l *slog.Logger }

func (l slogLogger) Printf(format string, v ...any) {
	if l.l != nil {
		l.l.Debug("inbound smtp", "detail", strings.TrimSpace(fmt.Sprintf(format, v...)))
	}
}
func (l slogLogger) Println(v ...any) { l.Printf("%v", v...) }

// session is one SMTP transaction of Inbound.
type session struct {
	in    *Inbound
	convs []string
}

func (s *session) Reset()                                      { s.convs = nil }
func (s *session) Logout() error                               { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error { return nil }

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	id, ok := s.in.Replies.Conversation(to)
	if !ok {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	s.convs = append(s.convs, id)
	return nil
}

func (s *session) Data(r io.Reader) error {
	reply, err := ParseReply(r)
	_, _ = io.Copy(io.Discard, r)
	if errors.Is(err, ErrNotAReply) {
		return nil // accepted and dropped: a bounce must not bounce back
	}
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "cannot read this mail"}
	}
	for _, id := range s.convs {
		reply.Conversation = id
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err := s.in.Deliver(ctx, reply)
		cancel()
		if errors.Is(err, ErrNotAReply) {
			continue
		}
		if errors.Is(err, ErrUnknownSender) {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "this address takes replies from the conversation's contact only"}
		}
		if err != nil {
			if s.in.Log != nil {
				s.in.Log.Warn("an emailed reply could not be stored; the sender will retry", "conversation", id, "err", err)
			}
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
	}
	return nil
}
