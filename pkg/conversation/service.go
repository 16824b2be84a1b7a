// Package conversation is the life of a conversation: starting one, storing
// its messages under the delivery promise, fanning them out, resuming, and
// closing. Transports (WebSocket connections, relay data channels) call it;
// it does not know which one a participant uses.
//
// The delivery promise: Send stores a message in one transaction that assigns
// the next gap-free seq of its conversation and is idempotent on the client
// id; it returns the ack only after the commit; then it publishes the message
// on the bus. Receivers that miss a publication recover it from the store
// with History.
package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Sentinel errors. Anything else a method returns means the store failed and
// the request may be retried (the client resends with the same client id).
var (
	ErrNotFound  = errors.New("conversation not found")
	ErrClosed    = errors.New("conversation is closed")
	ErrForbidden = errors.New("not allowed")
	// ErrNotOwner is ErrForbidden for an agent who sends into or closes a
	// conversation another agent owns (see Participant.owns).
	ErrNotOwner = fmt.Errorf("%w: the conversation belongs to another agent", ErrForbidden)
)

// Participant is who acts: a visitor or an agent of a workspace.
type Participant struct {
	Kind        string // protocol.AuthorVisitor or protocol.AuthorAgent
	ID          string
	Name        string
	WorkspaceID string
	SiteID      string // visitors only
	Role        string // agents only
	// Session is the hash of the session an agent's live connection was
	// opened with (agents' connections only): signing out of that session
	// closes just its connections (pkg/service/revoke.go).
	Session string
}

// owns returns what a send or close by p requires of the conversation.
// The rule: a visitor acts in its own conversation; an agent in the one
// it owns, or in one that waits for an agent (answering takes it); a
// supervisor or admin in any conversation of the workspace, to step in
// for an agent (their messages carry their own name, and ownership does
// not move). So an agent who transferred a conversation away, or had it
// reassigned, may no longer write into it or close it.
func (p Participant) owns() store.Require {
	switch {
	case p.Kind == protocol.AuthorVisitor:
		return store.Require{Visitor: p.ID}
	case p.Role == "admin" || p.Role == "supervisor":
		return store.Require{}
	}
	return store.Require{Agent: p.ID}
}

// Author returns the protocol author for p.
func (p Participant) Author() protocol.Author {
	return protocol.Author{Kind: p.Kind, ID: p.ID, Name: p.Name}
}

// Service runs conversations. It is safe for concurrent use.
type Service struct {
	store  *store.Store
	bus    bus.Bus
	router *Router
	log    *slog.Logger
	now    func() time.Time

	// order serializes commit+publish per conversation, so a node publishes
	// a conversation's messages in seq order. The lock is held while the
	// commit waits for its batch (store group commit): enough stripes that
	// two busy conversations rarely share one and wait on each other.
	seed  maphash.Seed
	order [4096]sync.Mutex

	admit     func(ctx context.Context, p Participant) error // SetAdmit
	assistant Assistant                                      // SetAssistant

	snooze    *snoozer                            // inbox.go
	announcer *announcer                          // announcer.go
	events    func(ctx context.Context, ev Event) // SetEvents (events.go)
	tr        *TranslateOptions                   // SetTranslator (translate.go)
}

// Assistant is what the service asks of a site's assistant (pkg/service
// runs it): whether it takes a conversation, and that a visitor wrote in
// one it holds. Calls must not block for long; answering happens elsewhere.
type Assistant interface {
	// TakesNew reports whether the assistant answers a new conversation
	// of the site first (it then starts as ConversationAssistant, unrouted).
	TakesNew(ctx context.Context, workspaceID, siteID string) bool
	// TakeOffline is asked when routing finds nobody for a waiting
	// conversation: it reports whether the assistant took it instead of
	// the offline form.
	TakeOffline(ctx context.Context, workspaceID, convID string) bool
	// VisitorWrote: a visitor's message m in a conversation the assistant
	// holds.
	VisitorWrote(ctx context.Context, workspaceID string, m store.Message)
}

