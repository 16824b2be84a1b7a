package conversation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/routing"
	"github.com/parleychat/parley/pkg/store"
)

// node is where a workspace's conversations are routed: on this process's
// engine (*engineNode, the single binary's), or, with several signaling
// nodes, on the node that holds the workspace's lease (*leasedNode, which
// wraps an engineNode and forwards when another node holds the lease), as
// livekit's RedisRouter wraps its LocalRouter. The Router decides what to
// route; the node decides where.
type node interface {
	// enqueue asks for an agent for a queued conversation.
	enqueue(ctx context.Context, c store.Conversation)
	// release says a conversation ended.
	release(ctx context.Context, ws, convID string)
	// claimed says an agent claimed a conversation (store committed).
	claimed(ctx context.Context, ws, convID, agentID string)
	// changed re-reads what a conversation needs; c is the conversation
	// if the caller has it already.
	changed(ctx context.Context, ws, convID string, c *store.Conversation) error
	transfer(ctx context.Context, t routing.Transfer) error
	accept(ctx context.Context, ws, convID, agentID string) error
	decline(ctx context.Context, ws, convID, agentID string) error
	snapshot(ctx context.Context, ws string) (routing.Snapshot, error)
	// position is the last queue frame sent for a waiting conversation.
	position(ctx context.Context, ws, convID string) (protocol.Queue, bool)
	// offeredTo is the agent holding the conversation's offer, if any.
	offeredTo(convID string) string
	// loading runs while a workspace loads, before it counts as loaded;
	// loaded right after.
	loading(ctx context.Context, ws string) error
	loaded(ctx context.Context, ws string) error
	// tick runs at every routing tick with the workspaces loaded here.
	tick(ctx context.Context, spaces []string)
	close()
}

// engineNode routes conversations on this process's engine and carries
// out what the engine decides (events.go). It is the node of the single
// binary, and what a leasedNode does for the workspaces it holds.
type engineNode struct {
	eng    *routing.Engine
	st     *store.Store
	log    *slog.Logger
	notify notifier

	// spoken reports whether some agent of ws declares lang (the request
	// keeps its language only then).
	spoken func(ws, lang string) bool
	// warming reports, for a workspace loaded a moment ago, until when it
	// waits for other nodes' agents (see Router.warming).
	warming func(ws string) (until time.Time, ok bool)
	// share tells the other nodes about an offer (leasedNode); nil alone.
	share func(ctx context.Context, ws string, n offerNote)

	pendMu  sync.Mutex
	pending []routing.Event
	drainMu sync.Mutex

	mu        sync.Mutex
	positions map[string]protocol.Queue
	offers    map[string]string          // conversation → agent holding its offer
	online    map[string]map[string]bool // workspace → agents routing sees online (from its events)
	visitors  map[string]string          // queued conversation → its visitor, for queue frames
	held      map[string]held            // new conversation → waiting (for its first message, or for other nodes' agents)
}

func newEngineNode(st *store.Store, log *slog.Logger, notify notifier) *engineNode {
	return &engineNode{st: st, log: log, notify: notify,
		positions: map[string]protocol.Queue{}, offers: map[string]string{},
		online: map[string]map[string]bool{}, visitors: map[string]string{}, held: map[string]held{}}
}

// held is a new conversation whose routing waits, until a time at most.
type held struct {
	ws    string
	until time.Time
}

// collect is the engine's OnEvent: it runs under the engine's lock, so it
// only queues.
func (e *engineNode) collect(ev routing.Event) {
	e.pendMu.Lock()
	e.pending = append(e.pending, ev)
	e.pendMu.Unlock()
}

// drain carries out pending events in order. One drainer at a time; a
// caller that finds another draining waits, and then its own events have
// been handled.
func (e *engineNode) drain(ctx context.Context) {
	e.drainMu.Lock()
	defer e.drainMu.Unlock()
	for {
		e.pendMu.Lock()
		evs := e.pending
		e.pending = nil
		e.pendMu.Unlock()
		if len(evs) == 0 {
			return
		}
		for _, ev := range evs {
			e.handle(ctx, ev)
		}
	}
}

