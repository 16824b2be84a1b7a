package conversation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/routing"
	"github.com/parleychat/parley/pkg/store"
)

// Router errors, besides ErrNotFound and ErrForbidden.
var (
	// ErrAtCapacity: the agent already has as many conversations as its
	// capacity allows.
	ErrAtCapacity = errors.New("agent is at capacity")
	// ErrNoAgentAvailable: a transfer found nobody online with free
	// capacity (in the team, or the agent named). Nothing changed.
	ErrNoAgentAvailable = errors.New("no agent available")
	// ErrNoOffer: accept or decline of an offer that is not (any more)
	// this agent's.
	ErrNoOffer = errors.New("no such offer")
	// ErrInvalid: bad routing settings or transfer request; the message
	// says what.
	ErrInvalid = errors.New("invalid")
)

// RoutingOptions tune the router. The zero value is production's.
type RoutingOptions struct {
	// PresenceGrace is how long an agent whose last connection closed keeps
	// its status (a page reload) before it is offline (default 30s).
	PresenceGrace time.Duration
	// TickEvery is how often offers expire, relaxations apply and business
	// hours are checked (default 1s).
	TickEvery time.Duration
	// Lease, with several nodes, makes one node at a time route each
	// workspace (see lease.go); nil: this node routes every workspace.
	Lease Lease
	// LeaseTTL is how long a lease lasts unless renewed (default 10s); it
	// is renewed at every tick.
	LeaseTTL time.Duration
}

// Router is the conversation service's routing front: it loads
// workspaces into pkg/routing's Engine (which decides, in memory), feeds it
// agents' presence (agents.go, presence.go), what a conversation needs
// (entry.go, language.go) and site rules (rules.go), and hands each
// conversation input to its node (node.go): the engineNode here, or under
// a Lease the leasedNode that forwards to the workspace's routing node.
// Every assignment is made true by the store's compare-and-set
// (store.Scoped.Claim / Move: conversation still queued, agent below
// capacity, in one transaction), so the store stays the authority on who
// owns what.
//
// What the engine decides is carried out (frames, system messages, store
// updates; events.go) right after, by the caller that produced it, in
// order; so when a Router method returns, what it caused has been
// announced. The Router tells clients through a notifier (the Service);
// it holds no *Service.
type Router struct {
	st     *store.Store
	eng    *routing.Engine
	log    *slog.Logger
	notify notifier

	// local routes conversations on this process's engine; node is local,
	// or, with a Lease, a leasedNode around it (see node.go).
	local *engineNode
	node  node

	mu        sync.Mutex
	loading   map[string]*sync.Mutex // workspace → held while it loads
	loaded    map[string]bool
	loadedAt  map[string]time.Time           // workspace → when it loaded here
	conns     map[string]int                 // workspace/agent → connections on this node
	seen      map[string]bool                // workspace/agent → has connected on this node
	languages map[string]map[string][]string // workspace → agent → declared languages (primary subtags)
	prechat   map[string]prechat             // visitor → what they chose before the first message
	detecting map[string]*detection          // conversation → its language detection so far

	id       string       // this node's id in presence announcements and leases
	presence Presence     // carries presence between nodes
	pres     remoteAgents // agents connected to other nodes

	every   time.Duration
	timerMu sync.Mutex
	timer   *time.Timer // the next tick; nil until a workspace loads
	stopped bool
}

// newRouter returns the router of a conversation service: notify is how
// it tells clients what routing did.
func newRouter(st *store.Store, b bus.Bus, log *slog.Logger, notify notifier, o RoutingOptions) *Router {
	r := &Router{
		st: st, log: log, notify: notify,
		loading: map[string]*sync.Mutex{}, loaded: map[string]bool{}, loadedAt: map[string]time.Time{},
		conns: map[string]int{}, seen: map[string]bool{},
		languages: map[string]map[string][]string{}, prechat: map[string]prechat{}, detecting: map[string]*detection{},
		id: uuid.NewString(), presence: presenceOf(b),
		pres:  remoteAgents{nodes: map[string]map[string]remoteNode{}, up: map[string]string{}},
		every: o.TickEvery,
	}
	r.pres.inbox = bus.NewSerial(r.applyPresence)
	if r.every <= 0 {
		r.every = time.Second
	}
	r.local = newEngineNode(st, log, notify)
	r.local.spoken, r.local.warming = r.languageSpoken, r.warming
	r.node = r.local
	if o.Lease != nil {
		ttl := o.LeaseTTL
		if ttl <= 0 {
			ttl = 10 * time.Second
		}
		r.node = newLeasedNode(r.local, b, log, r.id, o.Lease, ttl, r.forgetDetection)
	}
	eng, err := routing.New(routing.Config{
		Assigner:      storeAssigner{st},
		OnEvent:       r.local.collect,
		PresenceGrace: o.PresenceGrace,
	})
	if err != nil {
		panic(fmt.Sprintf("conversation: routing config: %v", err)) // only negative durations can fail
	}
	r.eng, r.local.eng = eng, eng
	return r
}