// SetAssistant gives the service a site assistant. Call it before the
// service is used.
func (s *Service) SetAssistant(a Assistant) { s.assistant = a }

// takeOffline implements notifier.
func (s *Service) takeOffline(ctx context.Context, ws, convID string) bool {
	return s.assistant != nil && s.assistant.TakeOffline(ctx, ws, convID)
}

// SetAdmit makes the service ask admit before it creates a conversation
// for a visitor (Start, LeaveMessage); admit's error refuses it and is
// returned as is (a *RateLimitedError: the server's limits on new
// conversations per visitor and per site). Call it before the service is
// used.
func (s *Service) SetAdmit(admit func(ctx context.Context, p Participant) error) { s.admit = admit }

func (s *Service) admitNew(ctx context.Context, p Participant) error {
	if s.admit == nil {
		return nil
	}
	return s.admit(ctx, p)
}

// RateLimitedError refuses an action over a rate limit; it may be tried
// again after RetryAfter.
type RateLimitedError struct {
	What       string // what was refused, for the message: "new conversations"
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many %s; try again in %d s", e.What, max(int(math.Ceil(e.RetryAfter.Seconds())), 1))
}

// Options configure a Service.
type Options struct {
	Store   *store.Store
	Bus     bus.Bus
	Logger  *slog.Logger
	Routing RoutingOptions
}

// New returns a Service. It routes with pkg/routing's engine, which ticks
// in a goroutine until Stop.
func New(o Options) *Service {
	s := &Service{store: o.Store, bus: o.Bus, log: o.Logger, now: func() time.Time { return time.Now().UTC() }, seed: maphash.MakeSeed()}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.router = newRouter(o.Store, o.Bus, s.log, s, o.Routing)
	s.snooze = newSnoozer()
	go s.runSnoozeTimer()
	s.announcer = newAnnouncer()
	go s.runAnnouncer()
	return s
}

// Router returns the router the service assigns conversations with.
func (s *Service) Router() *Router { return s.router }

// Stop stops the router's ticks, the snooze timer and the announcer, and
// gives up the router's leases.
func (s *Service) Stop() {
	s.router.close()
	s.snooze.close()
	s.announcer.close()
}

func (s *Service) lockConversation(id string) func() {
	m := &s.order[maphash.String(s.seed, id)%uint64(len(s.order))]
	m.Lock()
	return m.Unlock
}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, store.ErrClosed):
		return ErrClosed
	case errors.Is(err, store.ErrNotOwner):
		return ErrNotOwner
	}
	return err
}

// conversation loads a conversation the participant may see.
func (s *Service) conversation(ctx context.Context, p Participant, id string) (store.Conversation, error) {
	c, err := s.store.Workspace(p.WorkspaceID).Conversation(ctx, id)
	if err != nil {
		return c, mapErr(err)
	}
	if p.Kind == protocol.AuthorVisitor && c.VisitorID != p.ID {
		// Another visitor's conversation is reported as missing, not as
		// forbidden, so ids cannot be probed.
		return store.Conversation{}, ErrNotFound
	}
	return c, nil
}

// Visible lists the conversations a participant's client should know at
// hello: a visitor's recent ones, an agent's inbox.
func (s *Service) Visible(ctx context.Context, p Participant) ([]protocol.ConversationInfo, error) {
	sc := s.store.Workspace(p.WorkspaceID)
	var (
		cs  []store.Conversation
		err error
	)
	if p.Kind == protocol.AuthorVisitor {
		cs, err = sc.ConversationsOfVisitor(ctx, p.ID, store.VisitorRecent)
	} else {
		cs, err = sc.Inbox(ctx, p.ID, s.now().Add(-24*time.Hour))
	}
	if err != nil {
		return nil, err
	}
	return s.infos(ctx, sc, cs)
}

// CanSee reports whether p may see the conversation (for resume and typing).
func (s *Service) CanSee(ctx context.Context, p Participant, id string) error {
	_, err := s.conversation(ctx, p, id)
	return err
}

