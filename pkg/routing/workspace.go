package routing

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// workspace is the routing state of one workspace. Every field is guarded
// by mu; methods assume it is held.
type workspace struct {
	id     string
	cfg    *Config
	mu     sync.Mutex
	rules  map[string]Rules // site → rules
	agents map[string]*agentState
	list   []*Agent // every agent, sorted by ID: the order pick scans
	queue  *Queue
	supply map[Need]*supply
	offers map[string]*offer      // conversation → its offer
	owned  map[string]*assignment // conversation → its assignment
	events []Event

	// Tick does O(queue) work only when it may matter: relaxDue is the
	// earliest time any waiting conversation relaxes (zero: none), and
	// siteOpen is each site's business-hours state at the last tick.
	relaxDue time.Time
	siteOpen map[string]bool
}

type agentState struct {
	Agent
	chosen  Status
	tracked bool      // presence is reported (Connected/Disconnected)
	conns   int       // open connections
	lostAt  time.Time // when the last connection closed; zero if connected
	handle  time.Duration
	convs   map[string]struct{} // owned and offered conversations
	// phantom is load the store knows and this engine does not (the
	// Assigner answered AgentFull, or failed for this agent). It is
	// forgotten at the agent's next release, profile update or Tick, when
	// the store is asked again.
	phantom int
}

type assignment struct {
	req   Request
	agent string
	since time.Time
}

type offer struct {
	it       *waiting
	agent    string
	expires  time.Time
	decision Decision
}

// supply accumulates, for one Need, the online agents who qualify.
type supply struct {
	online, capacity, free int
	handleSum              time.Duration // Σ capacity × average handling time
}

func newWorkspace(id string, cfg *Config) *workspace {
	return &workspace{
		id: id, cfg: cfg,
		rules:    map[string]Rules{},
		agents:   map[string]*agentState{},
		queue:    NewQueue(cfg.WaitStep),
		supply:   map[Need]*supply{},
		offers:   map[string]*offer{},
		owned:    map[string]*assignment{},
		siteOpen: map[string]bool{},
	}
}

// queued is called whenever a conversation enters the queue or changes
// level, so Tick knows when the next relaxation is due.
func (w *workspace) queued(it *waiting) {
	w.ensureSupply(it)
	due := w.rulesFor(it.req.SiteID).nextRelax(it.req.EnqueuedAt, it.level)
	if !due.IsZero() && (w.relaxDue.IsZero() || due.Before(w.relaxDue)) {
		w.relaxDue = due
	}
}

func (w *workspace) emit(ev Event) { w.events = append(w.events, ev) }

// flush appends the queue positions that changed and delivers the events.
func (w *workspace) flush() {
	if ch := w.queue.Changes(); len(ch) > 0 {
		sort.Slice(ch, func(i, j int) bool { return ch[i].ConversationID < ch[j].ConversationID })
		w.emit(QueuePositions{WorkspaceID: w.id, Positions: ch})
	}
	for _, ev := range w.events {
		w.cfg.OnEvent(ev)
	}
	clear(w.events)
	w.events = w.events[:0]
}

func (w *workspace) rulesFor(site string) Rules { return w.rules[site] }

func (w *workspace) known(conv string) bool {
	_, queued := w.queue.items[conv]
	_, owned := w.owned[conv]
	return queued || owned
}

// --- agents -----------------------------------------------------------------

func (st *agentState) avgHandle(def time.Duration) time.Duration {
	if st.handle > 0 {
		return st.handle
	}
	return def
}

func (st *agentState) effective(now time.Time, grace time.Duration) Status {
	if st.tracked && st.conns == 0 && !st.lostAt.IsZero() && now.Sub(st.lostAt) >= grace {
		return StatusOffline
	}
	return st.chosen
}

