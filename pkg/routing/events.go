package routing

import "time"

// Event is something the server must act on: tell a visitor, tell an agent,
// persist, log. Events of one workspace are delivered in the order they
// happened (see Config.OnEvent).
type Event interface{ isEvent() }

// Assigned: the conversation now belongs to the agent (automatic assignment
// or an accepted offer). The Assigner has already recorded it. Summary is
// Decision.Summary, for the agents.
type Assigned struct {
	WorkspaceID, ConversationID, AgentID string
	Level                                Level
	Translate                            bool
	Reason, Summary                      string
}

// Offered: the agent may accept or decline until Expires (ModeOffer). The
// conversation counts against the agent's capacity meanwhile.
type Offered struct {
	WorkspaceID, ConversationID, AgentID string
	Expires                              time.Time
	Level                                Level
	Translate                            bool
	Reason                               string
}

// OfferEnded: an offer is over without being accepted. Why is "declined",
// "expired", "agent unavailable", "site offline" or "conversation ended".
type OfferEnded struct {
	WorkspaceID, ConversationID, AgentID string
	Why                                  string
}

// QueuePositions carries every waiting conversation whose position or
// estimated wait changed; conversations not listed did not change.
type QueuePositions struct {
	WorkspaceID string
	Positions   []Position
}

// Offline: a queued conversation left the queue because nobody can take it:
// Err is ErrOutsideHours or ErrNoAgentOnline (both match ErrOffline).
// Reopens is when business hours start again (zero if unknown). The widget
// shows its offline form.
type Offline struct {
	WorkspaceID, ConversationID string
	Err                         error
	Reopens                     time.Time
}

// Relaxed: a waiting conversation's requirements were widened. What it
// no longer needs is Request.Need(From) minus Request.Need(To).
type Relaxed struct {
	WorkspaceID, ConversationID string
	From, To                    Level
	Reason                      string
	Request                     Request
}

// Requeued: the conversation's agent went offline, so it is back in the
// queue, ahead of those who arrived after it.
type Requeued struct {
	WorkspaceID, ConversationID, AgentID string
	Reason                               string
}

// Released: an assigned conversation ended (Engine.Release); Handled is how
// long the agent had it, which feeds the wait estimates.
type Released struct {
	WorkspaceID, ConversationID, AgentID string
	Handled                              time.Duration
}

// Transferred: the conversation moved from one agent to another. By is
// Transfer.From: From handed it over, or, when empty, a supervisor
// reassigned it. Summary is Decision.Summary when routing chose the agent
// (a transfer to a team), else empty.
type Transferred struct {
	WorkspaceID, ConversationID, From, To, By string
	Note, Reason, Summary                     string
}

// AgentStatusChanged: an agent's effective status changed: set by the agent,
// by presence (connection lost for longer than the grace period), or by the
// engine (away after too many missed offers).
type AgentStatusChanged struct {
	WorkspaceID, AgentID string
	Status               Status
	Reason               string
}

// Lost: the Assigner said another node already assigned this conversation;
// this engine dropped it from its queue.
type Lost struct {
	WorkspaceID, ConversationID string
}

// AssignFailed: the Assigner returned an error. The conversation stays
// queued and the next Tick retries; log it.
type AssignFailed struct {
	WorkspaceID, ConversationID, AgentID string
	Err                                  error
}

func (Assigned) isEvent()           {}
func (Offered) isEvent()            {}
func (OfferEnded) isEvent()         {}
func (QueuePositions) isEvent()     {}
func (Offline) isEvent()            {}
func (Relaxed) isEvent()            {}
func (Requeued) isEvent()           {}
func (Released) isEvent()           {}
func (Transferred) isEvent()        {}
func (AgentStatusChanged) isEvent() {}
func (Lost) isEvent()               {}
func (AssignFailed) isEvent()       {}
