package routing

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"
)

// Agents: profiles, status and presence, and the supply of each line.

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
