// Package call holds the rules of a call — a conversation's chat upgraded
// to a voice call or a screen share — apart from the connections, relays
// and nodes that carry it: its states (ringing → active → ended with a
// reason), who may do what in each state, and how each outcome is written
// into the conversation's history.
//
// It is pure: no I/O, no locks, no clock of its own. The signaling server
// (pkg/service, call.go and call_fleet.go) keeps one Call per call under
// its own lock, asks Decide or Dropped what an action means, applies the
// Outcome (media, frames, bus messages, timers), and moves the Call with
// Activate and End. Everything here is tested without Pion or a server.
package call

import (
	"fmt"
	"slices"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
)

// Role is what one connection is to a call.
type Role int

const (
	// Outsider: not in the call (another tab of the agent that was not
	// rung, a stranger's connection).
	Outsider Role = iota
	// Caller: the connection that started the call.
	Caller
	// Rung: a connection of the callee that rings and has not answered.
	Rung
	// Accepter: the callee's connection that accepted; with the caller,
	// it is in the active call.
	Accepter
)

func (r Role) String() string {
	switch r {
	case Caller:
		return "caller"
	case Rung:
		return "rung"
	case Accepter:
		return "accepter"
	}
	return "outsider"
}

// Op is what the server must do about an action.
type Op int

const (
	// Refuse: answer the action with an error frame (Code, Message).
	Refuse Op = iota
	// Connect: join the two sides' media, then Activate the call.
	Connect
	// Finish: End the call with Reason.
	Finish
	// SetMute: record the actor's mute state (Muted) and announce it.
	SetMute
	// Stay: nothing changes (a rung connection left while others ring).
	Stay
)

// Outcome is the decision about one action.
type Outcome struct {
	Op      Op
	Reason  string // Finish: protocol.CallReason*
	Muted   bool   // SetMute
	Code    string // Refuse: protocol.Code*
	Message string // Refuse
}

// The refusals, by what was wrong.
var (
	notRinging    = Outcome{Op: Refuse, Code: protocol.CodeForbidden, Message: "this call is not ringing here"}
	notCallee     = Outcome{Op: Refuse, Code: protocol.CodeForbidden, Message: "only the person being called can decline"}
	notInCall     = Outcome{Op: Refuse, Code: protocol.CodeForbidden, Message: "this connection is not in the call"}
	notInActive   = Outcome{Op: Refuse, Code: protocol.CodeForbidden, Message: "this connection is not in an active call"}
	unknownAction = Outcome{Op: Refuse, Code: protocol.CodeInvalid, Message: "unknown call action"}
)

func finish(reason string) Outcome { return Outcome{Op: Finish, Reason: reason} }

// Call is one call's state. The server guards it with its own lock.
type Call struct {
	ID, Conv, Workspace, Kind string
	Caller, Callee            protocol.Author
	State                     string    // protocol.CallRinging, CallActive, CallEnded
	Expires                   time.Time // when ringing turns into missed
	Started                   time.Time // when it became active
	Muted                     map[string]bool
}

// New returns a ringing call that rings until expires.
func New(id, conv, workspace, kind string, caller, callee protocol.Author, expires time.Time) *Call {
	return &Call{ID: id, Conv: conv, Workspace: workspace, Kind: kind, Caller: caller, Callee: callee,
		State: protocol.CallRinging, Expires: expires, Muted: map[string]bool{}}
}

// Decide says what action (protocol.CallAccept, CallDecline, CallHangUp,
// CallMute, CallUnmute) by a connection with role means in the call's
// current state. It changes nothing: the server applies the Outcome.
//
//	state    action    role              outcome
//	ringing  accept    rung              connect
//	ringing  decline   rung              end: declined
//	ringing  hangup    caller            end: cancelled
//	ringing  hangup    rung              end: declined
//	active   hangup    caller, accepter  end: hung_up
//	active   mute      caller, accepter  set mute
//	anything else                        refused (forbidden)
func (c *Call) Decide(action string, role Role) Outcome {
	ringing, active := c.State == protocol.CallRinging, c.State == protocol.CallActive
	inCall := role == Caller || role == Accepter
	switch action {
	case protocol.CallAccept:
		if ringing && role == Rung {
			return Outcome{Op: Connect}
		}
		return notRinging
	case protocol.CallDecline:
		if ringing && role == Rung {
			return finish(protocol.CallReasonDeclined)
		}
		return notCallee
	case protocol.CallHangUp:
		switch {
		case ringing && role == Caller:
			return finish(protocol.CallReasonCancelled)
		case ringing && role == Rung:
			return finish(protocol.CallReasonDeclined)
		case active && inCall:
			return finish(protocol.CallReasonHungUp)
		}
		return notInCall
	case protocol.CallMute, protocol.CallUnmute:
		if active && inCall {
			return Outcome{Op: SetMute, Muted: action == protocol.CallMute}
		}
		return notInActive
	}
	return unknownAction
}