// Start returns the visitor's open conversation, creating (and routing) one
// when there is none. It is idempotent: a visitor has at most one conversation
// that is not closed.
func (s *Service) Start(ctx context.Context, p Participant, language string) (protocol.ConversationInfo, error) {
	return s.StartWith(ctx, p, language, Opening{}, nil)
}

// Opening is the proactive message a visitor answers by starting a
// conversation (protocol.AuthorProactive): who it is from (an agent's id
// and name, or the assistant's name with no id) and what it said.
type Opening struct {
	AuthorID, AuthorName, Body string
}

// openingClientID is the opening message's client id: one per conversation.
const openingClientID = "sys:proactive"

// StartWith is Start with watch called on the conversation's id before
// anything is published on it (its announcement, routing's join notice):
// a connection that subscribes in watch misses none of its first
// messages, instead of seeing a gap and resuming. An error from watch
// ends Start with it; the conversation stays, and the next Start returns it.
// A new conversation stores opening (when it has a Body) as its first
// message, before routing or the visitor's first message; an open one
// ignores it.
func (s *Service) StartWith(ctx context.Context, p Participant, language string, opening Opening, watch func(id string) error) (protocol.ConversationInfo, error) {
	if p.Kind != protocol.AuthorVisitor {
		return protocol.ConversationInfo{}, ErrForbidden
	}
	sc := s.store.Workspace(p.WorkspaceID)
	unlock := s.lockConversation("visitor:" + p.ID)
	c, err := sc.OpenConversationOf(ctx, p.ID)
	if errors.Is(err, store.ErrNotFound) {
		if err := s.admitNew(ctx, p); err != nil {
			unlock()
			return protocol.ConversationInfo{}, err
		}
		now := s.now()
		need := s.router.entryNeed(ctx, p)
		status := protocol.ConversationQueued
		if s.assistant != nil && s.assistant.TakesNew(ctx, p.WorkspaceID, p.SiteID) {
			status = protocol.ConversationAssistant
		}
		c, err = sc.CreateConversation(ctx, store.Conversation{
			ID: uuid.NewString(), SiteID: p.SiteID, VisitorID: p.ID, Status: status,
			Language: language, Skill: need.Skill, Team: need.Team, RoutingReason: need.Reason, CreatedAt: now, UpdatedAt: now,
		})
		unlock()
		if err != nil {
			return protocol.ConversationInfo{}, err
		}
		if watch != nil {
			if err := watch(c.ID); err != nil {
				return protocol.ConversationInfo{}, err
			}
		}
		if opening.Body != "" {
			// Without it the chat still works: the agent reads the
			// visitor's answer alone, as before proactive messages were kept.
			if _, err := s.append(ctx, p.WorkspaceID, store.Message{
				ConversationID: c.ID, ClientID: openingClientID, AuthorKind: protocol.AuthorProactive,
				AuthorID: opening.AuthorID, AuthorName: opening.AuthorName, Body: opening.Body,
			}, store.Require{}); err != nil {
				s.log.Warn("cannot store the proactive message", "conversation", c.ID, "err", err)
			} else if c2, err := sc.Conversation(ctx, c.ID); err == nil {
				c = c2
			}
		}
		info, err := s.info(ctx, sc, c)
		if err != nil {
			return info, err
		}
		s.announce(ctx, info, c.WorkspaceID)
		s.Emit(ctx, Event{Type: EventConversationStarted, WorkspaceID: p.WorkspaceID, Conversation: c.ID})
		if status == protocol.ConversationAssistant {
			return info, nil
		}
		s.router.Queued(ctx, p.WorkspaceID, c.ID)
		// Routing may have assigned it already: answer with the latest state.
		if c2, err := sc.Conversation(ctx, c.ID); err == nil {
			return s.info(ctx, sc, c2)
		}
		return info, nil
	}
	unlock()
	if err != nil {
		return protocol.ConversationInfo{}, err
	}
	if watch != nil {
		if err := watch(c.ID); err != nil {
			return protocol.ConversationInfo{}, err
		}
	}
	if c.Status == protocol.ConversationOffline {
		// The visitor is back: try the agents again.
		if ok, err := sc.Requeue(ctx, c.ID); err == nil && ok {
			s.router.Queued(ctx, p.WorkspaceID, c.ID)
			if c2, err := sc.Conversation(ctx, c.ID); err == nil {
				c = c2
			}
			s.Changed(ctx, p.WorkspaceID, c.ID)
		}
	}
	return s.info(ctx, sc, c)
}

