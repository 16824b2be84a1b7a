package conversation

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/langdetect"
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

// Router routes conversations with pkg/routing's Engine. The engine decides
// in memory; every assignment is made true by the store's compare-and-set
// (store.Scoped.Claim / Move: conversation still queued, agent below
// capacity, in one transaction), so the store stays the authority on who
// owns what.
//
// Engine events are collected while the engine holds its lock and carried
// out (frames, system messages, store updates) right after, by the caller
// that produced them, in order; so when a Router method returns, what it
// caused has been announced.
type Router struct {
	svc *Service
	eng *routing.Engine
	log *slog.Logger

	pendMu  sync.Mutex
	pending []routing.Event
	drainMu sync.Mutex

	mu        sync.Mutex
	loading   map[string]*sync.Mutex // workspace → held while it loads
	loaded    map[string]bool
	conns     map[string]int  // workspace/agent → connections on this node
	seen      map[string]bool // workspace/agent → has connected on this node
	positions map[string]protocol.Queue
	offers    map[string]string // conversation → agent holding its offer
	// remoteOffers are offers the workspace's routing node made, when it
	// is another node (see lease.go).
	remoteOffers map[string]remoteOffer
	languages    map[string]map[string][]string // workspace → agent → declared languages (primary subtags)
	online       map[string]map[string]bool     // workspace → agents routing sees online (from its events)
	visitors     map[string]string              // queued conversation → its visitor, for queue frames
	prechat      map[string]prechat             // visitor → what they chose before the first message
	detecting    map[string]*detection          // conversation → its language detection so far
	held         map[string]held                // new conversation → waiting (for its first message, or for other nodes' agents)
	loadedAt     map[string]time.Time           // workspace → when it loaded here

	node string   // this node's id in presence announcements and leases
	pres presence // agents connected to other nodes

	lease    Lease
	leaseTTL time.Duration
	ls       leases

	every   time.Duration
	timerMu sync.Mutex
	timer   *time.Timer // the next tick; nil until a workspace loads
	stopped bool
}

func newRouter(s *Service, o RoutingOptions) *Router {
	r := &Router{
		svc: s, log: s.log,
		loading: map[string]*sync.Mutex{}, loaded: map[string]bool{},
		conns: map[string]int{}, seen: map[string]bool{},
		positions: map[string]protocol.Queue{}, offers: map[string]string{}, remoteOffers: map[string]remoteOffer{},
		languages: map[string]map[string][]string{}, online: map[string]map[string]bool{}, visitors: map[string]string{},
		prechat: map[string]prechat{}, detecting: map[string]*detection{}, held: map[string]held{}, loadedAt: map[string]time.Time{},
		node: uuid.NewString(), pres: presence{nodes: map[string]map[string]remoteNode{}, up: map[string]string{}},
		every: o.TickEvery,
		lease: o.Lease, leaseTTL: o.LeaseTTL,
		ls: leases{holding: map[string]time.Time{}, tried: map[string]time.Time{}, unsub: map[string]func(){}},
	}
	r.pres.inbox = bus.NewSerial(r.applyPresence)
	r.ls.inbox = bus.NewSerial(r.applyInputs)
	if r.every <= 0 {
		r.every = time.Second
	}
	if r.leaseTTL <= 0 {
		r.leaseTTL = 10 * time.Second
	}
	eng, err := routing.New(routing.Config{
		Assigner:      storeAssigner{s.store},
		OnEvent:       r.collect,
		PresenceGrace: o.PresenceGrace,
	})
	if err != nil {
		panic(fmt.Sprintf("conversation: routing config: %v", err)) // only negative durations can fail
	}
	r.eng = eng
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
	r.leaseTick(ctx)
	r.eng.Tick(ctx)
	r.releaseHeld(ctx, time.Now())
	r.presenceTick(ctx, time.Now())
	r.drain(ctx)
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
	r.releaseLeases()
}

func akey(ws, agent string) string { return ws + "/" + agent }

// collect is the engine's OnEvent: it runs under the engine's lock, so it
// only queues.
func (r *Router) collect(ev routing.Event) {
	r.pendMu.Lock()
	r.pending = append(r.pending, ev)
	r.pendMu.Unlock()
}

// drain carries out pending events in order. One drainer at a time; a
// caller that finds another draining waits, and then its own events have
// been handled.
func (r *Router) drain(ctx context.Context) {
	r.drainMu.Lock()
	defer r.drainMu.Unlock()
	for {
		r.pendMu.Lock()
		evs := r.pending
		r.pending = nil
		r.pendMu.Unlock()
		if len(evs) == 0 {
			return
		}
		for _, ev := range evs {
			r.handle(ctx, ev)
		}
	}
}

// --- loading ------------------------------------------------------------------

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
	sc := r.svc.store.Workspace(ws)
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
	if r.lease == nil {
		if err := r.adoptOpen(ctx, ws); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.loaded[ws] = true
	r.loadedAt[ws] = time.Now()
	r.mu.Unlock()
	r.subscribePresence(ctx, ws)
	r.hearOffers(ws)
	r.startTicking()
	if r.lease == nil {
		return r.enqueueQueued(ctx, ws)
	}
	r.renewLease(ctx, ws) // the node that takes it loads the conversations
	return nil
}

