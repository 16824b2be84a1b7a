package routing

import (
	"context"
	"slices"
	"time"
)

// Dispatch: matching waiting conversations to free agents.

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
	// Everyone free already declined or missed it. Wait for a wider level
	// only if it would bring someone new; otherwise (the rules allow no
	// wider level, or it adds nobody free) ask them again rather than leave
	// the visitor waiting minutes for nothing.
	widest := Level(len(w.rulesFor(it.req.SiteID).RelaxAfter))
	if it.level < widest {
		if _, ok := pick(it.req, widest, w.list, skip, now); ok {
			return Decision{}, false
		}
	}
	it.tried = nil
	return pick(it.req, it.level, w.list, nil, now)
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
		Translate: d.Translate, Reason: d.Reason, Summary: d.Summary})
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
