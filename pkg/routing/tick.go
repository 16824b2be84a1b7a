package routing

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// What time does: presence lapses, offers expire, conversations relax.

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
		w.emit(Relaxed{WorkspaceID: w.id, ConversationID: it.req.ConversationID, From: from, To: to, Request: it.req,
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