// LeaveMessage stores a message a visitor left while nobody could chat (the
// widget's offline form), with the contact to answer: in the visitor's
// current conversation, or in a new offline one that agents see later. The
// message is stored under the delivery promise (idempotent on clientID).
func (s *Service) LeaveMessage(ctx context.Context, p Participant, clientID, name, email, body string) (protocol.ConversationInfo, error) {
	if p.Kind != protocol.AuthorVisitor {
		return protocol.ConversationInfo{}, ErrForbidden
	}
	if err := checkClientID(clientID); err != nil {
		return protocol.ConversationInfo{}, err
	}
	sc := s.store.Workspace(p.WorkspaceID)
	unlock := s.lockConversation("visitor:" + p.ID)
	c, err := sc.OpenConversationOf(ctx, p.ID)
	started := false
	if errors.Is(err, store.ErrNotFound) {
		if err := s.admitNew(ctx, p); err != nil {
			unlock()
			return protocol.ConversationInfo{}, err
		}
		now := s.now()
		c, err = sc.CreateConversation(ctx, store.Conversation{
			ID: uuid.NewString(), SiteID: p.SiteID, VisitorID: p.ID, Status: protocol.ConversationOffline,
			Language: "", CreatedAt: now, UpdatedAt: now, RoutingReason: "offline message",
		})
		started = err == nil
	}
	unlock()
	if err != nil {
		return protocol.ConversationInfo{}, err
	}
	if started {
		s.Emit(ctx, Event{Type: EventConversationStarted, WorkspaceID: p.WorkspaceID, Conversation: c.ID})
	}
	if err := sc.SetContact(ctx, c.ID, name, email); err != nil {
		return protocol.ConversationInfo{}, mapErr(err)
	}
	a, err := s.append(ctx, p.WorkspaceID, store.Message{
		ConversationID: c.ID, ClientID: clientID, AuthorKind: p.Kind, AuthorID: p.ID, AuthorName: p.Name, Body: body,
	}, store.Require{})
	if err != nil {
		return protocol.ConversationInfo{}, mapErr(err)
	}
	s.messageCreated(ctx, p.WorkspaceID, a)
	if c, err = sc.Conversation(ctx, c.ID); err != nil {
		return protocol.ConversationInfo{}, mapErr(err)
	}
	info, err := s.info(ctx, sc, c)
	if err == nil {
		s.announce(ctx, info, p.WorkspaceID)
	}
	return info, err
}

// Send stores a chat message and, after the commit, publishes it. The
// returned ack is the client's proof that the message is stored. A resend
// of a stored client id returns the original ack and publishes nothing.
//
// Who may send is checked by the append's own transaction (a visitor only
// in its conversation; an agent in a waiting one only once it took it,
// in a taken one only its owner, see Participant.owns):
// a read of the conversation before every message was the largest part of
// its cost, and on SQLite it queued behind the commits on the one
// connection.
func (s *Service) Send(ctx context.Context, p Participant, f protocol.Send) (protocol.Ack, error) {
	return s.send(ctx, p, f, nil)
}

// SendAttachment stores a message carrying a file whose bytes and row are
// committed already (pkg/service/http_attachments.go): the same promise
// and rules as Send, idempotent on f.ClientID; f.Body is the file's name.
func (s *Service) SendAttachment(ctx context.Context, p Participant, f protocol.Send, att protocol.Attachment) (protocol.Ack, error) {
	return s.send(ctx, p, f, &att)
}