func (e *engineNode) request(c store.Conversation) routing.Request {
	req := requestOf(c)
	if !e.spoken(c.WorkspaceID, c.Language) {
		req.Language = ""
	}
	return req
}

// loading gives the engine the workspace's open assignments.
func (e *engineNode) loading(ctx context.Context, ws string) error {
	open, err := e.st.Workspace(ws).OpenAssignments(ctx)
	if err != nil {
		return err
	}
	for _, c := range open {
		if err := e.eng.Adopt(ws, requestOf(c), *c.AgentID, c.UpdatedAt); err != nil && !errors.Is(err, routing.ErrAlreadyRouted) {
			e.log.Warn("cannot adopt an assignment", "conversation", c.ID, "err", err)
		}
	}
	return nil
}

// loaded routes the workspace's waiting conversations, each with its
// original arrival time.
func (e *engineNode) loaded(ctx context.Context, ws string) error {
	queued, err := e.st.Workspace(ws).Queued(ctx)
	if err != nil {
		return err
	}
	for _, c := range queued {
		e.enqueue(ctx, c)
	}
	return nil
}

func (e *engineNode) tick(context.Context, []string) {}
func (e *engineNode) close()                         {}

// enqueue asks the engine for an agent; when nobody can take the
// conversation it becomes offline and the visitor is told.
func (e *engineNode) enqueue(ctx context.Context, c store.Conversation) {
	e.mu.Lock()
	e.visitors[c.ID] = c.VisitorID
	e.mu.Unlock()
	err := e.eng.Enqueue(ctx, e.request(c))
	switch {
	case err == nil, errors.Is(err, routing.ErrAlreadyRouted):
	case errors.Is(err, routing.ErrNoAgentOnline) && e.isWarming(c.WorkspaceID):
		// This node may not have heard the other nodes' agents yet.
		until, _ := e.warming(c.WorkspaceID)
		e.hold(c.ID, c.WorkspaceID, until)
	case errors.Is(err, routing.ErrOffline):
		var reopens time.Time
		if errors.Is(err, routing.ErrOutsideHours) {
			if site, err := e.st.Workspace(c.WorkspaceID).Site(ctx, c.SiteID); err == nil {
				if rules, err := RulesOf(site); err == nil && rules.Hours != nil {
					reopens = rules.Hours.NextOpen(time.Now())
				}
			}
		}
		e.offline(ctx, c.WorkspaceID, c.ID, err, reopens)
	default:
		e.log.Warn("cannot route conversation", "conversation", c.ID, "err", err)
	}
}

func (e *engineNode) isWarming(ws string) bool {
	_, ok := e.warming(ws)
	return ok
}

func (e *engineNode) hold(convID, ws string, until time.Time) {
	e.mu.Lock()
	e.held[convID] = held{ws: ws, until: until}
	e.mu.Unlock()
}

// unhold takes a conversation off hold; false if it was not held.
func (e *engineNode) unhold(convID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.held[convID]
	delete(e.held, convID)
	return ok
}

// due takes off hold the conversations held until before now: conversation
// → its workspace.
func (e *engineNode) due(now time.Time) map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]string{}
	for id, h := range e.held {
		if h.until.Before(now) {
			out[id] = h.ws
			delete(e.held, id)
		}
	}
	return out
}

func (e *engineNode) release(ctx context.Context, ws, convID string) {
	defer e.drain(ctx)
	e.forgetQueued(convID)
	if err := e.eng.Release(ctx, ws, convID); err != nil && !errors.Is(err, routing.ErrUnknownConversation) {
		e.log.Warn("routing release", "conversation", convID, "err", err)
	}
}

