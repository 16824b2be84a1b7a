package routing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Config configures an Engine. The zero value works: real clock, an
// in-process MemoryAssigner, events dropped.
type Config struct {
	// Now is the clock (default time.Now). Tests pass a fake one.
	Now func() time.Time
	// Assigner is the authority on ownership (default NewMemoryAssigner()).
	Assigner Assigner
	// OnEvent receives every event. It is called synchronously, in order,
	// while the workspace's lock is held: it must return quickly and must not
	// call the Engine (that would deadlock). Hand events to a channel or a
	// bus. nil drops them.
	OnEvent func(Event)
	// PresenceGrace is how long an agent with no connection stays in its
	// status before it becomes offline (default 30s).
	PresenceGrace time.Duration
	// DefaultHandleTime is assumed for agents with no handled conversation
	// yet, in wait estimates (default 5m).
	DefaultHandleTime time.Duration
	// HandleTimeWeight is the weight of the newest handling time in an
	// agent's moving average, in (0, 1] (default 0.2).
	HandleTimeWeight float64
	// WaitStep rounds estimated waits up, so visitors get a new estimate only
	// when it moves by a step (default 15s).
	WaitStep time.Duration
}

// Engine routes conversations to agents for any number of workspaces. Each
// workspace has its own lock, so workspaces never wait for each other. All
// methods are safe for concurrent use.
//
// Every method that can change an assignment takes a context, passed on to
// the Assigner. Methods return errors for bad input and unknown ids; what
// happens as a consequence (assignments, offers, positions...) comes out as
// events through Config.OnEvent.
type Engine struct {
	cfg    Config
	mu     sync.RWMutex
	spaces map[string]*workspace
}

// New returns an Engine. It fails only on a Config that makes no sense.
func New(cfg Config) (*Engine, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Assigner == nil {
		cfg.Assigner = NewMemoryAssigner()
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func(Event) {}
	}
	if cfg.PresenceGrace == 0 {
		cfg.PresenceGrace = 30 * time.Second
	}
	if cfg.DefaultHandleTime == 0 {
		cfg.DefaultHandleTime = 5 * time.Minute
	}
	if cfg.HandleTimeWeight == 0 {
		cfg.HandleTimeWeight = 0.2
	}
	if cfg.WaitStep == 0 {
		cfg.WaitStep = 15 * time.Second
	}
	if cfg.PresenceGrace < 0 || cfg.DefaultHandleTime < 0 || cfg.WaitStep < 0 ||
		cfg.HandleTimeWeight < 0 || cfg.HandleTimeWeight > 1 {
		return nil, errors.New("routing: Config has a negative duration or a HandleTimeWeight outside (0, 1]")
	}
	return &Engine{cfg: cfg, spaces: map[string]*workspace{}}, nil
}

// with runs fn on the workspace under its lock, then delivers the events fn
// produced (and the queue positions that changed) before unlocking.
func (e *Engine) with(workspaceID string, fn func(w *workspace, now time.Time) error) error {
	if workspaceID == "" {
		return fmt.Errorf("%w: workspace id is empty", ErrInvalidRequest)
	}
	e.mu.RLock()
	w := e.spaces[workspaceID]
	e.mu.RUnlock()
	if w == nil {
		e.mu.Lock()
		if w = e.spaces[workspaceID]; w == nil {
			w = newWorkspace(workspaceID, &e.cfg)
			e.spaces[workspaceID] = w
		}
		e.mu.Unlock()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	err := fn(w, e.cfg.Now())
	w.flush()
	return err
}

// SetRules sets a site's routing rules; a site without rules gets the zero
// Rules (automatic, no relaxation, always open). New rules apply to the next
// decision; offers already out keep their expiry.
func (e *Engine) SetRules(workspaceID, siteID string, r Rules) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.RelaxAfter = slices.Clone(r.RelaxAfter)
	return e.with(workspaceID, func(w *workspace, now time.Time) error {
		w.rules[siteID] = r
		// Re-check hours and relaxation of everyone at the next Tick.
		delete(w.siteOpen, siteID)
		w.relaxDue = now
		return nil
	})
}

// SetAgent adds an agent or updates its profile: capacity, languages,
// skills, teams, and the status the agent chose. Load, IdleSince and
// MissedOffers are the engine's and are ignored. Lowering capacity below the
// current load takes no conversation away; the agent just gets none until
// below it again.
func (e *Engine) SetAgent(ctx context.Context, workspaceID string, a Agent) error {
	if a.ID == "" || a.Capacity < 0 || !a.Status.Valid() {
		return fmt.Errorf("%w: id %q, capacity %d, status %q", ErrInvalidAgent, a.ID, a.Capacity, a.Status)
	}
	return e.with(workspaceID, func(w *workspace, now time.Time) error {
		w.setAgent(ctx, a, now)
		return nil
	})
}