// adoptOpen gives the engine the workspace's open assignments.
func (r *Router) adoptOpen(ctx context.Context, ws string) error {
	open, err := r.svc.store.Workspace(ws).OpenAssignments(ctx)
	if err != nil {
		return err
	}
	for _, c := range open {
		if err := r.eng.Adopt(ws, requestOf(c), *c.AgentID, c.UpdatedAt); err != nil && !errors.Is(err, routing.ErrAlreadyRouted) {
			r.log.Warn("cannot adopt an assignment", "conversation", c.ID, "err", err)
		}
	}
	return nil
}

// enqueueQueued routes the workspace's waiting conversations, each with
// its original arrival time.
func (r *Router) enqueueQueued(ctx context.Context, ws string) error {
	queued, err := r.svc.store.Workspace(ws).Queued(ctx)
	if err != nil {
		return err
	}
	for _, c := range queued {
		r.enqueue(ctx, c)
	}
	return nil
}

// agentOf is the engine's view of a stored agent: offline until it has
// connected to this node.
func (r *Router) agentOf(a store.Agent) routing.Agent {
	var langs []string
	for _, l := range store.SplitList(a.Languages) {
		langs = append(langs, routingLanguage(l))
	}
	r.mu.Lock()
	seen := r.seen[akey(a.WorkspaceID, a.ID)]
	if r.languages[a.WorkspaceID] == nil {
		r.languages[a.WorkspaceID] = map[string][]string{}
	}
	r.languages[a.WorkspaceID][a.ID] = langs
	r.mu.Unlock()
	st := routing.StatusOffline
	if seen && routing.Status(a.Status).Valid() {
		st = routing.Status(a.Status)
	}
	return routing.Agent{ID: a.ID, Status: st, Capacity: max(a.Capacity, 0),
		Languages: store.SplitList(a.Languages), Skills: store.SplitList(a.Skills), Teams: store.SplitList(a.Teams)}
}

func requestOf(c store.Conversation) routing.Request {
	return routing.Request{
		ConversationID: c.ID, WorkspaceID: c.WorkspaceID, SiteID: c.SiteID,
		Language: c.Language, Skill: c.Skill, Team: c.Team, Priority: max(c.Priority, 0),
		EnqueuedAt: c.CreatedAt,
	}
}

// RulesOf reads a site's stored routing settings.
func RulesOf(site store.Site) (routing.Rules, error) {
	rules := routing.Rules{Mode: routing.Mode(site.RoutingMode), MaxMisses: max(site.MaxMisses, 0),
		OfferTimeout: time.Duration(max(site.OfferTimeoutSeconds, 0)) * time.Second}
	if rules.Mode == "" {
		rules.Mode = routing.ModeAuto
	}
	for _, p := range store.SplitList(site.RelaxAfter) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return routing.Rules{}, fmt.Errorf("%w: relax_after %q is not a list of seconds", ErrInvalid, site.RelaxAfter)
		}
		rules.RelaxAfter = append(rules.RelaxAfter, time.Duration(n)*time.Second)
	}
	if strings.TrimSpace(site.BusinessHours) != "" {
		h, err := ParseHours(site.BusinessHours, site.TimeZone)
		if err != nil {
			return routing.Rules{}, err
		}
		rules.Hours = h
	}
	if err := rules.Validate(); err != nil {
		return routing.Rules{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return rules, nil
}

// Weekdays are the keys of a business-hours JSON object, by time.Weekday.
var Weekdays = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseHours reads business hours: a JSON object from weekday ("mon") to a
// list of "HH:MM-HH:MM" intervals, local time in zone (IANA, "" = UTC). A
// day that is missing is closed.
func ParseHours(js, zone string) (*routing.Schedule, error) {
	var days map[string][]string
	if err := json.Unmarshal([]byte(js), &days); err != nil {
		return nil, fmt.Errorf("%w: business hours must be a JSON object like {\"mon\":[\"09:00-17:00\"]}: %v", ErrInvalid, err)
	}
	var week [7][]routing.Interval
	for day, ivs := range days {
		d := slices.Index(Weekdays[:], strings.ToLower(day))
		if d < 0 {
			return nil, fmt.Errorf("%w: business hours: unknown day %q (use sun, mon, ..., sat)", ErrInvalid, day)
		}
		for _, s := range ivs {
			iv, err := routing.ParseInterval(s)
			if err != nil {
				return nil, fmt.Errorf("%w: business hours %s: %v", ErrInvalid, day, err)
			}
			week[d] = append(week[d], iv)
		}
	}
	h, err := routing.NewSchedule(zone, week)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return h, nil
}

// --- what the service tells the router ------------------------------------------

// languageSpoken reports whether some agent of the workspace declares the
// visitor's language. A language nobody declares is not a requirement:
// agents without languages take every conversation.
func (r *Router) languageSpoken(ws, lang string) bool {
	if lang == "" {
		return false
	}
	lang = routingLanguage(lang)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, langs := range r.languages[ws] {
		if slices.Contains(langs, lang) {
			return true
		}
	}
	return false
}

func routingLanguage(tag string) string {
	tag = strings.TrimSpace(tag)
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	return strings.ToLower(tag)
}

func (r *Router) request(c store.Conversation) routing.Request {
	req := requestOf(c)
	if !r.languageSpoken(c.WorkspaceID, c.Language) {
		req.Language = ""
	}
	return req
}

// enqueue asks the engine for an agent; when nobody can take the
// conversation it becomes offline and the visitor is told.
func (r *Router) enqueue(ctx context.Context, c store.Conversation) {
	if !r.holder(ctx, c.WorkspaceID) {
		r.forward(ctx, c.WorkspaceID, routingInput{Op: opEnqueue, Conv: c.ID})
		return
	}
	r.mu.Lock()
	r.visitors[c.ID] = c.VisitorID
	r.mu.Unlock()
	err := r.eng.Enqueue(ctx, r.request(c))
	switch {
	case err == nil, errors.Is(err, routing.ErrAlreadyRouted):
	case errors.Is(err, routing.ErrNoAgentOnline) && r.warming(c.WorkspaceID):
		// This node may not have heard the other nodes' agents yet.
		r.mu.Lock()
		r.held[c.ID] = held{ws: c.WorkspaceID, until: r.loadedAt[c.WorkspaceID].Add(presenceWarmup)}
		r.mu.Unlock()
	case errors.Is(err, routing.ErrOffline):
		var reopens time.Time
		if errors.Is(err, routing.ErrOutsideHours) {
			if site, err := r.svc.store.Workspace(c.WorkspaceID).Site(ctx, c.SiteID); err == nil {
				if rules, err := RulesOf(site); err == nil && rules.Hours != nil {
					reopens = rules.Hours.NextOpen(time.Now())
				}
			}
		}
		r.offline(ctx, c.WorkspaceID, c.ID, err, reopens)
	default:
		r.log.Warn("cannot route conversation", "conversation", c.ID, "err", err)
	}
}

// Queued routes a conversation that waits for an agent (new, or an
// offline one whose visitor came back). A new one whose widget locale no
// agent speaks waits for its first message first (see visitorWrote).
func (r *Router) Queued(ctx context.Context, ws, convID string) {
	defer r.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		r.log.Warn("routing cannot load the workspace", "workspace", ws, "err", err)
		return
	}
	c, err := r.svc.store.Workspace(ws).Conversation(ctx, convID)
	if err != nil || c.Status != protocol.ConversationQueued {
		return
	}
	if c.LastSeq == 0 && r.needsWords(ws, c.Language) {
		// The widget starts a conversation with the visitor's first
		// message right behind: route after reading it, with its language.
		r.mu.Lock()
		r.held[c.ID] = held{ws: ws, until: time.Now().Add(holdFor)}
		r.mu.Unlock()
		return
	}
	r.enqueue(ctx, c)
}