// claimed tells the engine that an agent claimed a conversation (store
// committed): out of the queue, counted against the agent.
func (e *engineNode) claimed(ctx context.Context, ws, convID, agentID string) {
	defer e.drain(ctx)
	// Out of the queue (a no-op if it was not there), then adopted.
	_ = e.eng.Release(ctx, ws, convID)
	if c, err := e.st.Workspace(ws).Conversation(ctx, convID); err == nil {
		if err := e.eng.Adopt(ws, e.request(c), agentID, time.Now()); err != nil {
			e.log.Warn("routing adopt after claim", "conversation", convID, "err", err)
		}
	}
	e.forgetQueued(convID)
}

func (e *engineNode) changed(ctx context.Context, ws, convID string, c *store.Conversation) error {
	defer e.drain(ctx)
	if c == nil {
		got, err := e.st.Workspace(ws).Conversation(ctx, convID)
		if err != nil {
			return mapErr(err)
		}
		c = &got
	}
	if err := e.eng.Update(ctx, e.request(*c)); err != nil && !errors.Is(err, routing.ErrUnknownConversation) {
		return err
	}
	return nil
}

func (e *engineNode) transfer(ctx context.Context, t routing.Transfer) error {
	defer e.drain(ctx)
	err := e.eng.Transfer(ctx, t)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, routing.ErrNotOwner):
		return fmt.Errorf("%w: %v", ErrForbidden, err)
	case errors.Is(err, routing.ErrUnknownConversation):
		return fmt.Errorf("%w: the conversation is not assigned", ErrNotFound)
	case errors.Is(err, routing.ErrUnknownAgent):
		return fmt.Errorf("%w: no such agent", ErrNotFound)
	case errors.Is(err, routing.ErrNoAgentAvailable):
		return fmt.Errorf("%w: %v", ErrNoAgentAvailable, err)
	case errors.Is(err, routing.ErrInvalidRequest):
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return err
}

func (e *engineNode) accept(ctx context.Context, ws, convID, agentID string) error {
	defer e.drain(ctx)
	return offerErr(e.eng.Accept(ctx, ws, convID, agentID))
}

func (e *engineNode) decline(ctx context.Context, ws, convID, agentID string) error {
	defer e.drain(ctx)
	return offerErr(e.eng.Decline(ctx, ws, convID, agentID))
}

func offerErr(err error) error {
	if errors.Is(err, routing.ErrNoOffer) {
		return fmt.Errorf("%w: %v", ErrNoOffer, err)
	}
	return err
}

func (e *engineNode) snapshot(ctx context.Context, ws string) (routing.Snapshot, error) {
	defer e.drain(ctx)
	return e.eng.Snapshot(ws), nil
}

func (e *engineNode) position(_ context.Context, _, convID string) (protocol.Queue, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q, ok := e.positions[convID]
	return q, ok
}

func (e *engineNode) offeredTo(convID string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.offers[convID]
}

func (e *engineNode) forgetQueued(convID string) {
	e.mu.Lock()
	delete(e.held, convID)
	delete(e.positions, convID)
	delete(e.visitors, convID)
	e.mu.Unlock()
}

// forget drops the workspace's conversations (another node routes them
// now) and carries out what that caused.
func (e *engineNode) forget(ctx context.Context, ws string) {
	snap := e.eng.Snapshot(ws)
	if err := e.eng.ForgetConversations(ws); err != nil {
		e.log.Warn("routing lease: cannot forget the conversations", "workspace", ws, "err", err)
	}
	e.mu.Lock()
	for _, w := range snap.Queue {
		delete(e.positions, w.ConversationID)
		delete(e.visitors, w.ConversationID)
		delete(e.offers, w.ConversationID)
	}
	e.mu.Unlock()
	e.drain(ctx)
}

// onlineCount is how many agents of ws routing sees online.
func (e *engineNode) onlineCount(ws string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.online[ws])
}

// errOr is err, or ErrRoutingUnavailable if a remote answer lacks what it
// should carry.
func errOr(err error) error { return cmp.Or(err, ErrRoutingUnavailable) }