func (s *Service) send(ctx context.Context, p Participant, f protocol.Send, att *protocol.Attachment) (protocol.Ack, error) {
	if err := checkClientID(f.ClientID); err != nil {
		return protocol.Ack{}, err
	}
	need := p.owns()
	need.Taken = p.Kind == protocol.AuthorAgent
	m := store.Message{ConversationID: f.Conversation, ClientID: f.ClientID, AuthorKind: p.Kind, AuthorID: p.ID, AuthorName: p.Name, Body: f.Body}
	if att != nil {
		m.Attachment = string(mustJSON(att))
	}
	a, err := s.append(ctx, p.WorkspaceID, m, need)
	if errors.Is(err, store.ErrWaiting) {
		// An agent who answers a waiting visitor (or an offline message)
		// takes the conversation.
		if err := s.router.Claim(ctx, p, f.Conversation); err != nil && !errors.Is(err, store.ErrConflict) {
			return protocol.Ack{}, mapErr(err)
		}
		need.Taken = false
		a, err = s.append(ctx, p.WorkspaceID, m, need)
	}
	if err != nil {
		return protocol.Ack{}, mapErr(err)
	}
	s.messageCreated(ctx, p.WorkspaceID, a)
	s.translateNew(ctx, p.WorkspaceID, a) // translate.go
	if p.Kind == protocol.AuthorVisitor {
		// The first messages may tell the visitor's language when the
		// widget's locale does not (after the ack is decided: it is cheap,
		// and costs a store write only when a language is found).
		c := store.Conversation{ID: a.ConversationID, WorkspaceID: p.WorkspaceID, VisitorID: p.ID,
			Status: a.Conversation.Status, Language: a.Conversation.Language, LastSeq: a.Seq - 1}
		if a.Duplicate {
			// A resend: the append read nothing; its first attempt's
			// caller may have left before this point.
			if c, err = s.store.Workspace(p.WorkspaceID).Conversation(ctx, a.ConversationID); err != nil {
				return ackOf(a), nil
			}
		}
		if att == nil { // a file's name tells neither language nor question
			s.router.visitorWrote(ctx, c, f.Body)
		}
		if a.Conversation.State != store.StateOpen {
			// The visitor wrote to a pending or snoozed conversation: it
			// needs its agent again.
			if reopened, err := s.store.Workspace(p.WorkspaceID).Reopen(ctx, a.ConversationID, s.now()); err != nil {
				s.log.Warn("reopen conversation", "conversation", a.ConversationID, "err", err)
			} else if reopened {
				s.Changed(ctx, p.WorkspaceID, a.ConversationID)
			}
		}
		if c.Status == protocol.ConversationAssistant && !a.Duplicate && s.assistant != nil && att == nil {
			s.assistant.VisitorWrote(ctx, p.WorkspaceID, a.Message)
		}
	}
	return ackOf(a), nil
}

// messageCreated emits message.created for a message stored now (a
// resend was told of when it was first stored).
func (s *Service) messageCreated(ctx context.Context, workspaceID string, a store.Appended) {
	if a.Duplicate {
		return
	}
	m := a.Message
	s.Emit(ctx, Event{Type: EventMessageCreated, WorkspaceID: workspaceID, Conversation: m.ConversationID, Message: &m})
}

// checkClientID refuses a client's message id in the system notices'
// namespace (protocol.SystemClientIDPrefix): stored first, it would make
// the notice a resend, never stored nor shown.
func checkClientID(id string) error {
	if strings.HasPrefix(id, protocol.SystemClientIDPrefix) {
		return fmt.Errorf("%w: client ids beginning with %q are the server's", ErrInvalid, protocol.SystemClientIDPrefix)
	}
	return nil
}

func ackOf(a store.Appended) protocol.Ack {
	return protocol.Ack{Envelope: protocol.Envelope{Type: protocol.TypeAck, Ref: a.ClientID}, ClientID: a.ClientID, Conversation: a.ConversationID, Seq: a.Seq}
}

// System stores a system message (joins, transfers, closes) in the
// conversation, with the same promise as a chat message. audience is ""
// when both sides may read body, else the one side it is worded for
// (protocol.AudienceVisitor or AudienceAgent).
func (s *Service) System(ctx context.Context, workspaceID, convID, clientID, audience, body string) error {
	_, err := s.append(ctx, workspaceID, store.Message{
		ConversationID: convID, ClientID: clientID, AuthorKind: protocol.AuthorSystem, AuthorID: "", AuthorName: "", Body: body,
		Audience: audience,
	}, store.Require{})
	return mapErr(err)
}