func (w *workspace) setAgent(ctx context.Context, a Agent, now time.Time) {
	st, ok := w.agents[a.ID]
	if !ok {
		st = &agentState{convs: map[string]struct{}{}}
		st.ID = a.ID
		st.Status = StatusOffline
		w.agents[a.ID] = st
		i, _ := slices.BinarySearchFunc(w.list, a.ID, func(x *Agent, id string) int { return strings.Compare(x.ID, id) })
		w.list = slices.Insert(w.list, i, &st.Agent)
	}
	w.change(st, func() {
		st.Capacity = a.Capacity
		st.Languages = normalizeLanguages(a.Languages)
		st.Skills = slices.Clone(a.Skills)
		st.Teams = slices.Clone(a.Teams)
		st.phantom = 0
	})
	st.chosen = a.Status
	wasOnline := st.Status == StatusOnline
	w.refresh(ctx, st, now, "set by server")
	if wasOnline && st.Status == StatusOnline {
		// Languages, skills or teams may have changed: someone waiting may
		// have lost the only agent who could ever take them.
		w.sweepOffline(ctx, now)
	}
	w.pump(ctx, now)
}

func normalizeLanguages(ls []string) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		if p := primaryLanguage(l); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func (w *workspace) removeAgent(st *agentState) {
	w.change(st, func() { st.Capacity = 0 })
	delete(w.agents, st.ID)
	w.list = slices.DeleteFunc(w.list, func(a *Agent) bool { return a == &st.Agent })
}

// change applies mutate to an agent and keeps everything derived from it in
// step: its load and effective status, and the supply of every line.
//
// It never changes the agent's status by itself: only refresh does, so that
// every status change carries out its consequences.
func (w *workspace) change(st *agentState, mutate func()) {
	before := st.Agent
	beforeHandle := st.avgHandle(w.cfg.DefaultHandleTime)
	mutate()
	st.Load = len(st.convs) + st.phantom
	afterHandle := st.avgHandle(w.cfg.DefaultHandleTime)
	for need, s := range w.supply {
		was, is := before.qualifies(need), st.qualifies(need)
		if !was && !is {
			continue
		}
		if was {
			s.add(&before, beforeHandle, -1)
		}
		if is {
			s.add(&st.Agent, afterHandle, 1)
		}
		w.queue.SetSupply(need, s.value())
	}
}

func (s *supply) add(a *Agent, handle time.Duration, sign int) {
	s.online += sign
	s.capacity += sign * a.Capacity
	s.free += sign * max(0, a.Capacity-a.Load)
	s.handleSum += time.Duration(sign*a.Capacity) * handle
}

func (s *supply) value() Supply {
	if s.capacity <= 0 {
		return Supply{}
	}
	return Supply{Capacity: s.capacity, AvgHandle: s.handleSum / time.Duration(s.capacity)}
}

// ensureSupply makes sure the line of a queued conversation has its supply
// computed (lines appear when the first conversation with a new Need waits).
func (w *workspace) ensureSupply(it *waiting) {
	need := it.line.need
	if s, ok := w.supply[need]; ok {
		w.queue.SetSupply(need, s.value()) // the line may be new, the supply not
		return
	}
	s := &supply{}
	for _, st := range w.agents {
		if st.qualifies(need) {
			s.add(&st.Agent, st.avgHandle(w.cfg.DefaultHandleTime), 1)
		}
	}
	w.supply[need] = s
	w.queue.SetSupply(need, s.value())
}

// refresh recomputes an agent's effective status and carries out what a
// change of it implies: offers withdrawn when it stops being online,
// conversations requeued when it goes offline, the queue dropped to offline
// when nobody is left.
func (w *workspace) refresh(ctx context.Context, st *agentState, now time.Time, why string) {
	old := st.Status
	w.change(st, func() {
		st.Status = st.effective(now, w.cfg.PresenceGrace)
		if st.Status == StatusOnline && old != StatusOnline {
			st.IdleSince = now
		}
	})
	if st.Status == old {
		return
	}
	w.emit(AgentStatusChanged{WorkspaceID: w.id, AgentID: st.ID, Status: st.Status, Reason: why})
	if old == StatusOnline {
		for _, of := range w.offersOf(st.ID) {
			w.endOffer(ctx, of, "agent unavailable")
		}
	}
	if st.Status == StatusOffline {
		w.requeueAll(ctx, st, now)
	}
	if old == StatusOnline {
		w.sweepOffline(ctx, now)
	}
}

