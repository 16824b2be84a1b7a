package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/email"
	"github.com/parleychat/parley/pkg/mailer"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// The email resource: an admin sets the workspace's SMTP server
// (/api/email/settings), sends a test mail, and reads the outgoing mail's
// log with a retry for what failed (/api/email/outbox). What gets mailed
// when is pkg/mailer's; replies that come back by mail arrive through
// deliverReply.

// emailStore is what the email API needs of one workspace's store.
type emailStore interface {
	EmailSettings(ctx context.Context) (store.EmailSettings, error)
	SaveEmailSettings(ctx context.Context, es store.EmailSettings) error
	Mails(ctx context.Context, limit int) ([]store.MailOut, error)
	RetryMail(ctx context.Context, id int64, now time.Time) error
}

// emailAPI serves the email resource.
type emailAPI struct {
	store func(workspaceID string) emailStore
	// mail sends a test mail at once (so the admin sees the SMTP server's
	// answer), is kicked when settings change, and knows where replies
	// come back.
	mail  *mailer.Mailer
	audit func(c *gin.Context, workspaceID, action, target, detail string)
	// workspace is the store the mailer reads a transcript from.
	workspace func(workspaceID string) *store.Scoped
}

func (s *Server) emailAPI() *emailAPI {
	return &emailAPI{
		store: func(ws string) emailStore { return s.store.Workspace(ws) },
		mail:  s.mail, audit: s.audit, workspace: s.store.Workspace,
	}
}

