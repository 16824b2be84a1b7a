// Package mailer decides what Parley mails and gets it sent: the team is
// told of offline messages, a visitor who is not on the site gets the
// agents' replies by email (and can answer by email, see Deliver), and
// anything queued (invites, tests) goes out through the workspace's SMTP
// server with retries. Every node runs it; the store's mail cursor and
// leases keep two nodes from mailing the same thing.
package mailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/mail"
	"strings"
	"time"

	"github.com/parleychat/parley/pkg/email"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Mailer scans for what to mail and sends the queue.
type Mailer struct {
	Store   *store.Store
	Replies email.Replies
	// Origin is the server's public origin, for links into the dashboard.
	Origin string
	Log    *slog.Logger
	// Quiet is how long a conversation must be still before its new
	// messages are mailed: a burst of replies is one mail, and a visitor
	// who comes back meanwhile reads them in the chat.
	Quiet time.Duration
	// Tick is how often the mailer looks; MaxAttempts how often a mail is
	// tried before it is marked failed.
	Tick        time.Duration
	MaxAttempts int
	// Send sends one mail (email.Send; tests count or fail calls).
	Send func(ctx context.Context, srv email.Server, m email.Message) error
	// TLS overrides how SMTP servers' certificates are checked (tests).
	TLS func(email.Server) email.Server
	// RetryBase is the first retry's wait; each next one doubles it.
	RetryBase time.Duration

	kick chan struct{}
}

// New returns a Mailer with the production timings.
func New(st *store.Store, replies email.Replies, origin string, log *slog.Logger) *Mailer {
	return &Mailer{Store: st, Replies: replies, Origin: origin, Log: log, Quiet: 30 * time.Second,
		Tick: 5 * time.Second, MaxAttempts: 10, RetryBase: 30 * time.Second, Send: email.Send, kick: make(chan struct{}, 1)}
}