func (w *workspace) offersOf(agent string) []*offer {
	var out []*offer
	for _, of := range w.offers {
		if of.agent == agent {
			out = append(out, of)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].it.before(out[j].it) })
	return out
}

// requeueAll puts an offline agent's conversations back in the queue with
// their original arrival time, so they go ahead of newer visitors.
func (w *workspace) requeueAll(ctx context.Context, st *agentState, now time.Time) {
	var convs []string
	for c := range st.convs {
		if _, ok := w.owned[c]; ok {
			convs = append(convs, c)
		}
	}
	sort.Strings(convs)
	for _, c := range convs {
		as := w.owned[c]
		if err := w.cfg.Assigner.Release(ctx, w.id, c, st.ID); err != nil {
			w.emit(AssignFailed{WorkspaceID: w.id, ConversationID: c, AgentID: st.ID, Err: err})
		}
		delete(w.owned, c)
		w.change(st, func() { delete(st.convs, c); st.phantom = 0 })
		_ = w.queue.Push(as.req, w.rulesFor(as.req.SiteID).Level(as.req.EnqueuedAt, now))
		w.queued(w.queue.items[c])
		w.emit(Requeued{WorkspaceID: w.id, ConversationID: c, AgentID: st.ID, Reason: "agent went offline"})
	}
}

// --- conversations ------------------------------------------------------------

func (w *workspace) enqueue(ctx context.Context, req Request, now time.Time) error {
	if w.known(req.ConversationID) {
		return fmt.Errorf("%w: %s", ErrAlreadyRouted, req.ConversationID)
	}
	req.Language = primaryLanguage(req.Language)
	rules := w.rulesFor(req.SiteID)
	if err := w.offlineReason(req, rules, now, nil); err != nil {
		return err
	}
	if err := w.queue.Push(req, rules.Level(req.EnqueuedAt, now)); err != nil {
		return err
	}
	w.queued(w.queue.items[req.ConversationID])
	w.pump(ctx, now)
	return nil
}

// offlineReason says why nobody can take req, or nil. An agent who could
// take it at the widest level the site's rules ever allow must be online;
// otherwise waiting would leave the visitor stuck.
func (w *workspace) offlineReason(req Request, rules Rules, now time.Time, cache map[Need]bool) error {
	if !rules.Hours.Open(now) {
		return fmt.Errorf("%w (site %s, %s)", ErrOutsideHours, req.SiteID, rules.Hours.Zone())
	}
	need := req.Need(Level(len(rules.RelaxAfter)))
	reachable, ok := cache[need]
	if !ok {
		if s, has := w.supply[need]; has {
			reachable = s.online > 0
		} else {
			reachable = slices.ContainsFunc(w.list, func(a *Agent) bool { return a.qualifies(need) })
		}
		if cache != nil {
			cache[need] = reachable
		}
	}
	if !reachable {
		return ErrNoAgentOnline
	}
	return nil
}