// startTicking schedules the engine's Tick every r.every once a workspace
// is loaded: offers expire, relaxations apply, presence grace ends. A timer
// rather than a goroutine, so nothing runs between ticks.
func (r *Router) startTicking() {
	r.timerMu.Lock()
	defer r.timerMu.Unlock()
	if r.timer == nil && !r.stopped {
		r.timer = time.AfterFunc(r.every, r.tick)
	}
}

func (r *Router) tick() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	r.node.tick(ctx, r.loadedSpaces())
	r.eng.Tick(ctx)
	r.releaseHeld(ctx, time.Now())
	r.presenceTick(ctx, time.Now())
	r.local.drain(ctx)
	cancel()
	r.timerMu.Lock()
	defer r.timerMu.Unlock()
	if !r.stopped {
		r.timer.Reset(r.every)
	}
}

// close stops the ticks.
func (r *Router) close() {
	r.timerMu.Lock()
	defer r.timerMu.Unlock()
	r.stopped = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.stopPresence()
	r.node.close()
}

func akey(ws, agent string) string { return ws + "/" + agent }

// ensure loads a workspace into the engine once: site rules, agents (online
// only once they connect here), existing assignments, and the queue.
func (r *Router) ensure(ctx context.Context, ws string) error {
	r.mu.Lock()
	if r.loaded[ws] {
		r.mu.Unlock()
		return nil
	}
	l := r.loading[ws]
	if l == nil {
		l = &sync.Mutex{}
		r.loading[ws] = l
	}
	r.mu.Unlock()
	l.Lock()
	defer l.Unlock()
	r.mu.Lock()
	done := r.loaded[ws]
	r.mu.Unlock()
	if done {
		return nil
	}
	sc := r.st.Workspace(ws)
	sites, err := sc.Sites(ctx)
	if err != nil {
		return err
	}
	for _, site := range sites {
		rules, err := RulesOf(site)
		if err != nil {
			r.log.Warn("site routing rules are invalid; using the defaults", "site", site.ID, "err", err)
		}
		if err := r.eng.SetRules(ws, site.ID, rules); err != nil {
			r.log.Warn("site routing rules refused", "site", site.ID, "err", err)
		}
	}
	agents, err := sc.Agents(ctx)
	if err != nil {
		return err
	}
	for _, a := range agents {
		if err := r.eng.SetAgent(ctx, ws, r.agentOf(a)); err != nil {
			r.log.Warn("agent not routable", "agent", a.ID, "err", err)
		}
	}
	if err := r.node.loading(ctx, ws); err != nil {
		return err
	}
	r.mu.Lock()
	r.loaded[ws] = true
	r.loadedAt[ws] = time.Now()
	r.mu.Unlock()
	r.subscribePresence(ctx, ws)
	r.startTicking()
	return r.node.loaded(ctx, ws)
}

func requestOf(c store.Conversation) routing.Request {
	return routing.Request{
		ConversationID: c.ID, WorkspaceID: c.WorkspaceID, SiteID: c.SiteID,
		Language: c.Language, Skill: c.Skill, Team: c.Team, Priority: max(c.Priority, 0),
		EnqueuedAt: c.CreatedAt,
	}
}

// loadedSpaces lists the workspaces loaded here.
func (r *Router) loadedSpaces() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var spaces []string
	for ws, ok := range r.loaded {
		if ok {
			spaces = append(spaces, ws)
		}
	}
	return spaces
}

// Queued routes a conversation that waits for an agent (new, or an
// offline one whose visitor came back). A new one whose widget locale no
// agent speaks waits for its first message first (see visitorWrote).
func (r *Router) Queued(ctx context.Context, ws, convID string) {
	defer r.local.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		r.log.Warn("routing cannot load the workspace", "workspace", ws, "err", err)
		return
	}
	c, err := r.st.Workspace(ws).Conversation(ctx, convID)
	if err != nil || c.Status != protocol.ConversationQueued {
		return
	}
	if c.LastSeq == 0 && r.needsWords(ws, c.Language) {
		// The widget starts a conversation with the visitor's first
		// message right behind: route after reading it, with its language.
		r.local.hold(c.ID, ws, time.Now().Add(holdFor))
		return
	}
	r.node.enqueue(ctx, c)
}

// holdFor bounds how long a new conversation waits for its first message
// before it is routed without a language.
const holdFor = 10 * time.Second

// releaseHeld routes conversations held until before now: what they waited
// for did not come.
func (r *Router) releaseHeld(ctx context.Context, now time.Time) {
	for id, ws := range r.local.due(now) {
		r.Queued(ctx, ws, id)
	}
}

// Released says a conversation ended: its agent has capacity again.
func (r *Router) Released(ctx context.Context, ws, convID string) {
	defer r.local.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return
	}
	r.forgetDetection(convID)
	r.node.release(ctx, ws, convID)
}