// RemoveAgent takes an agent out of routing (deleted account): it is treated
// as going offline, so its conversations go back to the queue.
func (e *Engine) RemoveAgent(ctx context.Context, workspaceID, agentID string) error {
	return e.with(workspaceID, func(w *workspace, now time.Time) error {
		st, ok := w.agents[agentID]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownAgent, agentID)
		}
		st.chosen = StatusOffline
		w.refresh(ctx, st, now, "agent removed")
		w.removeAgent(st)
		w.pump(ctx, now)
		return nil
	})
}

// SetStatus records the status the agent chose. Going offline sends the
// agent's conversations back to the queue; going away keeps them but takes
// no new ones.
func (e *Engine) SetStatus(ctx context.Context, workspaceID, agentID string, s Status) error {
	if !s.Valid() {
		return fmt.Errorf("%w: status %q", ErrInvalidAgent, s)
	}
	return e.with(workspaceID, func(w *workspace, now time.Time) error {
		st, ok := w.agents[agentID]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownAgent, agentID)
		}
		st.chosen = s
		w.refresh(ctx, st, now, "set by agent")
		w.pump(ctx, now)
		return nil
	})
}

// Connected records one more open connection (tab) of the agent. From the
// first call on, the agent's presence is tracked: with no connection for
// longer than Config.PresenceGrace it becomes offline (at the next Tick).
func (e *Engine) Connected(ctx context.Context, workspaceID, agentID string) error {
	return e.with(workspaceID, func(w *workspace, now time.Time) error {
		st, ok := w.agents[agentID]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownAgent, agentID)
		}
		st.tracked = true
		st.conns++
		st.lostAt = time.Time{}
		w.refresh(ctx, st, now, "reconnected")
		w.pump(ctx, now)
		return nil
	})
}

// Disconnected records that one connection of the agent closed. When the
// last one closes, the grace period starts.
func (e *Engine) Disconnected(ctx context.Context, workspaceID, agentID string) error {
	return e.with(workspaceID, func(w *workspace, now time.Time) error {
		st, ok := w.agents[agentID]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownAgent, agentID)
		}
		st.tracked = true
		if st.conns > 0 {
			st.conns--
		}
		if st.conns == 0 && st.lostAt.IsZero() {
			st.lostAt = now
		}
		return nil
	})
}

// Enqueue asks for an agent for a conversation. The answer comes as events:
// Assigned or Offered at once if an agent is free, otherwise a
// QueuePositions entry for it. It returns an error matching ErrOffline
// (ErrOutsideHours or ErrNoAgentOnline) when nobody can take it — the widget
// shows its offline form and nothing is queued — and ErrAlreadyRouted if the
// conversation is already queued or assigned.
func (e *Engine) Enqueue(ctx context.Context, req Request) error {
	if err := req.validate(); err != nil {
		return err
	}
	return e.with(req.WorkspaceID, func(w *workspace, now time.Time) error {
		return w.enqueue(ctx, req, now)
	})
}

// Update changes what a conversation needs (language detected from its first
// messages, a skill or team set by an agent, priority). A queued one is
// re-routed keeping its place in time; an assigned one keeps its agent and
// the new values are used by later transfers and requeues.
func (e *Engine) Update(ctx context.Context, req Request) error {
	if err := req.validate(); err != nil {
		return err
	}
	return e.with(req.WorkspaceID, func(w *workspace, now time.Time) error {
		req.Language = primaryLanguage(req.Language)
		if as, ok := w.owned[req.ConversationID]; ok {
			req.EnqueuedAt = as.req.EnqueuedAt
			as.req = req
			return nil
		}
		if !w.queue.Update(req) {
			return fmt.Errorf("%w: %s", ErrUnknownConversation, req.ConversationID)
		}
		w.queued(w.queue.items[req.ConversationID])
		w.pump(ctx, now)
		return nil
	})
}

// Adopt tells the engine about an assignment that already exists in the
// store (at start-up, or one made by another node), without claiming it;
// an Assigner that is a Restorer (MemoryAssigner) is told too. Adopt agents
// (SetAgent) first. The conversation counts against the agent's capacity
// even if that puts it above (it already is).
func (e *Engine) Adopt(workspaceID string, req Request, agentID string, since time.Time) error {
	req.WorkspaceID = workspaceID
	if err := req.validate(); err != nil {
		return err
	}
	return e.with(workspaceID, func(w *workspace, now time.Time) error {
		st, ok := w.agents[agentID]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownAgent, agentID)
		}
		if w.known(req.ConversationID) {
			return fmt.Errorf("%w: %s", ErrAlreadyRouted, req.ConversationID)
		}
		req.Language = primaryLanguage(req.Language)
		if r, ok := w.cfg.Assigner.(Restorer); ok {
			r.Restore(workspaceID, req.ConversationID, agentID)
		}
		w.owned[req.ConversationID] = &assignment{req: req, agent: agentID, since: since}
		w.change(st, func() { st.convs[req.ConversationID] = struct{}{} })
		return nil
	})
}