// sweepOffline drops every queued conversation that nobody can take any
// more (site closed, or no agent online who ever could) with an Offline
// event.
func (w *workspace) sweepOffline(ctx context.Context, now time.Time) {
	cache := map[Need]bool{}
	closed := map[string]bool{} // site → outside hours; one time-zone conversion per site
	for site, r := range w.rules {
		closed[site] = !r.Hours.Open(now)
	}
	var gone []*waiting
	for _, it := range w.queue.items {
		if closed[it.req.SiteID] {
			gone = append(gone, it)
			continue
		}
		rules := w.rulesFor(it.req.SiteID)
		reachable, ok := cache[it.req.Need(Level(len(rules.RelaxAfter)))]
		if ok && reachable {
			continue
		}
		if w.offlineReason(it.req, rules, now, cache) != nil {
			gone = append(gone, it)
		}
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i].before(gone[j]) })
	for _, it := range gone {
		rules := w.rulesFor(it.req.SiteID)
		err := w.offlineReason(it.req, rules, now, cache)
		if of, ok := w.offers[it.req.ConversationID]; ok {
			w.endOffer(ctx, of, "site offline")
		}
		w.queue.Remove(it.req.ConversationID)
		ev := Offline{WorkspaceID: w.id, ConversationID: it.req.ConversationID, Err: err}
		if rules.Hours != nil {
			ev.Reopens = rules.Hours.NextOpen(now)
		}
		w.emit(ev)
	}
}

func (w *workspace) release(ctx context.Context, conv string, now time.Time) error {
	if as, ok := w.owned[conv]; ok {
		st := w.agents[as.agent]
		if err := w.cfg.Assigner.Release(ctx, w.id, conv, as.agent); err != nil {
			w.emit(AssignFailed{WorkspaceID: w.id, ConversationID: conv, AgentID: as.agent, Err: err})
		}
		delete(w.owned, conv)
		handled := now.Sub(as.since)
		if st != nil {
			w.change(st, func() {
				delete(st.convs, conv)
				st.phantom = 0
				if handled > 0 {
					if st.handle == 0 {
						st.handle = handled
					} else {
						a := w.cfg.HandleTimeWeight
						st.handle = time.Duration(a*float64(handled) + (1-a)*float64(st.handle))
					}
				}
			})
		}
		w.emit(Released{WorkspaceID: w.id, ConversationID: conv, AgentID: as.agent, Handled: handled})
		return nil
	}
	if _, ok := w.queue.items[conv]; ok {
		if of, ok := w.offers[conv]; ok {
			w.endOffer(ctx, of, "conversation ended")
		}
		w.queue.Remove(conv)
		return nil
	}
	return fmt.Errorf("%w: %s", ErrUnknownConversation, conv)
}

func (w *workspace) accept(conv, agent string, now time.Time) error {
	of, ok := w.offers[conv]
	if !ok || of.agent != agent {
		return fmt.Errorf("%w: %s for %s", ErrNoOffer, conv, agent)
	}
	delete(w.offers, conv)
	req, _ := w.queue.Remove(conv)
	w.owned[conv] = &assignment{req: req, agent: agent, since: now}
	st := w.agents[agent]
	w.change(st, func() { st.MissedOffers = 0; st.IdleSince = now })
	d := of.decision
	w.emit(Assigned{WorkspaceID: w.id, ConversationID: conv, AgentID: agent, Level: d.Level,
		Translate: d.Translate, Reason: d.Reason + "; offer accepted"})
	return nil
}

// endOffer withdraws an offer: the claim is released and the conversation
// is matched again, without the agent, until it relaxes.
func (w *workspace) endOffer(ctx context.Context, of *offer, why string) {
	conv := of.it.req.ConversationID
	delete(w.offers, conv)
	if err := w.cfg.Assigner.Release(ctx, w.id, conv, of.agent); err != nil {
		w.emit(AssignFailed{WorkspaceID: w.id, ConversationID: conv, AgentID: of.agent, Err: err})
	}
	of.it.offered = false
	if of.it.tried == nil {
		of.it.tried = map[string]struct{}{}
	}
	of.it.tried[of.agent] = struct{}{}
	if st, ok := w.agents[of.agent]; ok {
		w.change(st, func() { delete(st.convs, conv) })
	}
	w.emit(OfferEnded{WorkspaceID: w.id, ConversationID: conv, AgentID: of.agent, Why: why})
}