// held is a new conversation whose routing waits, until a time at most.
type held struct {
	ws    string
	until time.Time
}

// holdFor bounds how long a new conversation waits for its first message
// before it is routed without a language.
const holdFor = 10 * time.Second

// needsWords reports whether a conversation with the widget locale lang
// should wait for the visitor's words before routing: agents of the
// workspace declare languages, but none speaks lang.
func (r *Router) needsWords(ws, lang string) bool {
	if r.languageSpoken(ws, lang) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, langs := range r.languages[ws] {
		if len(langs) > 0 {
			return true
		}
	}
	return false
}

// unhold takes a conversation off hold; false if it was not held.
func (r *Router) unhold(convID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.held[convID]
	delete(r.held, convID)
	return ok
}

// releaseHeld routes conversations held until before now: what they waited
// for did not come.
func (r *Router) releaseHeld(ctx context.Context, now time.Time) {
	r.mu.Lock()
	var due []held
	var ids []string
	for id, h := range r.held {
		if h.until.Before(now) {
			due, ids = append(due, h), append(ids, id)
			delete(r.held, id)
		}
	}
	r.mu.Unlock()
	for i, h := range due {
		r.Queued(ctx, h.ws, ids[i])
	}
}

// Released says a conversation ended: its agent has capacity again.
func (r *Router) Released(ctx context.Context, ws, convID string) {
	defer r.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return
	}
	r.forgetQueued(convID)
	r.mu.Lock()
	delete(r.detecting, convID)
	r.mu.Unlock()
	if !r.holder(ctx, ws) {
		r.forward(ctx, ws, routingInput{Op: opRelease, Conv: convID})
		return
	}
	if err := r.eng.Release(ctx, ws, convID); err != nil && !errors.Is(err, routing.ErrUnknownConversation) {
		r.log.Warn("routing release", "conversation", convID, "err", err)
	}
}

// Claim gives a queued or offline conversation to the agent who answers
// it, within the agent's capacity (ErrAtCapacity otherwise).
func (r *Router) Claim(ctx context.Context, agent Participant, convID string) error {
	ws := agent.WorkspaceID
	defer r.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return err
	}
	sc := r.svc.store.Workspace(ws)
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
			r.enqueue(ctx, c) // still waiting: back in line with its time
		}
		if errors.Is(err, store.ErrAgentFull) {
			return fmt.Errorf("%w: %w", ErrForbidden, ErrAtCapacity)
		}
		return err
	}
	if r.holder(ctx, ws) {
		r.claimed(ctx, ws, convID, agent.ID)
	} else {
		r.forgetQueued(convID)
		r.forward(ctx, ws, routingInput{Op: opClaimed, Conv: convID, Agent: agent.ID})
	}
	r.joined(ctx, ws, convID, agent.ID, "answered by "+agent.Name, "answered from the queue")
	return nil
}

// claimed tells the engine that an agent claimed a conversation (store
// committed): out of the queue, counted against the agent.
func (r *Router) claimed(ctx context.Context, ws, convID, agentID string) {
	defer r.drain(ctx)
	// Out of the queue (a no-op if it was not there), then adopted.
	_ = r.eng.Release(ctx, ws, convID)
	if c, err := r.svc.store.Workspace(ws).Conversation(ctx, convID); err == nil {
		if err := r.eng.Adopt(ws, r.request(c), agentID, time.Now()); err != nil {
			r.log.Warn("routing adopt after claim", "conversation", convID, "err", err)
		}
	}
	r.forgetQueued(convID)
}