// Release says a conversation ended (closed by either side, or the visitor
// left while waiting). An assigned one frees its agent's capacity and its
// handling time feeds the wait estimates (event Released); a queued one
// leaves the queue; an offered one withdraws the offer.
func (e *Engine) Release(ctx context.Context, workspaceID, conversationID string) error {
	return e.with(workspaceID, func(w *workspace, now time.Time) error {
		if err := w.release(ctx, conversationID, now); err != nil {
			return err
		}
		w.pump(ctx, now)
		return nil
	})
}

// ForgetConversations drops every conversation of a workspace, queued,
// offered or owned, without asking the Assigner and without events; agents
// keep their profile, status, presence and handling times. A node calls it
// when another node takes over routing the workspace (see
// pkg/conversation's lease): the store still says who owns what, and the
// new router loads it from there.
func (e *Engine) ForgetConversations(workspaceID string) error {
	return e.with(workspaceID, func(w *workspace, now time.Time) error {
		for _, st := range w.agents {
			w.change(st, func() {
				clear(st.convs)
				st.phantom = 0
			})
		}
		w.queue = NewQueue(w.cfg.WaitStep)
		w.supply = map[Need]*supply{}
		w.offers = map[string]*offer{}
		w.owned = map[string]*assignment{}
		w.relaxDue = time.Time{}
		return nil
	})
}

// Accept takes an offer. It fails with ErrNoOffer if the offer expired, was
// withdrawn or is someone else's.
func (e *Engine) Accept(ctx context.Context, workspaceID, conversationID, agentID string) error {
	return e.with(workspaceID, func(w *workspace, now time.Time) error {
		return w.accept(conversationID, agentID, now)
	})
}

// Decline refuses an offer; the conversation goes to the next agent. A
// decline is an answer, so it does not count as a missed offer.
func (e *Engine) Decline(ctx context.Context, workspaceID, conversationID, agentID string) error {
	return e.with(workspaceID, func(w *workspace, now time.Time) error {
		of, ok := w.offers[conversationID]
		if !ok || of.agent != agentID {
			return fmt.Errorf("%w: %s for %s", ErrNoOffer, conversationID, agentID)
		}
		w.endOffer(ctx, of, "declined")
		w.pump(ctx, now)
		return nil
	})
}

// Transfer moves an assigned conversation to another agent or team.
type Transfer struct {
	WorkspaceID, ConversationID string
	// From is the agent handing over; it must own the conversation. Leave
	// it empty for a supervisor's reassignment (the server checks roles).
	From string
	// Exactly one of ToAgent and ToTeam is set. ToTeam picks the team's best
	// available agent (speaking the visitor's language first).
	ToAgent, ToTeam string
	Note            string
}

// Transfer moves a conversation atomically (Assigner.Move): it has one owner
// before and after, and the new agent must be online and below capacity,
// otherwise ErrNoAgentAvailable and nothing changes.
func (e *Engine) Transfer(ctx context.Context, t Transfer) error {
	if t.ConversationID == "" || (t.ToAgent == "") == (t.ToTeam == "") {
		return fmt.Errorf("%w: a transfer needs a conversation and exactly one of ToAgent, ToTeam", ErrInvalidRequest)
	}
	return e.with(t.WorkspaceID, func(w *workspace, now time.Time) error {
		return w.transfer(ctx, t, now)
	})
}

// Tick applies what time does: offers expire, agents whose connection has
// been gone longer than the grace period go offline, waiting conversations
// relax, sites close for the night, and failed assignments are retried.
// Call it about once a second.
func (e *Engine) Tick(ctx context.Context) {
	e.mu.RLock()
	ids := make([]string, 0, len(e.spaces))
	for id := range e.spaces {
		ids = append(ids, id)
	}
	e.mu.RUnlock()
	for _, id := range ids {
		_ = e.with(id, func(w *workspace, now time.Time) error {
			w.tick(ctx, now)
			return nil
		})
	}
}

// Snapshot is a copy of one workspace's routing state.
type Snapshot struct {
	Agents []Agent // sorted by ID, with effective status and load
	Queue  []Waiting
	Owners map[string]string // conversation → agent, assigned ones only
}

// Waiting is one queued conversation in a Snapshot, in fair order.
type Waiting struct {
	Request
	Level     Level
	Position  Position
	OfferedTo string // agent holding its offer, if any
}

// Snapshot returns a copy of a workspace's state, for dashboards and tests.
// Statuses returns the effective status of the given agents of a workspace
// (unknown agents are left out): a cheap Snapshot for presence.
func (e *Engine) Statuses(workspaceID string, ids []string) map[string]Status {
	out := make(map[string]Status, len(ids))
	_ = e.with(workspaceID, func(w *workspace, now time.Time) error {
		for _, id := range ids {
			if st, ok := w.agents[id]; ok {
				out[id] = st.Status
			}
		}
		return nil
	})
	return out
}

func (e *Engine) Snapshot(workspaceID string) Snapshot {
	var s Snapshot
	_ = e.with(workspaceID, func(w *workspace, now time.Time) error {
		s = w.snapshot()
		return nil
	})
	return s
}