func (w *workspace) transfer(ctx context.Context, t Transfer, now time.Time) error {
	as, ok := w.owned[t.ConversationID]
	if !ok {
		return fmt.Errorf("%w: %s is not assigned", ErrUnknownConversation, t.ConversationID)
	}
	if t.From != "" && as.agent != t.From {
		return fmt.Errorf("%w: %s owns %s, not %s", ErrNotOwner, as.agent, t.ConversationID, t.From)
	}
	from := w.agents[as.agent]
	tried := map[string]bool{as.agent: true}
	for {
		var to *agentState
		reason := "chosen by " + orSupervisor(t.From)
		if t.ToAgent != "" {
			st, ok := w.agents[t.ToAgent]
			if !ok {
				return fmt.Errorf("%w: %s", ErrUnknownAgent, t.ToAgent)
			}
			if tried[st.ID] || !st.free() {
				return fmt.Errorf("%w: %s is %s at load %d/%d", ErrNoAgentAvailable, st.ID, st.Status, st.Load, st.Capacity)
			}
			to = st
		} else {
			req := as.req
			req.Team, req.Skill = t.ToTeam, ""
			d, ok := pick(req, LevelAnyLanguage, w.list, func(a *Agent) bool { return tried[a.ID] }, now)
			if !ok {
				return fmt.Errorf("%w: nobody in team %s is online with free capacity", ErrNoAgentAvailable, t.ToTeam)
			}
			to, reason = w.agents[d.AgentID], d.Reason
		}
		tried[to.ID] = true
		res, err := w.cfg.Assigner.Move(ctx, w.id, t.ConversationID, as.agent, to.ID, to.Capacity)
		if err != nil {
			return fmt.Errorf("routing: transfer %s: %w", t.ConversationID, err)
		}
		switch res {
		case AgentFull:
			w.change(to, func() { to.phantom = to.Capacity - len(to.convs) })
			continue
		case ConversationTaken:
			delete(w.owned, t.ConversationID)
			if from != nil {
				w.change(from, func() { delete(from.convs, t.ConversationID) })
			}
			w.emit(Lost{WorkspaceID: w.id, ConversationID: t.ConversationID})
			return fmt.Errorf("%w: the store says %s no longer owns %s", ErrNotOwner, as.agent, t.ConversationID)
		}
		if from != nil {
			w.change(from, func() { delete(from.convs, t.ConversationID); from.phantom = 0 })
		}
		w.change(to, func() { to.convs[t.ConversationID] = struct{}{}; to.IdleSince = now })
		if t.ToTeam != "" {
			as.req.Team, as.req.Skill = t.ToTeam, ""
		}
		w.emit(Transferred{WorkspaceID: w.id, ConversationID: t.ConversationID, From: as.agent, To: to.ID, Note: t.Note, Reason: reason})
		as.agent, as.since = to.ID, now
		w.pump(ctx, now) // the old agent has room again
		return nil
	}
}

func orSupervisor(agent string) string {
	if agent == "" {
		return "a supervisor"
	}
	return agent
}

// --- time ---------------------------------------------------------------------

