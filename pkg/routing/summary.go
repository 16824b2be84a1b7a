package routing

import (
	"fmt"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// summary words a decision for the agents, who need to know why a chat is
// theirs, not the ranking's internals (levels, load ratios, idle times,
// which stay in Reason for the log and the admins):
// "speaks French, least busy of 2 available agents".
func summary(req Request, a *Agent, f fit, pool []*Agent) string {
	var parts []string
	if req.Language != "" {
		name := languageName(req.Language)
		if f.noLanguage {
			parts = append(parts, "doesn't speak "+name+" (translation needed)")
		} else {
			parts = append(parts, "speaks "+name)
		}
	}
	if req.Skill != "" {
		if f.noSkl {
			parts = append(parts, "no one with the "+req.Skill+" skill was free")
		} else {
			parts = append(parts, "has the "+req.Skill+" skill")
		}
	}
	if req.Team != "" {
		if f.noTeam {
			parts = append(parts, "no one in the "+req.Team+" team was free")
		} else {
			parts = append(parts, "in the "+req.Team+" team")
		}
	}
	switch lessBusy := busierThan(a, pool); {
	case len(pool) == 1:
		parts = append(parts, "the only one available")
	case lessBusy == 0:
		parts = append(parts, fmt.Sprintf("least busy of %d available agents", len(pool)))
	default:
		// A better fit outranked an agent with fewer chats.
		parts = append(parts, fmt.Sprintf("best match of %d available agents", len(pool)))
	}
	return strings.Join(parts, ", ")
}

// busierThan counts the agents of pool with a lower load, relative to
// capacity, than a.
func busierThan(a *Agent, pool []*Agent) int {
	n := 0
	for _, b := range pool {
		if b.Load*a.Capacity < a.Load*b.Capacity {
			n++
		}
	}
	return n
}

// languageName is a language's English name ("fr" → "French"), or the
// code itself when it is not one the name tables know.
func languageName(code string) string {
	tag, err := language.Parse(code)
	if err != nil {
		return code
	}
	if name := display.English.Languages().Name(tag); name != "" {
		return name
	}
	return code
}