// AssistantSays stores the assistant's answer in the conversation, with
// the same promise as a chat message (idempotent on clientID, so an answer
// to a resent question is stored once), and the articles it came from.
func (s *Service) AssistantSays(ctx context.Context, workspaceID, convID, clientID, name, body string, sources []protocol.Source) error {
	src := ""
	if len(sources) > 0 {
		src = string(mustJSON(sources))
	}
	_, err := s.append(ctx, workspaceID, store.Message{
		ConversationID: convID, ClientID: clientID, AuthorKind: protocol.AuthorAssistant, AuthorName: name, Body: body, Sources: src,
	}, store.Require{})
	return mapErr(err)
}

// Publish sends a frame that is not stored (an assistant's draft) to a
// conversation's visitor.
func (s *Service) Publish(ctx context.Context, convID string, frame any) {
	s.publish(ctx, bus.ConversationTopic(convID), mustJSON(frame))
}

// append stores m and, unless it is a resend, publishes it: under the
// conversation's lock, so a node publishes a conversation's messages in seq
// order. Errors are the store's (store.ErrWaiting included).
func (s *Service) append(ctx context.Context, workspaceID string, m store.Message, need store.Require) (store.Appended, error) {
	unlock := s.lockConversation(m.ConversationID)
	defer unlock()
	a, err := s.store.Workspace(workspaceID).Append(ctx, m, need)
	if err != nil {
		return a, err
	}
	if !a.Duplicate {
		s.publishMessage(ctx, workspaceID, a.Message)
	}
	return a, nil
}

// publishMessage publishes a committed message to its conversation and
// the workspace's agents. A failed publish costs only latency: receivers
// resume from the store. It must not depend on the request's remaining
// time, nor on another read.
func (s *Service) publishMessage(ctx context.Context, workspaceID string, m store.Message) {
	frame := mustJSON(MessageFrame(m))
	pctx := context.WithoutCancel(ctx)
	s.publish(pctx, bus.ConversationTopic(m.ConversationID), frame)
	s.publish(pctx, bus.AgentsTopic(workspaceID), frame)
}

// MessageFrame renders a stored message as a protocol frame.
func MessageFrame(m store.Message) protocol.Message {
	var notice string
	var args []string
	if m.AuthorKind == protocol.AuthorSystem {
		notice, args = noticeOf(m.Body)
	}
	return protocol.Message{
		Envelope:     protocol.Envelope{Type: protocol.TypeMessage},
		Conversation: m.ConversationID, Seq: m.Seq, ClientID: m.ClientID,
		Author: protocol.Author{Kind: m.AuthorKind, ID: m.AuthorID, Name: m.AuthorName},
		Body:   m.Body, SentAt: m.CreatedAt, Audience: m.Audience, Sources: sourcesOf(m.Sources),
		Attachment: attachmentOf(m.Attachment), Notice: notice, Args: args,
	}
}

// attachmentOf reads a message's stored attachment (written by
// SendAttachment).
func attachmentOf(stored string) *protocol.Attachment {
	if stored == "" {
		return nil
	}
	var a protocol.Attachment
	if json.Unmarshal([]byte(stored), &a) != nil {
		return nil
	}
	return &a
}

// sourcesOf reads a message's stored sources (written by AssistantSays).
func sourcesOf(stored string) []protocol.Source {
	if stored == "" {
		return nil
	}
	var out []protocol.Source
	if json.Unmarshal([]byte(stored), &out) != nil {
		return nil
	}
	return out
}

// HistoryPage is how many messages History returns at most per call.
const HistoryPage = store.HistoryPage