func (w *workspace) tick(ctx context.Context, now time.Time) {
	for _, st := range w.sortedAgents() {
		if st.phantom > 0 { // ask the store again
			w.change(st, func() { st.phantom = 0 })
		}
	}
	for _, st := range w.sortedAgents() {
		if st.tracked && st.conns == 0 {
			w.refresh(ctx, st, now, fmt.Sprintf("no connection for %v", w.cfg.PresenceGrace))
		}
	}
	var expired []*offer
	for _, of := range w.offers {
		if !now.Before(of.expires) {
			expired = append(expired, of)
		}
	}
	sort.Slice(expired, func(i, j int) bool { return expired[i].it.before(expired[j].it) })
	for _, of := range expired {
		if w.offers[of.it.req.ConversationID] != of {
			continue // withdrawn meanwhile: its agent went away after an earlier miss
		}
		w.endOffer(ctx, of, "expired")
		st, ok := w.agents[of.agent]
		if !ok {
			continue
		}
		st.MissedOffers++
		if max := w.rulesFor(of.it.req.SiteID).MaxMisses; max > 0 && st.MissedOffers >= max && st.chosen == StatusOnline {
			st.chosen = StatusAway
			w.refresh(ctx, st, now, fmt.Sprintf("missed %d offers in a row", st.MissedOffers))
		}
	}
	if !w.relaxDue.IsZero() && !now.Before(w.relaxDue) {
		w.relax(now)
	}
	hoursChanged := false
	for site, r := range w.rules {
		open := r.Hours.Open(now)
		if was, ok := w.siteOpen[site]; !ok || was != open {
			hoursChanged = true
		}
		w.siteOpen[site] = open
	}
	if hoursChanged {
		w.sweepOffline(ctx, now)
	}
	w.queue.RefreshWaits()
	for need := range w.supply {
		if _, ok := w.queue.lines[need]; !ok {
			delete(w.supply, need)
		}
	}
	w.pump(ctx, now)
}

// relax widens every conversation whose next step is due and finds the
// next due time.
func (w *workspace) relax(now time.Time) {
	var relaxed []*waiting
	w.relaxDue = time.Time{}
	for _, it := range w.queue.items {
		if w.rulesFor(it.req.SiteID).Level(it.req.EnqueuedAt, now) > it.level {
			relaxed = append(relaxed, it)
			continue
		}
		if due := w.rulesFor(it.req.SiteID).nextRelax(it.req.EnqueuedAt, it.level); !due.IsZero() && (w.relaxDue.IsZero() || due.Before(w.relaxDue)) {
			w.relaxDue = due
		}
	}
	sort.Slice(relaxed, func(i, j int) bool { return relaxed[i].before(relaxed[j]) })
	for _, it := range relaxed {
		from, to := it.level, w.rulesFor(it.req.SiteID).Level(it.req.EnqueuedAt, now)
		w.queue.Relax(it.req.ConversationID, to)
		it.tried = nil
		w.queued(it)
		w.emit(Relaxed{WorkspaceID: w.id, ConversationID: it.req.ConversationID, From: from, To: to,
			Reason: fmt.Sprintf("nobody %s answered within %v", describe(it.req.Need(from)), now.Sub(it.req.EnqueuedAt).Round(time.Second))})
	}
}

func describe(n Need) string {
	var parts []string
	if n.Language != "" {
		parts = append(parts, "speaking "+n.Language)
	}
	if n.Skill != "" {
		parts = append(parts, "with skill "+n.Skill)
	}
	if n.Team != "" {
		parts = append(parts, "in team "+n.Team)
	}
	if len(parts) == 0 {
		return "at all"
	}
	return strings.Join(parts, " ")
}

func (w *workspace) sortedAgents() []*agentState {
	out := make([]*agentState, 0, len(w.list))
	for _, a := range w.list {
		out = append(out, w.agents[a.ID])
	}
	return out
}

// --- dispatch -----------------------------------------------------------------

// pump assigns (or offers) waiting conversations while some line has a free
// agent, always serving the conversation first in fair order among those
// that can be served. After a few Assigner errors it stops; Tick retries.
func (w *workspace) pump(ctx context.Context, now time.Time) {
	failures := 0
	for failures < maxAssignFailures {
		it, d, ok := w.next(now)
		if !ok {
			return
		}
		if !w.commit(ctx, it, d, now) {
			failures++
		}
	}
}

// maxAssignFailures bounds the Assigner errors one pump accepts before it
// gives up until the next Tick: enough to route around one broken agent,
// few enough not to hammer a store that is down.
const maxAssignFailures = 3