// Claim gives a queued or offline conversation to the agent who answers
// it, within the agent's capacity (ErrAtCapacity otherwise).
func (r *Router) Claim(ctx context.Context, agent Participant, convID string) error {
	ws := agent.WorkspaceID
	defer r.local.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return err
	}
	sc := r.st.Workspace(ws)
	a, err := sc.Agent(ctx, agent.ID)
	if err != nil {
		return mapErr(err)
	}
	// Out of the engine's queue first, so the engine does not claim it
	// for someone else meanwhile; the store decides who wins. (On a node
	// that does not route the workspace, the engine has no conversation.)
	_ = r.eng.Release(ctx, ws, convID)
	err = sc.Claim(ctx, convID, agent.ID, a.Capacity)
	if err != nil {
		if c, cerr := sc.Conversation(ctx, convID); cerr == nil && c.Status == protocol.ConversationQueued {
			r.node.enqueue(ctx, c) // still waiting: back in line with its time
		}
		if errors.Is(err, store.ErrAgentFull) {
			return fmt.Errorf("%w: %w", ErrForbidden, ErrAtCapacity)
		}
		return err
	}
	r.node.claimed(ctx, ws, convID, agent.ID)
	r.local.joined(ctx, ws, convID, agent.ID, "answered by "+agent.Name, "answered from the queue")
	return nil
}

// ConversationChanged re-reads what a conversation needs (language,
// skill, team, priority) after an agent set it.
func (r *Router) ConversationChanged(ctx context.Context, ws, convID string) error {
	defer r.local.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return err
	}
	return r.node.changed(ctx, ws, convID, nil)
}

// conversationChanged is ConversationChanged with the conversation read.
func (r *Router) conversationChanged(ctx context.Context, c store.Conversation) error {
	defer r.local.drain(ctx)
	if err := r.ensure(ctx, c.WorkspaceID); err != nil {
		return err
	}
	return r.node.changed(ctx, c.WorkspaceID, c.ID, &c)
}

// Availability says whether a new conversation on a site could reach an
// agent now.
type Availability struct {
	Online bool
	// Reason, when not Online: "no_agent" or "outside_hours".
	Reason string
	// Reopens is when business hours start again (zero if unknown).
	Reopens time.Time
}

// Availability reports whether a new conversation on the site could reach
// an agent now (business hours, and some agent online).
func (r *Router) Availability(ctx context.Context, ws, siteID string) (Availability, error) {
	if err := r.ensure(ctx, ws); err != nil {
		return Availability{}, err
	}
	site, err := r.st.Workspace(ws).Site(ctx, siteID)
	if err != nil {
		return Availability{}, mapErr(err)
	}
	rules, _ := RulesOf(site)
	now := time.Now()
	if rules.Hours != nil && !rules.Hours.Open(now) {
		return Availability{Reason: "outside_hours", Reopens: rules.Hours.NextOpen(now)}, nil
	}
	if r.local.onlineCount(ws) > 0 {
		return Availability{Online: true}, nil
	}
	return Availability{Reason: "no_agent"}, nil
}

// Transfer moves an open conversation to another agent (toAgent) or to the
// best available agent of a team (toTeam). from is the agent handing over;
// empty for a supervisor's reassignment.
func (r *Router) Transfer(ctx context.Context, ws, convID, from, toAgent, toTeam, note string) error {
	defer r.local.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return err
	}
	return r.node.transfer(ctx, routing.Transfer{WorkspaceID: ws, ConversationID: convID, From: from, ToAgent: toAgent, ToTeam: toTeam, Note: note})
}

// Accept takes an offer.
func (r *Router) Accept(ctx context.Context, ws, convID, agentID string) error {
	defer r.local.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return err
	}
	return r.node.accept(ctx, ws, convID, agentID)
}

// Decline refuses an offer; the conversation goes to the next agent.
func (r *Router) Decline(ctx context.Context, ws, convID, agentID string) error {
	defer r.local.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return err
	}
	return r.node.decline(ctx, ws, convID, agentID)
}

// Snapshot is the workspace's routing state, for the dashboard.
func (r *Router) Snapshot(ctx context.Context, ws string) (routing.Snapshot, error) {
	if err := r.ensure(ctx, ws); err != nil {
		return routing.Snapshot{}, err
	}
	return r.node.snapshot(ctx, ws)
}

// Position returns the last queue frame sent for a waiting conversation
// of workspace ws; the workspace's routing node is asked (within a second)
// when it is another node.
func (r *Router) Position(ctx context.Context, ws, convID string) (protocol.Queue, bool) {
	return r.node.position(ctx, ws, convID)
}

// offeredTo returns the agent holding the conversation's offer, if any.
func (r *Router) offeredTo(convID string) string { return r.node.offeredTo(convID) }
