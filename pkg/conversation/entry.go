package conversation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/pkg/routing"
	"github.com/parleychat/parley/pkg/store"
)

// What a new conversation needs from where it starts: the visitor's
// pre-chat choice, or the site's page rules.

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
	c, err := r.st.Workspace(p.WorkspaceID).OpenConversationOf(ctx, p.ID)
	if err == nil {
		if err := r.st.Workspace(p.WorkspaceID).UpdateConversationRouting(ctx, c.ID, store.ConversationRouting{Skill: &skill, Team: &team}); err != nil {
			return mapErr(err)
		}
		r.local.reason(ctx, p.WorkspaceID, c.ID, reason)
		if err := r.ConversationChanged(ctx, p.WorkspaceID, c.ID); err != nil {
			return err
		}
		r.notify.Changed(ctx, p.WorkspaceID, c.ID)
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
	sc := r.st.Workspace(p.WorkspaceID)
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