// transcript answers POST /api/conversations/:id/transcript: the chat is
// mailed to the visitor at the address they left (never one the agent
// types, so the dashboard cannot mail a conversation anywhere), through
// the mail queue. Audited without the address.
func (a *emailAPI) transcript(c *gin.Context) error {
	me := agentOf(c)
	to, err := a.mail.QueueTranscript(c.Request.Context(), a.workspace(me.WorkspaceID), c.Param("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierr.NotFound("no such conversation")
	case errors.Is(err, mailer.ErrMailOff):
		return apierr.Conflict("email is off for this workspace; an admin turns it on under Email")
	case errors.Is(err, mailer.ErrNoAddress):
		return apierr.Conflict("the visitor left no email address to send the transcript to")
	case err != nil:
		return apierr.Unavailable("cannot queue the transcript right now; retry", err)
	}
	a.audit(c, me.WorkspaceID, "transcript_mailed", c.Param("id"), "")
	c.JSON(http.StatusAccepted, gin.H{"to": to})
	return nil
}

// emailSettingsJSON is the settings as the dashboard sees them: the
// password is never sent back, only whether one is set.
type emailSettingsJSON struct {
	Enabled     bool   `json:"enabled"`
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Security    string `json:"security"`
	Username    string `json:"username"`
	HasPassword bool   `json:"has_password"`
	FromAddress string `json:"from_address"`
	FromName    string `json:"from_name"`
	TeamTo      string `json:"team_to"`
	// ReplyDomain is where visitors' emailed replies come back (the
	// server's PARLEY_REPLY_DOMAIN); "" means replies by email are off.
	ReplyDomain string `json:"reply_domain"`
}

func (a *emailAPI) get(c *gin.Context) error {
	es, err := a.store(agentOf(c).WorkspaceID).EmailSettings(c.Request.Context())
	if errors.Is(err, store.ErrNotFound) {
		es = store.EmailSettings{Port: 587, Security: string(email.StartTLS)}
	} else if err != nil {
		return apierr.Unavailable("cannot read the email settings right now", err)
	}
	c.JSON(http.StatusOK, gin.H{"settings": a.toJSON(es)})
	return nil
}

func (a *emailAPI) toJSON(es store.EmailSettings) emailSettingsJSON {
	return emailSettingsJSON{Enabled: es.Enabled, Host: es.Host, Port: es.Port, Security: es.Security, Username: es.Username,
		HasPassword: es.Password != "", FromAddress: es.FromAddress, FromName: es.FromName, TeamTo: es.TeamTo, ReplyDomain: a.mail.Replies.Domain}
}

// emailSettingsRequest is a change of settings. Password nil keeps the
// stored one; "" removes it.
type emailSettingsRequest struct {
	Enabled     bool    `json:"enabled"`
	Host        string  `json:"host"`
	Port        int     `json:"port"`
	Security    string  `json:"security"`
	Username    string  `json:"username"`
	Password    *string `json:"password"`
	FromAddress string  `json:"from_address"`
	FromName    string  `json:"from_name"`
	TeamTo      string  `json:"team_to"`
}

// settings checks req and merges it over the stored settings.
func (req emailSettingsRequest) settings(was store.EmailSettings) (store.EmailSettings, error) {
	req.Host, req.Username = strings.TrimSpace(req.Host), strings.TrimSpace(req.Username)
	req.FromAddress, req.FromName = strings.TrimSpace(req.FromAddress), strings.TrimSpace(req.FromName)
	switch {
	case req.Host == "" && req.Enabled:
		return was, apierr.Invalid("give the SMTP server's host name to turn email on")
	case len(req.Host) > 255 || strings.ContainsAny(req.Host, "/:@ \t") && !strings.HasPrefix(req.Host, "["):
		return was, apierr.Invalid("the SMTP host is a host name or address, without scheme, port or path")
	case req.Port < 1 || req.Port > 65535:
		return was, apierr.Invalid("the SMTP port is a number from 1 to 65535 (usually 587, or 465 for TLS)")
	case !email.Security(req.Security).Valid():
		return was, apierr.Invalid("security is starttls, tls or none")
	case req.Enabled && !email.ValidAddress(req.FromAddress):
		return was, apierr.Invalid("give the address mail is sent from (for example support@yourcompany.com)")
	case req.FromAddress != "" && !email.ValidAddress(req.FromAddress):
		return was, apierr.Invalid("the from address is not a valid email address")
	case len(req.Username) > 320 || len(req.FromName) > 200 || strings.ContainsAny(req.FromName, "\r\n"):
		return was, apierr.Invalid("the user name or from name is too long")
	case req.Password != nil && len(*req.Password) > 1000:
		return was, apierr.Invalid("the password is too long")
	}
	var team []string
	for _, t := range strings.Split(req.TeamTo, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if !email.ValidAddress(t) {
			return was, apierr.Invalid("not a valid address in who is told of offline messages: " + strconv.Quote(t))
		}
		team = append(team, t)
	}
	if len(team) > 20 {
		return was, apierr.Invalid("at most 20 addresses are told of offline messages")
	}
	es := store.EmailSettings{Enabled: req.Enabled, Host: req.Host, Port: req.Port, Security: req.Security, Username: req.Username,
		Password: was.Password, FromAddress: req.FromAddress, FromName: req.FromName, TeamTo: strings.Join(team, ", ")}
	if req.Password != nil {
		es.Password = *req.Password
	}
	return es, nil
}

func (a *emailAPI) update(c *gin.Context) error {
	me := agentOf(c)
	var req emailSettingsRequest
	if err := bindBody(c, &req); err != nil {
		return err
	}
	ctx := c.Request.Context()
	sc := a.store(me.WorkspaceID)
	was, err := sc.EmailSettings(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return apierr.Unavailable("cannot read the email settings right now", err)
	}
	es, err := req.settings(was)
	if err != nil {
		return err
	}
	if err := sc.SaveEmailSettings(ctx, es); err != nil {
		return apierr.Unavailable("cannot save the email settings right now", err)
	}
	detail := "off"
	if es.Enabled {
		detail = "on, through " + es.Host // never the password
	}
	a.audit(c, me.WorkspaceID, "email_settings_changed", es.Host, detail)
	a.mail.Kick()
	c.JSON(http.StatusOK, gin.H{"settings": a.toJSON(es)})
	return nil
}

// test sends one mail now with the stored settings and answers with what
// the SMTP server said.
func (a *emailAPI) test(c *gin.Context) error {
	me := agentOf(c)
	var req struct {
		To string `json:"to"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	if req.To = strings.TrimSpace(req.To); !email.ValidAddress(req.To) {
		return apierr.Invalid("give an address to send the test mail to")
	}
	es, err := a.store(me.WorkspaceID).EmailSettings(c.Request.Context())
	if errors.Is(err, store.ErrNotFound) || err == nil && es.Host == "" {
		return apierr.Invalid("save the SMTP settings first")
	}
	if err != nil {
		return apierr.Unavailable("cannot read the email settings right now", err)
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 30*time.Second)
	defer cancel()
	err = a.mail.SendNow(ctx, es, email.Message{
		From: mail.Address{Name: es.FromName, Address: es.FromAddress}, To: []string{req.To},
		Subject: "Parley test mail", Text: "This is a test mail from Parley: your email settings work.\n",
	})
	if err != nil {
		// The SMTP server's own words help the admin; they hold no
		// password (Send's errors name the server, not the account).
		return apierr.New(http.StatusBadGateway, "smtp_failed", "the SMTP server did not take the mail: "+err.Error())
	}
	a.audit(c, me.WorkspaceID, "email_test_sent", req.To, "")
	c.JSON(http.StatusOK, gin.H{"sent": true})
	return nil
}

// mailJSON is one entry of the outgoing mail's log.
type mailJSON struct {
	ID        int64      `json:"id"`
	Kind      string     `json:"kind"`
	To        string     `json:"to"`
	Subject   string     `json:"subject"`
	Status    string     `json:"status"` // sent, failed, waiting
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error,omitempty"`
	NextAt    *time.Time `json:"next_at,omitempty"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

func (a *emailAPI) outbox(c *gin.Context) error {
	ms, err := a.store(agentOf(c).WorkspaceID).Mails(c.Request.Context(), 100)
	if err != nil {
		return apierr.Unavailable("cannot read the mail log right now", err)
	}
	out := make([]mailJSON, len(ms))
	for i, m := range ms {
		j := mailJSON{ID: m.ID, Kind: m.Kind, To: m.ToAddress, Subject: m.Subject, Attempts: m.Attempts,
			LastError: m.LastError, SentAt: m.SentAt, CreatedAt: m.CreatedAt}
		switch {
		case m.SentAt != nil:
			j.Status = "sent"
		case m.FailedAt != nil:
			j.Status = "failed"
		default:
			j.Status, j.NextAt = "waiting", &m.NextAt
		}
		out[i] = j
	}
	c.JSON(http.StatusOK, gin.H{"mails": out})
	return nil
}

func (a *emailAPI) retry(c *gin.Context) error {
	me := agentOf(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return apierr.NotFound("no such mail")
	}
	if err := a.store(me.WorkspaceID).RetryMail(c.Request.Context(), id, time.Now().UTC()); errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such mail, or it was sent")
	} else if err != nil {
		return apierr.Unavailable("cannot retry the mail right now", err)
	}
	a.audit(c, me.WorkspaceID, "email_retried", strconv.FormatInt(id, 10), "")
	a.mail.Kick()
	c.JSON(http.StatusOK, gin.H{"retried": true})
	return nil
}

// deliverReply stores a visitor's emailed reply as the visitor's message:
// in the conversation the reply address names while it is open, else in
// the visitor's open one or a new offline message. The mail's Message-ID
// is the client id, so a mail server's redelivery stores nothing new. Only
// the address the conversation mailed may answer: a forwarded mail from
// someone else is refused.
func (s *Server) deliverReply(ctx context.Context, r email.Reply) error {
	ws, err := s.store.ConversationWorkspace(ctx, r.Conversation)
	if errors.Is(err, store.ErrNotFound) {
		return email.ErrUnknownSender
	}
	if err != nil {
		return err
	}
	sc := s.store.Workspace(ws)
	c, err := sc.Conversation(ctx, r.Conversation)
	if err != nil {
		return err
	}
	v, err := sc.Visitor(ctx, c.VisitorID)
	if err != nil {
		return err
	}
	addr := c.ContactEmail
	if addr == "" {
		addr = v.Email
	}
	if addr == "" || !strings.EqualFold(addr, r.From) {
		s.log.Info("an emailed reply from an address the conversation did not mail was refused", "conversation", c.ID)
		return email.ErrUnknownSender
	}
	id := r.MessageID
	if id == "" {
		id = r.Conversation + "\x00" + r.Text
	}
	sum := sha256.Sum256([]byte(id))
	clientID := "email:" + hex.EncodeToString(sum[:16])
	name := c.ContactName
	if name == "" {
		name = v.Name
	}
	p := conversation.Participant{Kind: protocol.AuthorVisitor, ID: v.ID, Name: v.Name, WorkspaceID: ws, SiteID: c.SiteID}
	text := r.Text
	if len(text) > protocol.MaxBodyBytes {
		text = store.Truncate(text, protocol.MaxBodyBytes/4)
	}
	info, err := s.conv.LeaveMessage(ctx, p, clientID, name, addr, text)
	if err != nil {
		return err
	}
	// Whoever answers by email is known: a contact (http_contacts.go).
	s.linkContact(ctx, ws, v.ID, store.ContactFacts{Name: c.ContactName, Email: addr})
	s.log.Info("emailed reply stored", "conversation", info.ID)
	return nil
}

// newInbound is the SMTP listener for replies (PARLEY_SMTP_LISTEN).
func (s *Server) newInbound(log *slog.Logger) *email.Inbound {
	return &email.Inbound{Replies: s.mail.Replies, Deliver: s.deliverReply, Log: log}
}
