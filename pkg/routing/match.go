package routing

import (
	"fmt"
	"strings"
	"time"
)

// Decision is the outcome of Match: who gets the conversation, how far the
// rules had to relax, and why, in words an admin can read in a log.
type Decision struct {
	AgentID string
	// Level is the narrowest relaxation level the chosen agent meets.
	Level Level
	// Translate is set when the agent does not speak the visitor's language.
	Translate bool
	// Reason says why this agent, e.g. "exact: speaks fr, skill billing;
	// load 1/3, best of 4 eligible, idle 4m0s".
	Reason string
	// Summary says the same to the agents in a plain sentence, e.g.
	// "speaks French, least busy of 2 available agents" (summary.go).
	Summary string
}

// Match picks the agent for req among agents at time now, or reports false
// when no agent is online, eligible at the level the rules allow after the
// time req has waited, and below capacity.
//
// The order is: the best fit first (narrowest relaxation level; then, among
// relaxed fits, speaking the language, being in the team, having the skill),
// then the lowest load relative to capacity, then the longest idle (earliest
// IdleSince), then the smallest ID so the result is deterministic. Match is
// pure: it reads its arguments and changes nothing.
func Match(req Request, agents []Agent, rules Rules, now time.Time) (Decision, bool) {
	req.Language = primaryLanguage(req.Language)
	ptrs := make([]*Agent, len(agents))
	for i := range agents {
		ptrs[i] = &agents[i]
	}
	return pick(req, rules.Level(req.EnqueuedAt, now), ptrs, nil, now)
}

// fit ranks how well an agent meets a request: lower is better.
type fit struct {
	level                     Level
	noLanguage, noTeam, noSkl bool
}

func fitOf(req Request, a *Agent) fit {
	f := fit{noLanguage: !a.speaks(req.Language), noTeam: !a.inTeam(req.Team), noSkl: !a.hasSkill(req.Skill)}
	switch {
	case !f.noLanguage && !f.noTeam && !f.noSkl:
		f.level = LevelExact
	case !f.noLanguage && !f.noTeam:
		f.level = LevelTeam
	case !f.noTeam:
		f.level = LevelAnyLanguage
	default:
		f.level = LevelAnyAgent
	}
	return f
}

func (f fit) compare(g fit) int {
	switch {
	case f.level != g.level:
		return int(f.level - g.level)
	case f.noLanguage != g.noLanguage:
		return boolCmp(f.noLanguage, g.noLanguage)
	case f.noTeam != g.noTeam:
		return boolCmp(f.noTeam, g.noTeam)
	}
	return boolCmp(f.noSkl, g.noSkl)
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// better reports whether a (with fit fa) ranks before b (with fit fb).
func better(a *Agent, fa fit, b *Agent, fb fit) bool {
	if c := fa.compare(fb); c != 0 {
		return c < 0
	}
	// Load relative to capacity, compared without division: a/ca < b/cb.
	if l, r := a.Load*b.Capacity, b.Load*a.Capacity; l != r {
		return l < r
	}
	if !a.IdleSince.Equal(b.IdleSince) {
		return a.IdleSince.Before(b.IdleSince)
	}
	return a.ID < b.ID
}

// pick is Match over agents the engine already holds; skip (may be nil)
// leaves out agents, e.g. those that already declined this conversation.
func pick(req Request, level Level, agents []*Agent, skip func(*Agent) bool, now time.Time) (Decision, bool) {
	need := req.Need(level)
	var best *Agent
	var bestFit fit
	var pool []*Agent // the eligible agents
	for _, a := range agents {
		if !a.free() || !a.qualifies(need) || (skip != nil && skip(a)) {
			continue
		}
		pool = append(pool, a)
		f := fitOf(req, a)
		if best == nil || better(a, f, best, bestFit) {
			best, bestFit = a, f
		}
	}
	if best == nil {
		return Decision{}, false
	}
	return Decision{
		AgentID:   best.ID,
		Level:     bestFit.level,
		Translate: bestFit.noLanguage,
		Reason:    reason(req, best, bestFit, len(pool), now),
		Summary:   summary(req, best, bestFit, pool),
	}, true
}

func reason(req Request, a *Agent, f fit, eligible int, now time.Time) string {
	var b strings.Builder
	if f.level == LevelExact {
		b.WriteString("exact")
	} else {
		fmt.Fprintf(&b, "relaxed to %s after %v in queue", f.level, now.Sub(req.EnqueuedAt).Round(time.Second))
	}
	var parts []string
	if req.Language != "" {
		switch {
		case f.noLanguage:
			parts = append(parts, "does not speak "+req.Language+" (translate)")
		case len(a.Languages) == 0:
			parts = append(parts, "takes any language ("+req.Language+")")
		default:
			parts = append(parts, "speaks "+req.Language)
		}
	}
	if req.Skill != "" {
		if f.noSkl {
			parts = append(parts, "lacks skill "+req.Skill)
		} else {
			parts = append(parts, "skill "+req.Skill)
		}
	}
	if req.Team != "" {
		if f.noTeam {
			parts = append(parts, "not in team "+req.Team)
		} else {
			parts = append(parts, "team "+req.Team)
		}
	}
	if len(parts) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, "; load %d/%d, best of %d eligible", a.Load, a.Capacity, eligible)
	if a.IdleSince.IsZero() {
		b.WriteString(", never assigned")
	} else {
		fmt.Fprintf(&b, ", idle %v", now.Sub(a.IdleSince).Round(time.Second))
	}
	return b.String()
}