// History returns up to HistoryPage messages after seq `after`, in order.
func (s *Service) History(ctx context.Context, p Participant, convID string, after int64) ([]protocol.Message, error) {
	c, err := s.conversation(ctx, p, convID)
	if err != nil {
		return nil, err
	}
	ms, err := s.store.Workspace(p.WorkspaceID).MessagesAfter(ctx, convID, after, HistoryPage)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.Message, len(ms))
	for i, m := range ms {
		out[i] = MessageFrame(m)
	}
	s.withTranslations(ctx, p, c, ms, out)
	return out, nil
}

// Read moves p's side's read cursor of the conversation to f.Seq (a read
// receipt) and, when it moved, tells both sides: the visitor's widgets and
// the workspace's agents. Any agent's reading counts as the agents'.
func (s *Service) Read(ctx context.Context, p Participant, f protocol.Read) error {
	c, err := s.conversation(ctx, p, f.Conversation)
	if err != nil {
		return err
	}
	side := protocol.AuthorAgent
	if p.Kind == protocol.AuthorVisitor {
		side = protocol.AuthorVisitor
	}
	moved, err := s.store.Workspace(p.WorkspaceID).MarkRead(ctx, c.ID, side, f.Seq)
	if err != nil || !moved {
		return mapErr(err)
	}
	frame := mustJSON(protocol.Read{Envelope: protocol.Envelope{Type: protocol.TypeRead}, Conversation: c.ID, Seq: f.Seq, Side: side})
	pctx := context.WithoutCancel(ctx)
	s.publish(pctx, bus.ConversationTopic(c.ID), frame)
	s.publish(pctx, bus.AgentsTopic(p.WorkspaceID), frame)
	return nil
}

// Typing relays a typing indicator to the other participants.
func (s *Service) Typing(ctx context.Context, p Participant, f protocol.Typing) error {
	c, err := s.conversation(ctx, p, f.Conversation)
	if err != nil {
		return err
	}
	a := p.Author()
	frame := mustJSON(protocol.Typing{Envelope: protocol.Envelope{Type: protocol.TypeTyping}, Conversation: c.ID, On: f.On, Author: &a})
	s.publish(ctx, bus.ConversationTopic(c.ID), frame)
	s.publish(ctx, bus.AgentsTopic(p.WorkspaceID), frame)
	return nil
}

// Close ends a conversation and frees its agent's capacity. Who may is
// Participant.owns, checked by the notice's append and again by the close
// itself: an agent who lost the conversation (a transfer, a reassignment)
// between the two gets ErrNotOwner and the chat stays open.
func (s *Service) Close(ctx context.Context, p Participant, convID string) error {
	c, err := s.conversation(ctx, p, convID)
	if err != nil {
		return err
	}
	if c.Status == protocol.ConversationClosed {
		return nil
	}
	who := "the visitor"
	if p.Kind == protocol.AuthorAgent {
		who = p.Name
	}
	// The notice goes in before the close: a closed conversation takes no
	// messages. Its client id makes a retried close store it once.
	need := p.owns()
	if _, err := s.append(ctx, p.WorkspaceID, store.Message{
		ConversationID: c.ID, ClientID: "sys:close", AuthorKind: protocol.AuthorSystem, Body: fmt.Sprintf("%s ended the chat", who),
	}, need); err != nil && !errors.Is(err, store.ErrClosed) {
		return mapErr(err)
	}
	sc := s.store.Workspace(p.WorkspaceID)
	if err := sc.CloseConversation(ctx, c.ID, need, s.now()); err != nil {
		return mapErr(err)
	}
	// Its report figures, once (store.ConversationStat); a failure leaves
	// them to the catch-up loop, and reports read the messages meanwhile.
	if _, err := sc.ComputeConversationStats(ctx, c.ID); err != nil {
		s.log.Warn("reports: cannot compute a closed conversation's figures", "conversation", c.ID, "err", err)
	}
	s.Changed(ctx, p.WorkspaceID, c.ID)
	s.Emit(ctx, Event{Type: EventConversationClosed, WorkspaceID: p.WorkspaceID, Conversation: c.ID})
	s.router.Released(ctx, p.WorkspaceID, c.ID)
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("conversation: encode %T: %v", v, err))
	}
	return b
}
