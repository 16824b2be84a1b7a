package routing

import "errors"

// Sentinel errors. Functions wrap them with context; test with errors.Is.
var (
	// ErrOffline means no agent can take the conversation now: the site is
	// outside its business hours or no agent of the workspace is online. The
	// widget should show its offline form. Enqueue wraps it in ErrOutsideHours
	// or ErrNoAgentOnline, both of which also match ErrOffline.
	ErrOffline = errors.New("routing: offline")
	// ErrOutsideHours is ErrOffline because of the site's business hours.
	ErrOutsideHours = &offlineError{"routing: site is outside its business hours"}
	// ErrNoAgentOnline is ErrOffline because no agent is online.
	ErrNoAgentOnline = &offlineError{"routing: no agent is online"}

	// ErrInvalidRequest: a Request misses an id or has a negative priority.
	ErrInvalidRequest = errors.New("routing: invalid request")
	// ErrInvalidAgent: an Agent misses its id or has a capacity below zero.
	ErrInvalidAgent = errors.New("routing: invalid agent")
	// ErrInvalidRules: Rules or a Schedule that cannot be applied (unknown
	// mode, unknown time zone, intervals out of order...).
	ErrInvalidRules = errors.New("routing: invalid rules")
	// ErrUnknownAgent: the agent was never given to SetAgent (or removed).
	ErrUnknownAgent = errors.New("routing: unknown agent")
	// ErrUnknownConversation: the engine neither queues nor assigns it.
	ErrUnknownConversation = errors.New("routing: unknown conversation")
	// ErrAlreadyRouted: Enqueue or Adopt of a conversation the engine already
	// queues, offers or has assigned. Nothing changed.
	ErrAlreadyRouted = errors.New("routing: conversation is already queued or assigned")
	// ErrNoOffer: Accept or Decline of an offer that does not exist (any
	// more): it expired, was withdrawn, or went to another agent.
	ErrNoOffer = errors.New("routing: no such offer")
	// ErrNotOwner: a transfer by an agent that does not own the conversation.
	ErrNotOwner = errors.New("routing: agent does not own the conversation")
	// ErrNoAgentAvailable: a transfer found no agent that is online, eligible
	// and below capacity. The conversation stays with its owner.
	ErrNoAgentAvailable = errors.New("routing: no agent available")
)

// offlineError lets ErrOutsideHours and ErrNoAgentOnline stay distinct
// sentinels while errors.Is(err, ErrOffline) holds for both.
type offlineError struct{ msg string }

func (e *offlineError) Error() string        { return e.msg }
func (e *offlineError) Is(target error) bool { return target == ErrOffline }