// Dropped says what a connection with role leaving the call (its socket
// or relay peer closed) means; othersRing: some other connection of the
// callee still rings (on this node or another).
func (c *Call) Dropped(role Role, othersRing bool) Outcome {
	ringing := c.State == protocol.CallRinging
	switch {
	case c.State == protocol.CallEnded || role == Outsider:
		return Outcome{Op: Stay}
	case role == Caller && ringing:
		return finish(protocol.CallReasonCancelled)
	case role == Caller || role == Accepter:
		return finish(protocol.CallReasonDropped)
	case ringing && !othersRing:
		return finish(protocol.CallReasonMissed)
	}
	return Outcome{Op: Stay}
}

// Activate moves a ringing call to active at now; false if it was not
// ringing (it ended meanwhile: the server drops the media it connected).
func (c *Call) Activate(now time.Time) bool {
	if c.State != protocol.CallRinging {
		return false
	}
	c.State, c.Started = protocol.CallActive, now
	return true
}

// End ends the call; wasActive says whether it had been answered, ok
// whether it was still under way (a call ends once).
func (c *Call) End() (wasActive, ok bool) {
	if c.State == protocol.CallEnded {
		return false, false
	}
	wasActive = c.State == protocol.CallActive
	c.State = protocol.CallEnded
	return wasActive, true
}

// SetMuted records whether participant id is muted.
func (c *Call) SetMuted(id string, muted bool) { c.Muted[id] = muted }

// MutedIDs lists the muted participants, sorted.
func (c *Call) MutedIDs() []string {
	var out []string
	for id, m := range c.Muted {
		if m {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Label names the call's kind for people.
func Label(kind string) string {
	if kind == protocol.CallScreen {
		return "Screen share"
	}
	return "Voice call"
}

// StartedRecord is the history line written when the call is answered.
func (c *Call) StartedRecord() string {
	return fmt.Sprintf("%s started: %s called %s", Label(c.Kind), c.Caller.Name, c.Callee.Name)
}

// EndRecord is the history line written when the call ends for reason at
// now (by: who ended it, nil for a timeout or a drop).
func (c *Call) EndRecord(reason string, wasActive bool, by *protocol.Author, now time.Time) string {
	label := Label(c.Kind)
	switch reason {
	case protocol.CallReasonDeclined:
		return fmt.Sprintf("%s from %s declined", label, c.Caller.Name)
	case protocol.CallReasonMissed:
		return fmt.Sprintf("%s from %s not answered", label, c.Caller.Name)
	case protocol.CallReasonCancelled:
		return fmt.Sprintf("%s from %s cancelled before an answer", label, c.Caller.Name)
	case protocol.CallReasonDropped:
		if !wasActive {
			return fmt.Sprintf("%s from %s could not connect", label, c.Caller.Name)
		}
		return fmt.Sprintf("%s dropped (connection lost) after %s", label, Duration(now.Sub(c.Started)))
	}
	who := "a participant"
	if by != nil {
		who = by.Name
	}
	return fmt.Sprintf("%s ended by %s after %s", label, who, Duration(now.Sub(c.Started)))
}

// Duration renders a call's length as m:ss (h:mm:ss past an hour).
func Duration(d time.Duration) string {
	sec := int(d.Round(time.Second) / time.Second)
	if sec >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
	}
	return fmt.Sprintf("%d:%02d", sec/60, sec%60)
}

// Frame renders the call's state for one connection: incoming (it is the
// callee's), send (the mids it sends its media on, while active), the
// ended call's reason and who ended it.
func (c *Call) Frame(state string, incoming bool, send []string, reason string, by *protocol.Author, now time.Time) protocol.CallState {
	f := protocol.CallState{Envelope: protocol.Envelope{Type: protocol.TypeCallState}, Conversation: c.Conv, ID: c.ID, Kind: c.Kind,
		State: state, Caller: c.Caller, Reason: reason, By: by}
	switch state {
	case protocol.CallRinging:
		f.Incoming = incoming
		exp := c.Expires
		f.ExpiresAt = &exp
	case protocol.CallActive:
		f.Send = send
		started := c.Started
		f.StartedAt = &started
		f.Muted = c.MutedIDs()
	case protocol.CallEnded:
		if !c.Started.IsZero() {
			f.DurationSeconds = int(now.Sub(c.Started).Round(time.Second) / time.Second)
		}
	}
	return f
}