func (r *Router) agentConnected(ctx context.Context, a store.Agent) {
	defer r.drain(ctx)
	if err := r.ensure(ctx, a.WorkspaceID); err != nil {
		r.log.Warn("routing cannot load the workspace", "workspace", a.WorkspaceID, "err", err)
		return
	}
	k := akey(a.WorkspaceID, a.ID)
	r.mu.Lock()
	first := !r.seen[k]
	r.seen[k] = true
	r.conns[k]++
	r.mu.Unlock()
	if first {
		if err := r.eng.SetAgent(ctx, a.WorkspaceID, r.agentOf(a)); err != nil {
			r.log.Warn("agent not routable", "agent", a.ID, "err", err)
			return
		}
	}
	if err := r.eng.Connected(ctx, a.WorkspaceID, a.ID); err != nil {
		r.log.Warn("routing presence", "agent", a.ID, "err", err)
	}
	if first {
		r.announce(ctx, a.WorkspaceID, presenceNote{})
	}
}

func (r *Router) agentDisconnected(ctx context.Context, ws, agentID string) {
	defer r.drain(ctx)
	k := akey(ws, agentID)
	r.mu.Lock()
	if r.conns[k] > 0 {
		r.conns[k]--
	}
	last := r.conns[k] == 0
	r.mu.Unlock()
	if err := r.eng.Disconnected(ctx, ws, agentID); err != nil && !errors.Is(err, routing.ErrUnknownAgent) {
		r.log.Warn("routing presence", "agent", agentID, "err", err)
	}
	if last {
		r.announce(ctx, ws, presenceNote{})
	}
}

func (r *Router) setStatus(ctx context.Context, ws, agentID, status string) {
	defer r.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return
	}
	if err := r.eng.SetStatus(ctx, ws, agentID, routing.Status(status)); err != nil {
		r.log.Warn("routing status", "agent", agentID, "err", err)
	}
	r.announce(ctx, ws, presenceNote{})
}

// AgentChanged re-reads an agent's profile (capacity, languages, skills,
// teams) after an edit, here and on the other nodes.
func (r *Router) AgentChanged(ctx context.Context, ws, agentID string) error {
	err := r.reloadAgent(ctx, ws, agentID)
	if err == nil {
		r.announce(ctx, ws, presenceNote{Profile: agentID})
	}
	return err
}

func (r *Router) reloadAgent(ctx context.Context, ws, agentID string) error {
	defer r.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return err
	}
	a, err := r.svc.store.Workspace(ws).Agent(ctx, agentID)
	if err != nil {
		return mapErr(err)
	}
	return r.eng.SetAgent(ctx, ws, r.agentOf(a))
}

// SiteChanged re-reads a site's routing rules after an edit, here and on
// the other nodes.
func (r *Router) SiteChanged(ctx context.Context, ws, siteID string) error {
	err := r.reloadSite(ctx, ws, siteID)
	if err == nil {
		r.announce(ctx, ws, presenceNote{Site: siteID})
	}
	return err
}

func (r *Router) reloadSite(ctx context.Context, ws, siteID string) error {
	defer r.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return err
	}
	site, err := r.svc.store.Workspace(ws).Site(ctx, siteID)
	if err != nil {
		return mapErr(err)
	}
	rules, err := RulesOf(site)
	if err != nil {
		return err
	}
	return r.eng.SetRules(ws, siteID, rules)
}

// ConversationChanged re-reads what a conversation needs (language,
// skill, team, priority) after an agent set it.
func (r *Router) ConversationChanged(ctx context.Context, ws, convID string) error {
	defer r.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return err
	}
	if !r.holder(ctx, ws) {
		r.forward(ctx, ws, routingInput{Op: opChanged, Conv: convID})
		return nil
	}
	c, err := r.svc.store.Workspace(ws).Conversation(ctx, convID)
	if err != nil {
		return mapErr(err)
	}
	return r.update(ctx, c)
}

// conversationChanged is ConversationChanged with the conversation read.
func (r *Router) conversationChanged(ctx context.Context, c store.Conversation) error {
	defer r.drain(ctx)
	if err := r.ensure(ctx, c.WorkspaceID); err != nil {
		return err
	}
	if !r.holder(ctx, c.WorkspaceID) {
		r.forward(ctx, c.WorkspaceID, routingInput{Op: opChanged, Conv: c.ID})
		return nil
	}
	return r.update(ctx, c)
}

func (r *Router) update(ctx context.Context, c store.Conversation) error {
	if err := r.eng.Update(ctx, r.request(c)); err != nil && !errors.Is(err, routing.ErrUnknownConversation) {
		return err
	}
	return nil
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
	site, err := r.svc.store.Workspace(ws).Site(ctx, siteID)
	if err != nil {
		return Availability{}, mapErr(err)
	}
	rules, _ := RulesOf(site)
	now := time.Now()
	if rules.Hours != nil && !rules.Hours.Open(now) {
		return Availability{Reason: "outside_hours", Reopens: rules.Hours.NextOpen(now)}, nil
	}
	r.mu.Lock()
	n := len(r.online[ws])
	r.mu.Unlock()
	if n > 0 {
		return Availability{Online: true}, nil
	}
	return Availability{Reason: "no_agent"}, nil
}