func (w *workspace) next(now time.Time) (*waiting, Decision, bool) {
	var best *waiting
	var bestDecision Decision
	for need, ln := range w.queue.lines {
		if s := w.supply[need]; s == nil || s.free <= 0 {
			continue
		}
		for _, it := range ln.items {
			if best != nil && !it.before(best) {
				break
			}
			if it.offered {
				continue
			}
			if d, ok := w.pickFor(it, now); ok {
				best, bestDecision = it, d
				break
			}
		}
	}
	return best, bestDecision, best != nil
}

func (w *workspace) pickFor(it *waiting, now time.Time) (Decision, bool) {
	if len(it.tried) == 0 {
		return pick(it.req, it.level, w.list, nil, now)
	}
	skip := func(a *Agent) bool { _, ok := it.tried[a.ID]; return ok }
	if d, ok := pick(it.req, it.level, w.list, skip, now); ok {
		return d, true
	}
	// Everyone free already declined or missed it and the rules allow no
	// wider level: ask them again rather than leave the visitor stuck.
	if int(it.level) >= len(w.rulesFor(it.req.SiteID).RelaxAfter) {
		it.tried = nil
		return pick(it.req, it.level, w.list, nil, now)
	}
	return Decision{}, false
}

// commit makes a decision true through the Assigner. It reports whether the
// pump may go on.
func (w *workspace) commit(ctx context.Context, it *waiting, d Decision, now time.Time) bool {
	st := w.agents[d.AgentID]
	conv := it.req.ConversationID
	res, err := w.cfg.Assigner.Claim(ctx, w.id, conv, st.ID, st.Capacity)
	if err != nil {
		// Leave this agent out until the next Tick asks the store again, so
		// one agent the store rejects cannot stall the whole queue.
		w.emit(AssignFailed{WorkspaceID: w.id, ConversationID: conv, AgentID: st.ID, Err: err})
		w.change(st, func() { st.phantom = st.Capacity - len(st.convs) })
		return false
	}
	switch res {
	case AgentFull:
		w.change(st, func() { st.phantom = st.Capacity - len(st.convs) })
		return true
	case ConversationTaken:
		if _, ok := w.offers[conv]; !ok {
			w.queue.Remove(conv)
		}
		w.emit(Lost{WorkspaceID: w.id, ConversationID: conv})
		return true
	}
	rules := w.rulesFor(it.req.SiteID)
	if rules.Mode == ModeOffer {
		of := &offer{it: it, agent: st.ID, expires: now.Add(rules.offerTimeout()), decision: d}
		w.offers[conv] = of
		it.offered = true
		w.change(st, func() { st.convs[conv] = struct{}{} })
		w.emit(Offered{WorkspaceID: w.id, ConversationID: conv, AgentID: st.ID, Expires: of.expires,
			Level: d.Level, Translate: d.Translate, Reason: d.Reason})
		return true
	}
	w.queue.Remove(conv)
	w.owned[conv] = &assignment{req: it.req, agent: st.ID, since: now}
	w.change(st, func() { st.convs[conv] = struct{}{}; st.IdleSince = now })
	w.emit(Assigned{WorkspaceID: w.id, ConversationID: conv, AgentID: st.ID, Level: d.Level,
		Translate: d.Translate, Reason: d.Reason})
	return true
}

func (w *workspace) snapshot() Snapshot {
	s := Snapshot{Owners: map[string]string{}}
	for _, a := range w.list {
		c := *a
		c.Languages, c.Skills, c.Teams = slices.Clone(a.Languages), slices.Clone(a.Skills), slices.Clone(a.Teams)
		s.Agents = append(s.Agents, c)
	}
	for _, req := range w.queue.Order() {
		it := w.queue.items[req.ConversationID]
		p, _ := w.queue.Position(req.ConversationID)
		wt := Waiting{Request: req, Level: it.level, Position: p}
		if of, ok := w.offers[req.ConversationID]; ok {
			wt.OfferedTo = of.agent
		}
		s.Queue = append(s.Queue, wt)
	}
	for c, as := range w.owned {
		s.Owners[c] = as.agent
	}
	return s
}
