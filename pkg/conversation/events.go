package conversation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/routing"
	"github.com/parleychat/parley/pkg/store"
)

// What the engine decides, carried out: frames to clients, system
// messages, store updates. Engine events are collected while the engine
// holds its lock and carried out right after, by the caller that produced
// them, in order (engineNode.drain); so when a routing call returns, what
// it caused has been announced.

// notifier is what routing needs of the conversation service to tell
// clients: publications, conversation frames and system messages. The
// Service implements it; the router holds no *Service.
type notifier interface {
	publish(ctx context.Context, topic string, frame []byte)
	Changed(ctx context.Context, workspaceID, convID string)
	System(ctx context.Context, workspaceID, convID, clientID, audience, body string) error
	// announceConversation sends c, as read, to its visitor and the agents.
	announceConversation(ctx context.Context, sc *store.Scoped, c store.Conversation) error
	// tellJoined and tellTransferred tell a change of owner (announcer.go).
	tellJoined(ctx context.Context, workspaceID, convID, agentID string) error
	tellTransferred(ctx context.Context, workspaceID, convID string, id int64, toName, moved string) error
	// Emit tells outside listeners (webhooks) of an event (emit.go).
	Emit(ctx context.Context, ev Event)
	// takeOffline offers the site's assistant a conversation nobody can
	// take; true: the assistant took it (no offline form).
	takeOffline(ctx context.Context, workspaceID, convID string) bool
}

func (e *engineNode) handle(ctx context.Context, ev routing.Event) {
	switch ev := ev.(type) {
	case routing.Assigned:
		e.mu.Lock()
		_, offered := e.offers[ev.ConversationID]
		delete(e.offers, ev.ConversationID)
		e.mu.Unlock()
		if offered { // accepted
			e.shareOffer(ctx, ev.WorkspaceID, offerNote{Conv: ev.ConversationID, Ended: true})
		}
		e.forgetQueued(ev.ConversationID)
		reason := ev.Reason
		if ev.Translate {
			reason += " (needs translation)"
		}
		e.log.Info("routing: assigned", "conversation", ev.ConversationID, "agent", ev.AgentID, "level", ev.Level.String(), "reason", reason)
		e.joined(ctx, ev.WorkspaceID, ev.ConversationID, ev.AgentID, reason, ev.Summary)
	case routing.Offered:
		e.mu.Lock()
		e.offers[ev.ConversationID] = ev.AgentID
		e.mu.Unlock()
		e.log.Info("routing: offered", "conversation", ev.ConversationID, "agent", ev.AgentID, "expires", ev.Expires, "reason", ev.Reason)
		e.shareOffer(ctx, ev.WorkspaceID, offerNote{Conv: ev.ConversationID, Agent: ev.AgentID, Expires: ev.Expires})
		e.notify.publish(ctx, bus.AgentsTopic(ev.WorkspaceID), mustJSON(protocol.Offer{Envelope: protocol.Envelope{Type: protocol.TypeOffer},
			Conversation: ev.ConversationID, Agent: ev.AgentID, ExpiresAt: ev.Expires.UTC()}))
	case routing.OfferEnded:
		e.mu.Lock()
		if e.offers[ev.ConversationID] == ev.AgentID {
			delete(e.offers, ev.ConversationID)
		}
		e.mu.Unlock()
		e.log.Info("routing: offer ended", "conversation", ev.ConversationID, "agent", ev.AgentID, "why", ev.Why)
		e.shareOffer(ctx, ev.WorkspaceID, offerNote{Conv: ev.ConversationID, Agent: ev.AgentID, Ended: true})
		e.notify.publish(ctx, bus.AgentsTopic(ev.WorkspaceID), mustJSON(protocol.Offer{Envelope: protocol.Envelope{Type: protocol.TypeOffer},
			Conversation: ev.ConversationID, Agent: ev.AgentID, Ended: true, Why: ev.Why}))
	case routing.QueuePositions:
		e.positionsChanged(ctx, ev)
	case routing.Offline:
		e.offline(ctx, ev.WorkspaceID, ev.ConversationID, ev.Err, ev.Reopens)
	case routing.Relaxed:
		e.log.Info("routing: relaxed", "conversation", ev.ConversationID, "from", ev.From.String(), "to", ev.To.String(), "reason", ev.Reason)
		e.reason(ctx, ev.WorkspaceID, ev.ConversationID, "relaxed to "+ev.To.String()+": "+ev.Reason)
		e.tellRelaxed(ctx, ev)
	case routing.Requeued:
		e.log.Info("routing: requeued", "conversation", ev.ConversationID, "agent", ev.AgentID, "reason", ev.Reason)
		e.reason(ctx, ev.WorkspaceID, ev.ConversationID, "back in the queue: "+ev.Reason)
		e.notify.Changed(ctx, ev.WorkspaceID, ev.ConversationID)
	case routing.Transferred:
		e.transferred(ctx, ev)
	case routing.AgentStatusChanged:
		e.log.Info("routing: agent status", "agent", ev.AgentID, "status", string(ev.Status), "reason", ev.Reason)
		e.mu.Lock()
		if e.online[ev.WorkspaceID] == nil {
			e.online[ev.WorkspaceID] = map[string]bool{}
		}
		if ev.Status == routing.StatusOnline {
			e.online[ev.WorkspaceID][ev.AgentID] = true
		} else {
			delete(e.online[ev.WorkspaceID], ev.AgentID)
		}
		e.mu.Unlock()
		if strings.HasPrefix(ev.Reason, "missed") {
			if err := e.st.Workspace(ev.WorkspaceID).SetAgentStatus(ctx, ev.AgentID, string(ev.Status)); err != nil {
				e.log.Warn("cannot store the agent's status", "agent", ev.AgentID, "err", err)
			}
		}
	case routing.Lost:
		e.forgetQueued(ev.ConversationID)
		e.log.Info("routing: conversation taken elsewhere", "conversation", ev.ConversationID)
	case routing.AssignFailed:
		e.log.Warn("routing: the store refused an assignment; will retry", "conversation", ev.ConversationID, "agent", ev.AgentID, "err", ev.Err)
	}
}