// Transfer moves an open conversation to another agent (toAgent) or to the
// best available agent of a team (toTeam). from is the agent handing over;
// empty for a supervisor's reassignment.
func (r *Router) Transfer(ctx context.Context, ws, convID, from, toAgent, toTeam, note string) error {
	defer r.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return err
	}
	if !r.holder(ctx, ws) {
		_, err := r.call(ctx, ws, routingInput{Op: opTransfer, Conv: convID, From: from, ToAgent: toAgent, ToTeam: toTeam, Note: note})
		return err
	}
	err := r.eng.Transfer(ctx, routing.Transfer{WorkspaceID: ws, ConversationID: convID, From: from, ToAgent: toAgent, ToTeam: toTeam, Note: note})
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

// Accept takes an offer.
func (r *Router) Accept(ctx context.Context, ws, convID, agentID string) error {
	defer r.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return err
	}
	if !r.holder(ctx, ws) {
		_, err := r.call(ctx, ws, routingInput{Op: opAccept, Conv: convID, Agent: agentID})
		return err
	}
	if err := r.eng.Accept(ctx, ws, convID, agentID); errors.Is(err, routing.ErrNoOffer) {
		return fmt.Errorf("%w: %v", ErrNoOffer, err)
	} else if err != nil {
		return err
	}
	return nil
}

// Decline refuses an offer; the conversation goes to the next agent.
func (r *Router) Decline(ctx context.Context, ws, convID, agentID string) error {
	defer r.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return err
	}
	if !r.holder(ctx, ws) {
		_, err := r.call(ctx, ws, routingInput{Op: opDecline, Conv: convID, Agent: agentID})
		return err
	}
	if err := r.eng.Decline(ctx, ws, convID, agentID); errors.Is(err, routing.ErrNoOffer) {
		return fmt.Errorf("%w: %v", ErrNoOffer, err)
	} else if err != nil {
		return err
	}
	return nil
}

// Snapshot is the workspace's routing state, for the dashboard.
func (r *Router) Snapshot(ctx context.Context, ws string) (routing.Snapshot, error) {
	if err := r.ensure(ctx, ws); err != nil {
		return routing.Snapshot{}, err
	}
	if !r.holder(ctx, ws) {
		rep, err := r.call(ctx, ws, routingInput{Op: opSnapshot})
		if err != nil || rep.Snapshot == nil {
			return routing.Snapshot{}, cmp.Or(err, ErrRoutingUnavailable)
		}
		return *rep.Snapshot, nil
	}
	defer r.drain(ctx)
	return r.eng.Snapshot(ws), nil
}

type prechat struct {
	skill, team, reason string
	at                  time.Time
}

// prechatTTL bounds how long a pre-chat choice waits for the visitor's
// first message.
const prechatTTL = time.Hour

