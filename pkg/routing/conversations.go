package routing

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Conversations: entering and leaving the queue, offers, transfers.

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
		Translate: d.Translate, Reason: d.Reason + "; offer accepted", Summary: d.Summary})
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
		reason, summary := "chosen by "+orSupervisor(t.From), ""
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
			to, reason, summary = w.agents[d.AgentID], d.Reason, d.Summary
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
		w.emit(Transferred{WorkspaceID: w.id, ConversationID: t.ConversationID, From: as.agent, To: to.ID, By: t.From, Note: t.Note, Reason: reason, Summary: summary})
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