// tellRelaxed tells the waiting visitor, in a system message, that the
// search for an agent widened, when it did widen for them (a step that
// drops a skill the conversation does not need changes nothing).
func (e *engineNode) tellRelaxed(ctx context.Context, ev routing.Relaxed) {
	from, to := ev.Request.Need(ev.From), ev.Request.Need(ev.To)
	var text string
	switch {
	case from.Language != to.Language:
		text = NoticeRelaxedLanguage
	case from.Skill != to.Skill || from.Team != to.Team:
		text = NoticeRelaxedSkill
	default:
		return
	}
	if err := e.notify.System(ctx, ev.WorkspaceID, ev.ConversationID, fmt.Sprintf("sys:relax:%d", ev.To), protocol.AudienceVisitor, text); err != nil {
		e.log.Warn("relaxation notice", "conversation", ev.ConversationID, "err", err)
	}
}

func (e *engineNode) reason(ctx context.Context, ws, convID, reason string) {
	if err := e.st.Workspace(ws).SetRoutingReason(ctx, convID, reason); err != nil {
		e.log.Warn("cannot store the routing reason", "conversation", convID, "err", err)
	}
}

// joined announces a new owner: the reason and the agents' summary of it
// are stored, the visitor and the agents see the conversation open, and a
// system message says who joined. The claim's commit wrote an
// announcement (store.Claim); it is deleted once told, else the
// announcer tells it again (announcer.go).
func (e *engineNode) joined(ctx context.Context, ws, convID, agentID, reason, summary string) {
	sc := e.st.Workspace(ws)
	if err := sc.SetAssignedWhy(ctx, convID, reason, summary); err != nil {
		e.log.Warn("cannot store the routing reason", "conversation", convID, "err", err)
	}
	e.notify.Emit(ctx, Event{Type: EventConversationAssigned, WorkspaceID: ws, Conversation: convID, AgentID: agentID})
	if err := e.notify.tellJoined(ctx, ws, convID, agentID); err != nil {
		e.log.Warn("join not told; the announcer tells it again", "conversation", convID, "err", err)
		return
	}
	if err := sc.Announced(ctx, 0, convID, store.AnnounceJoined, agentID); err != nil {
		e.log.Warn("join told, not marked so; the announcer tells it again", "conversation", convID, "err", err)
	}
}

func (e *engineNode) transferred(ctx context.Context, ev routing.Transferred) {
	sc := e.st.Workspace(ev.WorkspaceID)
	e.log.Info("routing: transferred", "conversation", ev.ConversationID, "from", ev.From, "to", ev.To, "reason", ev.Reason)
	name, from := agentName(ctx, sc, ev.To, "another agent"), agentName(ctx, sc, ev.From, "another agent")
	// The agents' notice and summary say who moved it: the agent handing
	// over, or a supervisor reassigning another agent's chat.
	moved := from + " transferred the chat to " + name
	summary := "transferred by " + from
	if ev.By == "" {
		moved = "A supervisor moved the chat from " + from + " to " + name
		summary = "reassigned by a supervisor from " + from
	}
	if ev.Summary != "" {
		summary += "; " + ev.Summary
	}
	if err := sc.UpdateTransferNote(ctx, ev.ConversationID, ev.Note, "transferred: "+ev.Reason, summary); err != nil {
		e.log.Warn("cannot store the transfer note", "conversation", ev.ConversationID, "err", err)
	}
	e.notify.Emit(ctx, Event{Type: EventConversationAssigned, WorkspaceID: ev.WorkspaceID, Conversation: ev.ConversationID, AgentID: ev.To})
	// The move's announcement (store.Move) names the notices, so the
	// announcer's retelling stores each once.
	a, err := sc.PendingAnnouncement(ctx, ev.ConversationID, store.AnnounceTransferred, ev.To)
	if err != nil {
		e.log.Warn("transfer not told; the announcer tells it", "conversation", ev.ConversationID, "err", err)
		return
	}
	if err := e.notify.tellTransferred(ctx, ev.WorkspaceID, ev.ConversationID, a.ID, name, moved); err != nil {
		e.log.Warn("transfer not told; the announcer tells it again", "conversation", ev.ConversationID, "err", err)
		return
	}
	if err := sc.Announced(ctx, a.ID, "", "", ""); err != nil {
		e.log.Warn("transfer told, not marked so; the announcer tells it again", "conversation", ev.ConversationID, "err", err)
	}
}