// Prechat records what a visitor chose in the widget before writing
// (label, and the skill and/or team it needs): the conversation their first
// message starts needs that. A choice on a conversation already started
// changes what it needs.
func (r *Router) Prechat(ctx context.Context, p Participant, label, skill, team string) error {
	reason := fmt.Sprintf("pre-chat choice %q → %s", label, needText(skill, team))
	c, err := r.svc.store.Workspace(p.WorkspaceID).OpenConversationOf(ctx, p.ID)
	if err == nil {
		if err := r.svc.store.Workspace(p.WorkspaceID).UpdateConversationRouting(ctx, c.ID, store.ConversationRouting{Skill: &skill, Team: &team}); err != nil {
			return mapErr(err)
		}
		r.reason(ctx, p.WorkspaceID, c.ID, reason)
		if err := r.ConversationChanged(ctx, p.WorkspaceID, c.ID); err != nil {
			return err
		}
		r.svc.Changed(ctx, p.WorkspaceID, c.ID)
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for v, pc := range r.prechat {
		if now.Sub(pc.at) > prechatTTL {
			delete(r.prechat, v)
		}
	}
	r.prechat[p.ID] = prechat{skill: skill, team: team, reason: reason, at: now}
	return nil
}

func (r *Router) takePrechat(visitor string) (prechat, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pc, ok := r.prechat[visitor]
	delete(r.prechat, visitor)
	return pc, ok && time.Since(pc.at) <= prechatTTL
}

// entry is what a conversation needs from where it starts, and why.
type entry struct {
	Skill, Team string
	// Reason is empty when nothing applies.
	Reason string
}

// entryNeed is what a new conversation of visitor p needs: the pre-chat
// choice if the visitor made one, else the first of the site's page rules
// that matches the page the widget was opened on.
func (r *Router) entryNeed(ctx context.Context, p Participant) entry {
	if pc, ok := r.takePrechat(p.ID); ok {
		return entry{Skill: pc.skill, Team: pc.team, Reason: pc.reason}
	}
	sc := r.svc.store.Workspace(p.WorkspaceID)
	v, err := sc.Visitor(ctx, p.ID)
	if err != nil || v.PageURL == "" {
		return entry{}
	}
	site, err := sc.Site(ctx, p.SiteID)
	if err != nil {
		return entry{}
	}
	rules, err := PageRulesOf(site)
	if err != nil {
		r.log.Warn("site page rules are invalid; ignored", "site", site.ID, "err", err)
		return entry{}
	}
	rule, ok := routing.MatchPage(rules, v.PageURL)
	if !ok {
		return entry{}
	}
	return entry{Skill: rule.Skill, Team: rule.Team,
		Reason: fmt.Sprintf("page %s matches rule %s → %s", v.PageURL, rule.Pattern, needText(rule.Skill, rule.Team))}
}

func needText(skill, team string) string {
	var parts []string
	if skill != "" {
		parts = append(parts, "skill "+skill)
	}
	if team != "" {
		parts = append(parts, "team "+team)
	}
	if len(parts) == 0 {
		return "anyone"
	}
	return strings.Join(parts, ", ")
}

// PageRulesOf reads a site's stored page rules.
func PageRulesOf(site store.Site) ([]routing.PageRule, error) {
	var rules []routing.PageRule
	if strings.TrimSpace(site.PageRules) != "" {
		if err := json.Unmarshal([]byte(site.PageRules), &rules); err != nil {
			return nil, fmt.Errorf("%w: page rules: %v", ErrInvalid, err)
		}
	}
	if err := routing.ValidatePageRules(rules); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return rules, nil
}

// ChoicesOf reads a site's stored pre-chat choices.
func ChoicesOf(site store.Site) ([]routing.Choice, error) {
	var choices []routing.Choice
	if strings.TrimSpace(site.PrechatChoices) != "" {
		if err := json.Unmarshal([]byte(site.PrechatChoices), &choices); err != nil {
			return nil, fmt.Errorf("%w: pre-chat choices: %v", ErrInvalid, err)
		}
	}
	if err := routing.ValidateChoices(choices); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return choices, nil
}

// Position returns the last queue frame sent for a waiting conversation
// of workspace ws; the workspace's routing node is asked (within a second)
// when it is another node.
func (r *Router) Position(ctx context.Context, ws, convID string) (protocol.Queue, bool) {
	if r.holds(ws) {
		return r.position(convID)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	rep, err := r.call(ctx, ws, routingInput{Op: opPosition, Conv: convID})
	if err != nil || rep.Queue == nil {
		return protocol.Queue{}, false
	}
	return *rep.Queue, true
}

func (r *Router) position(convID string) (protocol.Queue, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.positions[convID]
	return q, ok
}

// offeredTo returns the agent holding the conversation's offer, if any.
func (r *Router) offeredTo(convID string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a, ok := r.offers[convID]; ok {
		return a
	}
	if o, ok := r.remoteOffers[convID]; ok && time.Now().Before(o.expires) {
		return o.agent
	}
	return ""
}

func (r *Router) forgetQueued(convID string) {
	r.mu.Lock()
	delete(r.held, convID)
	delete(r.positions, convID)
	delete(r.visitors, convID)
	r.mu.Unlock()
}

// --- events → frames, messages, store ------------------------------------------

func (r *Router) handle(ctx context.Context, ev routing.Event) {
	switch ev := ev.(type) {
	case routing.Assigned:
		r.mu.Lock()
		_, offered := r.offers[ev.ConversationID]
		delete(r.offers, ev.ConversationID)
		r.mu.Unlock()
		if offered { // accepted
			r.shareOffer(ctx, ev.WorkspaceID, offerNote{Conv: ev.ConversationID, Ended: true})
		}
		r.forgetQueued(ev.ConversationID)
		reason := ev.Reason
		if ev.Translate {
			reason += " (needs translation)"
		}
		r.log.Info("routing: assigned", "conversation", ev.ConversationID, "agent", ev.AgentID, "level", ev.Level.String(), "reason", reason)
		r.joined(ctx, ev.WorkspaceID, ev.ConversationID, ev.AgentID, reason, ev.Summary)
	case routing.Offered:
		r.mu.Lock()
		r.offers[ev.ConversationID] = ev.AgentID
		r.mu.Unlock()
		r.log.Info("routing: offered", "conversation", ev.ConversationID, "agent", ev.AgentID, "expires", ev.Expires, "reason", ev.Reason)
		r.shareOffer(ctx, ev.WorkspaceID, offerNote{Conv: ev.ConversationID, Agent: ev.AgentID, Expires: ev.Expires})
		r.svc.publish(ctx, bus.AgentsTopic(ev.WorkspaceID), mustJSON(protocol.Offer{Envelope: protocol.Envelope{Type: protocol.TypeOffer},
			Conversation: ev.ConversationID, Agent: ev.AgentID, ExpiresAt: ev.Expires.UTC()}))
	case routing.OfferEnded:
		r.mu.Lock()
		if r.offers[ev.ConversationID] == ev.AgentID {
			delete(r.offers, ev.ConversationID)
		}
		r.mu.Unlock()
		r.log.Info("routing: offer ended", "conversation", ev.ConversationID, "agent", ev.AgentID, "why", ev.Why)
		r.shareOffer(ctx, ev.WorkspaceID, offerNote{Conv: ev.ConversationID, Agent: ev.AgentID, Ended: true})
		r.svc.publish(ctx, bus.AgentsTopic(ev.WorkspaceID), mustJSON(protocol.Offer{Envelope: protocol.Envelope{Type: protocol.TypeOffer},
			Conversation: ev.ConversationID, Agent: ev.AgentID, Ended: true, Why: ev.Why}))
	case routing.QueuePositions:
		r.positionsChanged(ctx, ev)
	case routing.Offline:
		r.offline(ctx, ev.WorkspaceID, ev.ConversationID, ev.Err, ev.Reopens)
	case routing.Relaxed:
		r.log.Info("routing: relaxed", "conversation", ev.ConversationID, "from", ev.From.String(), "to", ev.To.String(), "reason", ev.Reason)
		r.reason(ctx, ev.WorkspaceID, ev.ConversationID, "relaxed to "+ev.To.String()+": "+ev.Reason)
		r.tellRelaxed(ctx, ev)
	case routing.Requeued:
		r.log.Info("routing: requeued", "conversation", ev.ConversationID, "agent", ev.AgentID, "reason", ev.Reason)
		r.reason(ctx, ev.WorkspaceID, ev.ConversationID, "back in the queue: "+ev.Reason)
		r.svc.Changed(ctx, ev.WorkspaceID, ev.ConversationID)
	case routing.Transferred:
		r.transferred(ctx, ev)
	case routing.AgentStatusChanged:
		r.log.Info("routing: agent status", "agent", ev.AgentID, "status", string(ev.Status), "reason", ev.Reason)
		r.mu.Lock()
		if r.online[ev.WorkspaceID] == nil {
			r.online[ev.WorkspaceID] = map[string]bool{}
		}
		if ev.Status == routing.StatusOnline {
			r.online[ev.WorkspaceID][ev.AgentID] = true
		} else {
			delete(r.online[ev.WorkspaceID], ev.AgentID)
		}
		r.mu.Unlock()
		if strings.HasPrefix(ev.Reason, "missed") {
			if err := r.svc.store.Workspace(ev.WorkspaceID).SetAgentStatus(ctx, ev.AgentID, string(ev.Status)); err != nil {
				r.log.Warn("cannot store the agent's status", "agent", ev.AgentID, "err", err)
			}
		}
	case routing.Lost:
		r.forgetQueued(ev.ConversationID)
		r.log.Info("routing: conversation taken elsewhere", "conversation", ev.ConversationID)
	case routing.AssignFailed:
		r.log.Warn("routing: the store refused an assignment; will retry", "conversation", ev.ConversationID, "agent", ev.AgentID, "err", ev.Err)
	}
}

// tellRelaxed tells the waiting visitor, in a system message, that the
// search for an agent widened, when it did widen for them (a step that
// drops a skill the conversation does not need changes nothing).
func (r *Router) tellRelaxed(ctx context.Context, ev routing.Relaxed) {
	from, to := ev.Request.Need(ev.From), ev.Request.Need(ev.To)
	var text string
	switch {
	case from.Language != to.Language:
		text = "We're finding you an agent who speaks another language; your messages may be translated."
	case from.Skill != to.Skill || from.Team != to.Team:
		text = "Our specialists are all busy, so we're finding you another agent who can help."
	default:
		return
	}
	if err := r.svc.System(ctx, ev.WorkspaceID, ev.ConversationID, fmt.Sprintf("sys:relax:%d", ev.To), protocol.AudienceVisitor, text); err != nil {
		r.log.Warn("relaxation notice", "conversation", ev.ConversationID, "err", err)
	}
}

func (r *Router) reason(ctx context.Context, ws, convID, reason string) {
	if err := r.svc.store.Workspace(ws).SetRoutingReason(ctx, convID, reason); err != nil {
		r.log.Warn("cannot store the routing reason", "conversation", convID, "err", err)
	}
}

// joined announces a new owner: the reason and the agents' summary of it
// are stored, the visitor and the agents see the conversation open, and a
// system message says who joined.
func (r *Router) joined(ctx context.Context, ws, convID, agentID, reason, summary string) {
	if err := r.svc.store.Workspace(ws).SetAssignedWhy(ctx, convID, reason, summary); err != nil {
		r.log.Warn("cannot store the routing reason", "conversation", convID, "err", err)
	}
	r.svc.Changed(ctx, ws, convID)
	name := "An agent"
	if a, err := r.svc.store.Workspace(ws).Agent(ctx, agentID); err == nil {
		name = a.Name
	}
	if err := r.svc.System(ctx, ws, convID, "sys:join:"+agentID, "", name+" joined the chat"); err != nil {
		r.log.Warn("join notice", "conversation", convID, "err", err)
	}
}

func (r *Router) transferred(ctx context.Context, ev routing.Transferred) {
	sc := r.svc.store.Workspace(ev.WorkspaceID)
	r.log.Info("routing: transferred", "conversation", ev.ConversationID, "from", ev.From, "to", ev.To, "reason", ev.Reason)
	name, from := "another agent", "another agent"
	if a, err := sc.Agent(ctx, ev.To); err == nil {
		name = a.Name
	}
	if a, err := sc.Agent(ctx, ev.From); err == nil {
		from = a.Name
	}
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
		r.log.Warn("cannot store the transfer note", "conversation", ev.ConversationID, "err", err)
	}
	r.svc.Changed(ctx, ev.WorkspaceID, ev.ConversationID)
	// One notice per side, each worded for its reader: the visitor learns
	// who they are talking to now, the agents who handed it to whom.
	id := uuid.NewString()
	if err := r.svc.System(ctx, ev.WorkspaceID, ev.ConversationID, "sys:transfer:"+id, protocol.AudienceVisitor, "You are now chatting with "+name+"."); err != nil {
		r.log.Warn("transfer notice", "conversation", ev.ConversationID, "err", err)
	}
	if err := r.svc.System(ctx, ev.WorkspaceID, ev.ConversationID, "sys:transfer-agent:"+id, protocol.AudienceAgent, moved); err != nil {
		r.log.Warn("transfer notice", "conversation", ev.ConversationID, "err", err)
	}
}

func (r *Router) positionsChanged(ctx context.Context, ev routing.QueuePositions) {
	sc := r.svc.store.Workspace(ev.WorkspaceID)
	for _, p := range ev.Positions {
		q := protocol.Queue{Envelope: protocol.Envelope{Type: protocol.TypeQueue}, Conversation: p.ConversationID,
			Position: p.Position, EstimatedWaitSeconds: -1}
		if p.Wait != routing.UnknownWait {
			q.EstimatedWaitSeconds = int(p.Wait.Seconds())
		}
		r.mu.Lock()
		r.positions[p.ConversationID] = q
		visitor, ok := r.visitors[p.ConversationID]
		r.mu.Unlock()
		if !ok { // requeued: not seen since it was assigned
			c, err := sc.Conversation(ctx, p.ConversationID)
			if err != nil {
				continue
			}
			visitor = c.VisitorID
			r.mu.Lock()
			r.visitors[p.ConversationID] = visitor
			r.mu.Unlock()
		}
		r.svc.publish(ctx, bus.VisitorTopic(visitor), mustJSON(q))
	}
}

// offline turns a queued conversation that nobody can take into an
// offline one and tells its visitor, whose widget offers the offline form.
func (r *Router) offline(ctx context.Context, ws, convID string, why error, reopens time.Time) {
	r.forgetQueued(convID)
	sc := r.svc.store.Workspace(ws)
	reason := "no_agent"
	if errors.Is(why, routing.ErrOutsideHours) {
		reason = "outside_hours"
	}
	r.log.Info("routing: offline", "conversation", convID, "reason", why)
	if _, err := sc.SetOffline(ctx, convID, why.Error()); err != nil {
		r.log.Warn("cannot mark the conversation offline", "conversation", convID, "err", err)
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
	r.svc.publish(ctx, bus.VisitorTopic(c.VisitorID), mustJSON(f))
	r.svc.Changed(ctx, ws, convID)
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

// detection is what the first visitor messages of a conversation say about
// its language, while the widget's locale cannot route it.
type detection struct {
	text     string
	messages int
	done     bool
}

// Language detection reads at most detectMessages visitor messages (the
// first detectBytes of them) among the first detectWithin messages of a
// conversation, and watches at most maxDetecting conversations at once per
// node.
const (
	detectMessages = 5
	detectBytes    = 2000
	detectWithin   = 20
	maxDetecting   = 10000
)

// visitorWrote reads a visitor's message for the conversation's language
// while the widget's locale does not route it (none, or no agent speaks
// it): once langdetect is confident, the language is stored, the reason
// logged and kept with the conversation, and a waiting conversation is
// routed again with it; a new one held for its first message (see Queued)
// is routed now. c is the conversation as it was before the message.
func (r *Router) visitorWrote(ctx context.Context, c store.Conversation, body string) {
	if r.unhold(c.ID) {
		defer r.Queued(ctx, c.WorkspaceID, c.ID) // routed once the language is known, or known to be unknown
	}
	if c.Status == protocol.ConversationClosed || c.Status == protocol.ConversationOffline || c.LastSeq >= detectWithin {
		return // later messages cost nothing
	}
	if err := r.ensure(ctx, c.WorkspaceID); err != nil || r.languageSpoken(c.WorkspaceID, c.Language) {
		return
	}
	r.mu.Lock()
	d := r.detecting[c.ID]
	if d == nil && len(r.detecting) < maxDetecting {
		d = &detection{}
		r.detecting[c.ID] = d
	}
	if d == nil || d.done {
		r.mu.Unlock()
		return
	}
	d.messages++
	if len(d.text) < detectBytes {
		d.text = truncateUTF8(d.text+"\n"+body, detectBytes)
	}
	res, ok := langdetect.Detect(d.text)
	if ok || d.messages >= detectMessages {
		d.done, d.text = true, "" // decided (or given up) for good: later messages cost nothing
	}
	n := d.messages
	r.mu.Unlock()
	if !ok {
		if n >= detectMessages {
			r.log.Info("routing: language not detected; routing without one", "conversation", c.ID, "messages", n)
		}
		return
	}
	if res.Language == routingLanguage(c.Language) {
		return
	}
	locale := "the widget gave no locale"
	if c.Language != "" {
		locale = "no agent speaks the widget locale " + c.Language
	}
	why := fmt.Sprintf("language %s detected from the first %d visitor message(s), as %s: %s", res.Language, n, locale, res.Reason)
	r.log.Info("routing: language detected", "conversation", c.ID, "language", res.Language, "reason", why)
	// One write (the language and its reason) and one read for routing and
	// the announcement: this runs inside a visitor's first sends, on the
	// store connection the commits use.
	sc := r.svc.store.Workspace(c.WorkspaceID)
	if err := sc.UpdateConversationRouting(ctx, c.ID, store.ConversationRouting{Language: &res.Language, Reason: why}); err != nil {
		r.log.Warn("cannot store the detected language", "conversation", c.ID, "err", err)
		return
	}
	now, err := sc.Conversation(ctx, c.ID)
	if err != nil {
		r.log.Warn("detected language not applied to routing", "conversation", c.ID, "err", err)
		return
	}
	// A waiting conversation is routed again (an assigned one keeps its
	// agent; the engine only records the new language).
	if err := r.conversationChanged(ctx, now); err != nil {
		r.log.Warn("detected language not applied to routing", "conversation", c.ID, "err", err)
	}
	info, err := r.svc.info(ctx, sc, now)
	if err != nil {
		r.log.Warn("announce conversation", "conversation", c.ID, "err", err)
		return
	}
	r.svc.announce(ctx, info, c.WorkspaceID)
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