// Kick makes the mailer look now (a mail was queued).
func (m *Mailer) Kick() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Run scans and sends every Tick until ctx ends.
func (m *Mailer) Run(ctx context.Context) {
	t := time.NewTicker(m.Tick)
	defer t.Stop()
	for {
		if err := m.Scan(ctx); err != nil && ctx.Err() == nil {
			m.Log.Warn("mailer: finding what to mail failed; next try soon", "err", err)
		}
		if _, err := m.SendDue(ctx); err != nil && ctx.Err() == nil {
			m.Log.Warn("mailer: sending the queue failed; next try soon", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.kick:
		}
	}
}

// Scan queues the mails that new messages call for, in every workspace
// that has mail on.
func (m *Mailer) Scan(ctx context.Context) error {
	wss, err := m.Store.MailingWorkspaces(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ws := range wss {
		if err := m.scanWorkspace(ctx, ws); err != nil {
			errs = append(errs, fmt.Errorf("workspace %s: %w", ws, err))
		}
	}
	return errors.Join(errs...)
}

func (m *Mailer) scanWorkspace(ctx context.Context, ws string) error {
	sc := m.Store.Workspace(ws)
	settings, err := sc.EmailSettings(ctx)
	if err != nil {
		return err
	}
	convs, err := sc.Unmailed(ctx, time.Now().Add(-m.Quiet), 100)
	if err != nil {
		return err
	}
	for _, c := range convs {
		mails, upTo, err := m.compose(ctx, sc, settings, c)
		if err != nil {
			return err
		}
		err = sc.QueueMail(ctx, c.ID, c.MailedSeq, upTo, mails)
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}

// compose turns a conversation's unmailed messages into mails: visitor
// messages of an offline conversation to the team, agents' replies to a
// visitor who is not on the site. It returns the seq the cursor moves to.
func (m *Mailer) compose(ctx context.Context, sc *store.Scoped, es store.EmailSettings, c store.Conversation) ([]store.MailOut, int64, error) {
	msgs, err := sc.MessagesAfter(ctx, c.ID, c.MailedSeq, 200)
	if err != nil {
		return nil, 0, err
	}
	upTo := c.LastSeq
	if len(msgs) == 200 {
		upTo = msgs[len(msgs)-1].Seq
	}
	var fromVisitor, toVisitor []store.Message
	closedNow := false // the close notice is among the new messages
	for i, msg := range msgs {
		if msg.AuthorKind == protocol.AuthorSystem && msg.ClientID == closeNotice {
			if c.Status != protocol.ConversationClosed {
				// The notice is stored just before the conversation is
				// closed: look again once it is, so a missed chat is seen.
				msgs, upTo = msgs[:i], msg.Seq-1
				break
			}
			closedNow = true
		}
		switch {
		case msg.AuthorKind == protocol.AuthorVisitor:
			fromVisitor = append(fromVisitor, msg)
		case msg.AuthorKind == protocol.AuthorAgent && (msg.Audience == "" || msg.Audience == protocol.AudienceVisitor):
			// Only what the visitor would see in the chat: never an
			// agent-only note or notice.
			toVisitor = append(toVisitor, msg)
		}
	}
	missed := false
	if closedNow && c.AssignedAt == nil && c.AgentID == nil {
		var err error
		if missed, fromVisitor, err = unanswered(ctx, sc, c); err != nil {
			return nil, 0, err
		}
	}
	if len(fromVisitor) == 0 && len(toVisitor) == 0 {
		return nil, upTo, nil
	}
	site, err := sc.Site(ctx, c.SiteID)
	if err != nil {
		return nil, 0, err
	}
	visitor, err := sc.Visitor(ctx, c.VisitorID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, 0, err
	}
	var out []store.MailOut
	// The team hears of an offline message, or of a missed chat, with what
	// the visitor wrote.
	kind, what, subject, link := "", "", "", ""
	switch {
	case c.Status == protocol.ConversationOffline && len(fromVisitor) > 0:
		kind, what, subject, link = "offline", "left a message on %s while nobody was available.", "Offline message from ", "Answer it in Parley"
	case missed:
		kind, what, subject, link = "missed", "wrote on %s, waited in the queue and left before anyone answered.", "Missed chat from ", "See the conversation in Parley"
	}
	if team := TeamAddresses(es.TeamTo); kind != "" && len(team) > 0 {
		who := firstNonEmpty(c.ContactName, visitor.Name, "A visitor")
		var b strings.Builder
		fmt.Fprintf(&b, "%s "+what+"\n\n", who, site.Name)
		if addr := firstNonEmpty(c.ContactEmail, visitor.Email); addr != "" {
			fmt.Fprintf(&b, "Email: %s\n\n", addr)
		}
		for _, msg := range fromVisitor {
			fmt.Fprintf(&b, "%s\n\n", msg.Body)
		}
		fmt.Fprintf(&b, "%s: %s/app/#c=%s\n", link, m.Origin, c.ID)
		out = append(out, store.MailOut{ConversationID: c.ID, Kind: kind, ToAddress: strings.Join(team, ", "),
			Subject: subject + who + " on " + site.Name, Body: b.String()})
	}
	to := firstNonEmpty(c.ContactEmail, visitor.Email)
	if len(toVisitor) > 0 && to != "" && email.ValidAddress(to) && visitor.Presence != protocol.PresenceOnline {
		var b strings.Builder
		name := firstNonEmpty(c.ContactName, visitor.Name)
		if name != "" {
			fmt.Fprintf(&b, "Hello %s,\n\n", name)
		}
		for _, msg := range toVisitor {
			fmt.Fprintf(&b, "%s wrote:\n%s\n\n", firstNonEmpty(msg.AuthorName, site.Name), msg.Body)
		}
		reply := m.Replies.Address(c.ID)
		if reply != "" {
			b.WriteString("Reply to this email to answer; your reply reaches the same conversation.\n")
		}
		out = append(out, store.MailOut{ConversationID: c.ID, Kind: "reply", ToAddress: to, ReplyTo: reply,
			Subject: "New reply from " + site.Name, Body: b.String()})
	}
	return out, upTo, nil
}

// closeNotice is the client id of the system message a close stores
// (pkg/protocol: system messages' client ids).
const closeNotice = "sys:close"

// maxMissedMessages bounds what a missed chat's mail quotes.
const maxMissedMessages = 50

// unanswered reads a just-closed conversation that no agent ever had and
// says whether it is a missed chat: the visitor wrote and nobody (agent or
// assistant) answered, and it was not an offline message (the team was
// mailed that already). It returns the visitor's messages.
func unanswered(ctx context.Context, sc *store.Scoped, c store.Conversation) (bool, []store.Message, error) {
	if offline, err := sc.HasMail(ctx, c.ID, "offline"); err != nil || offline {
		return false, nil, err
	}
	all, err := sc.MessagesAfter(ctx, c.ID, 0, maxMissedMessages)
	if err != nil {
		return false, nil, err
	}
	var wrote []store.Message
	for _, msg := range all {
		switch msg.AuthorKind {
		case protocol.AuthorVisitor:
			wrote = append(wrote, msg)
		case protocol.AuthorAgent, protocol.AuthorAssistant:
			return false, nil, nil
		}
	}
	return len(wrote) > 0, wrote, nil
}

// TeamAddresses splits a comma-separated list into its valid addresses.
func TeamAddresses(list string) []string {
	var out []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); email.ValidAddress(a) {
			out = append(out, a)
		}
	}
	return out
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// SendDue sends the mails that are due, and returns how many went out.
func (m *Mailer) SendDue(ctx context.Context) (int, error) {
	now := time.Now().UTC()
	due, err := m.Store.ClaimMail(ctx, now, now.Add(2*time.Minute), 20)
	if err != nil {
		return 0, err
	}
	settings := map[string]*store.EmailSettings{}
	sent := 0
	for _, mo := range due {
		es, ok := settings[mo.WorkspaceID]
		if !ok {
			s, err := m.Store.Workspace(mo.WorkspaceID).EmailSettings(ctx)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return sent, err
			}
			if err == nil && s.Enabled {
				es = &s
			}
			settings[mo.WorkspaceID] = es
		}
		if es == nil {
			// Mail was turned off after it was queued: keep it, it goes
			// out if mail is turned on again within its retries.
			if err := m.retryLater(ctx, mo, now, "email is turned off for this workspace"); err != nil {
				return sent, err
			}
			continue
		}
		if err := m.send(ctx, *es, mo); err != nil {
			if errors.Is(err, email.ErrRefused) || errors.Is(err, email.ErrNoRecipient) {
				err = m.Store.MailFailed(ctx, mo.ID, now, nil, err.Error())
			} else {
				err = m.retryLater(ctx, mo, now, err.Error())
			}
			if err != nil {
				return sent, err
			}
			continue
		}
		if err := m.Store.MailSent(ctx, mo.ID, time.Now().UTC()); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}

// retryLater schedules the next try with exponential back-off (30 s, 1 min,
// 2 min … capped at 6 h, ±20% so that a fleet's retries spread), or fails
// the mail after MaxAttempts.
func (m *Mailer) retryLater(ctx context.Context, mo store.MailOut, now time.Time, reason string) error {
	if mo.Attempts+1 >= m.MaxAttempts {
		return m.Store.MailFailed(ctx, mo.ID, now, nil, reason)
	}
	wait := min(m.RetryBase<<mo.Attempts, 6*time.Hour)
	wait = time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
	next := now.Add(wait)
	return m.Store.MailFailed(ctx, mo.ID, now, &next, reason)
}

func (m *Mailer) send(ctx context.Context, es store.EmailSettings, mo store.MailOut) error {
	return m.SendNow(ctx, es, email.Message{
		From: mail.Address{Name: es.FromName, Address: es.FromAddress}, To: TeamAddresses(mo.ToAddress),
		ReplyTo: mo.ReplyTo, Subject: mo.Subject, Text: mo.Body,
	})
}

// SendNow sends msg through the SMTP server of es at once, not queued
// (the settings' test mail), within a minute.
func (m *Mailer) SendNow(ctx context.Context, es store.EmailSettings, msg email.Message) error {
	srv := ServerOf(es)
	if m.TLS != nil {
		srv = m.TLS(srv)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return m.Send(ctx, srv, msg)
}

// ServerOf is the SMTP server of a workspace's settings.
func ServerOf(es store.EmailSettings) email.Server {
	return email.Server{Host: es.Host, Port: es.Port, Security: email.Security(es.Security), Username: es.Username, Password: es.Password}
}

// SendInvite mails an invite link to a new agent at once, when the
// workspace has mail on; sent is false when it has not. The link holds the
// invite's token, which is stored nowhere (only its hash), so the mail is
// not queued: if it fails, the admin is told and shares the link.
func (m *Mailer) SendInvite(ctx context.Context, ws, to, workspace, inviter, role, link string) (sent bool, err error) {
	es, err := m.Store.Workspace(ws).EmailSettings(ctx)
	if errors.Is(err, store.ErrNotFound) || err == nil && !es.Enabled {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	text := fmt.Sprintf("%s invited you to answer chats for %s as %s.\n\nAccept the invite and choose your password here (the link works once, for 7 days):\n%s\n", inviter, workspace, role, link)
	err = m.SendNow(ctx, es, email.Message{
		From: mail.Address{Name: es.FromName, Address: es.FromAddress}, To: []string{to},
		Subject: inviter + " invited you to " + workspace + " on Parley", Text: text,
	})
	return err == nil, err
}

// Transcript errors.
var (
	ErrMailOff   = errors.New("email is off for this workspace")
	ErrNoAddress = errors.New("the visitor left no email address")
)

// maxTranscript bounds the messages a transcript mail holds.
const maxTranscript = 2000

// QueueTranscript queues a mail to a conversation's visitor, at the
// address they left (the offline or pre-chat form, else their verified
// identity's), with every message they saw in the chat; never notes or
// agent-only notices. It returns the address. The mail goes out with the
// queue's retries.
func (m *Mailer) QueueTranscript(ctx context.Context, sc *store.Scoped, convID string) (string, error) {
	c, err := sc.Conversation(ctx, convID)
	if err != nil {
		return "", err
	}
	es, err := sc.EmailSettings(ctx)
	if errors.Is(err, store.ErrNotFound) || err == nil && !es.Enabled {
		return "", ErrMailOff
	}
	if err != nil {
		return "", err
	}
	visitor, err := sc.Visitor(ctx, c.VisitorID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	to := firstNonEmpty(c.ContactEmail, visitor.Email)
	if to == "" || !email.ValidAddress(to) {
		return "", ErrNoAddress
	}
	site, err := sc.Site(ctx, c.SiteID)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Your chat with %s on %s (times in UTC):\n\n", site.Name, c.CreatedAt.UTC().Format("2 January 2006"))
	var after int64
	for n := 0; n < maxTranscript; {
		msgs, err := sc.MessagesAfter(ctx, c.ID, after, 200)
		if err != nil {
			return "", err
		}
		if len(msgs) == 0 {
			break
		}
		for _, msg := range msgs {
			after = msg.Seq
			if msg.Audience != "" && msg.Audience != protocol.AudienceVisitor {
				continue
			}
			who := firstNonEmpty(msg.AuthorName, site.Name)
			switch msg.AuthorKind {
			case protocol.AuthorVisitor:
				who = "You"
			case protocol.AuthorSystem:
				who = "—"
			}
			fmt.Fprintf(&b, "[%s] %s: %s\n", msg.CreatedAt.UTC().Format("2006-01-02 15:04"), who, msg.Body)
			n++
		}
	}
	mo := store.MailOut{ConversationID: c.ID, Kind: "transcript", ToAddress: to,
		Subject: "Your chat with " + site.Name, Body: b.String()}
	if err := sc.QueueMail(ctx, "", 0, 0, []store.MailOut{mo}); err != nil {
		return "", err
	}
	m.Kick()
	return to, nil
}
