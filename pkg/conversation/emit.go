package conversation

import (
	"context"
	"time"

	"github.com/parleychat/parley/pkg/store"
)

// Events: what happened to a conversation, told to whoever listens outside
// (webhooks, pkg/service/webhooks.go) after it is stored. They are not the
// live protocol's frames, which go to connected clients over the bus.

// Event types.
const (
	EventConversationStarted  = "conversation.started"
	EventConversationAssigned = "conversation.assigned"
	EventConversationClosed   = "conversation.closed"
	EventMessageCreated       = "message.created"
	// EventContactCreated is emitted by whatever makes a contact (once
	// per contact; pkg/service/http_contacts.go).
	EventContactCreated = "contact.created"
	// EventCSATReceived is emitted by whatever stores a visitor's rating
	// (Emit, with the rating in Detail).
	EventCSATReceived = "csat.received"
)

// EventTypes lists every event type, in the order people read them.
var EventTypes = []string{EventConversationStarted, EventConversationAssigned, EventConversationClosed,
	EventMessageCreated, EventContactCreated, EventCSATReceived}

// Event is one thing that happened to a conversation.
type Event struct {
	Type         string
	WorkspaceID  string
	Conversation string
	At           time.Time
	// AgentID: the agent a conversation was assigned to.
	AgentID string
	// Message: the message created (opened).
	Message *store.Message
	// ContactID: the contact created (contact.created).
	ContactID string
	// Detail carries what an event type has beyond these (a rating).
	Detail map[string]any
}

// SetEvents makes the service call sink with every event after it is
// stored. sink runs in the caller's goroutine and must not block for
// long; call SetEvents before the service is used.
func (s *Service) SetEvents(sink func(context.Context, Event)) { s.events = sink }

// Emit tells the listener (SetEvents) about ev; ev.At defaults to now.
func (s *Service) Emit(ctx context.Context, ev Event) {
	s.observeForTranslation(ev) // a new message or assignment may need translating (translate.go)
	if s.events == nil {
		return
	}
	if ev.At.IsZero() {
		ev.At = s.now()
	}
	s.events(context.WithoutCancel(ctx), ev)
}