func (e *engineNode) positionsChanged(ctx context.Context, ev routing.QueuePositions) {
	sc := e.st.Workspace(ev.WorkspaceID)
	for _, p := range ev.Positions {
		q := protocol.Queue{Envelope: protocol.Envelope{Type: protocol.TypeQueue}, Conversation: p.ConversationID,
			Position: p.Position, EstimatedWaitSeconds: -1}
		if p.Wait != routing.UnknownWait {
			q.EstimatedWaitSeconds = int(p.Wait.Seconds())
		}
		e.mu.Lock()
		e.positions[p.ConversationID] = q
		visitor, ok := e.visitors[p.ConversationID]
		e.mu.Unlock()
		if !ok { // requeued: not seen since it was assigned
			c, err := sc.Conversation(ctx, p.ConversationID)
			if err != nil {
				continue
			}
			visitor = c.VisitorID
			e.mu.Lock()
			e.visitors[p.ConversationID] = visitor
			e.mu.Unlock()
		}
		e.notify.publish(ctx, bus.VisitorTopic(visitor), mustJSON(q))
	}
}

// offline turns a queued conversation that nobody can take into an
// offline one and tells its visitor, whose widget offers the offline form.
func (e *engineNode) offline(ctx context.Context, ws, convID string, why error, reopens time.Time) {
	e.forgetQueued(convID)
	if e.notify.takeOffline(ctx, ws, convID) {
		e.log.Info("routing: nobody available; the assistant answers", "conversation", convID, "reason", why)
		return
	}
	sc := e.st.Workspace(ws)
	reason := "no_agent"
	if errors.Is(why, routing.ErrOutsideHours) {
		reason = "outside_hours"
	}
	e.log.Info("routing: offline", "conversation", convID, "reason", why)
	if _, err := sc.SetOffline(ctx, convID, why.Error()); err != nil {
		e.log.Warn("cannot mark the conversation offline", "conversation", convID, "err", err)
	}
	c, err := sc.Conversation(ctx, convID)
	if err != nil {
		return
	}
	f := protocol.Offline{Envelope: protocol.Envelope{Type: protocol.TypeOffline}, Conversation: convID, Reason: reason}
	if !reopens.IsZero() {
		t := reopens.UTC()
		f.ReopensAt = &t
	}
	e.notify.publish(ctx, bus.VisitorTopic(c.VisitorID), mustJSON(f))
	e.notify.Changed(ctx, ws, convID)
}

// storeAssigner is the routing.Assigner on the store's tables: each
// operation is one transaction (see store.Scoped.Claim), on SQLite and on
// PostgreSQL alike.
type storeAssigner struct{ st *store.Store }

func claimResult(err error) (routing.ClaimResult, error) {
	switch {
	case err == nil:
		return routing.Claimed, nil
	case errors.Is(err, store.ErrAgentFull):
		return routing.AgentFull, nil
	case errors.Is(err, store.ErrConflict):
		return routing.ConversationTaken, nil
	}
	return routing.AgentFull, err
}

func (a storeAssigner) Claim(ctx context.Context, ws, conv, agent string, capacity int) (routing.ClaimResult, error) {
	return claimResult(a.st.Workspace(ws).Claim(ctx, conv, agent, capacity))
}

func (a storeAssigner) Move(ctx context.Context, ws, conv, from, to string, capacity int) (routing.ClaimResult, error) {
	return claimResult(a.st.Workspace(ws).Move(ctx, conv, from, to, capacity, ""))
}

func (a storeAssigner) Release(ctx context.Context, ws, conv, agent string) error {
	return a.st.Workspace(ws).Unassign(ctx, conv, agent)
}

// shareOffer tells the other nodes about an offer made or ended here,
// when there are others (leasedNode).
func (e *engineNode) shareOffer(ctx context.Context, ws string, n offerNote) {
	if e.share != nil {
		e.share(ctx, ws, n)
	}
}
