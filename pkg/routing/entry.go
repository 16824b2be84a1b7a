package routing

import (
	"fmt"
	"net/url"
	"strings"
)

// Entry rules: what a new conversation needs, from where the visitor
// started it. A site's PageRules map the page URL to a skill or team; its
// Choices are what the widget's pre-chat form offers. An explicit choice
// of the visitor wins over a page rule.

// PageRule sends conversations started on pages matching Pattern to Skill
// and/or Team.
//
// Pattern is a glob where * matches any run of characters, "/" included:
// "/pricing*" matches /pricing and /pricing/teams, "/docs/*" every page
// under /docs/. A pattern that starts with "/" is matched against the
// page's path; any other against host and path ("shop.example.com/*").
// Query and fragment are ignored; letters compare without case.
type PageRule struct {
	Pattern string `json:"pattern"`
	Skill   string `json:"skill,omitempty"`
	Team    string `json:"team,omitempty"`
}

// Choice is one answer of the pre-chat form ("Sales", "Technical
// support") and what it needs.
type Choice struct {
	Label string `json:"label"`
	Skill string `json:"skill,omitempty"`
	Team  string `json:"team,omitempty"`
}

// Limits of a site's entry rules.
const (
	MaxPageRules  = 50
	MaxChoices    = 20
	maxPatternLen = 300
	maxNameLen    = 60
)

// ValidatePageRules reports the first rule that cannot be applied.
func ValidatePageRules(rules []PageRule) error {
	if len(rules) > MaxPageRules {
		return fmt.Errorf("%w: %d page rules, at most %d", ErrInvalidRules, len(rules), MaxPageRules)
	}
	for i, r := range rules {
		switch {
		case strings.TrimSpace(r.Pattern) == "" || len(r.Pattern) > maxPatternLen:
			return fmt.Errorf("%w: page rule %d: pattern must be 1..%d characters", ErrInvalidRules, i+1, maxPatternLen)
		case r.Skill == "" && r.Team == "":
			return fmt.Errorf("%w: page rule %d (%s): give a skill or a team", ErrInvalidRules, i+1, r.Pattern)
		}
		if err := validName(r.Skill, r.Team); err != nil {
			return fmt.Errorf("%w: page rule %d (%s): %v", ErrInvalidRules, i+1, r.Pattern, err)
		}
	}
	return nil
}

// ValidateChoices reports the first choice that cannot be offered.
func ValidateChoices(choices []Choice) error {
	if len(choices) > MaxChoices {
		return fmt.Errorf("%w: %d pre-chat choices, at most %d", ErrInvalidRules, len(choices), MaxChoices)
	}
	seen := map[string]bool{}
	for i, c := range choices {
		switch {
		case strings.TrimSpace(c.Label) == "" || len(c.Label) > maxNameLen:
			return fmt.Errorf("%w: pre-chat choice %d: label must be 1..%d characters", ErrInvalidRules, i+1, maxNameLen)
		case seen[c.Label]:
			return fmt.Errorf("%w: pre-chat choice %q appears twice", ErrInvalidRules, c.Label)
		case c.Skill == "" && c.Team == "":
			return fmt.Errorf("%w: pre-chat choice %q: give a skill or a team", ErrInvalidRules, c.Label)
		}
		if err := validName(c.Skill, c.Team); err != nil {
			return fmt.Errorf("%w: pre-chat choice %q: %v", ErrInvalidRules, c.Label, err)
		}
		seen[c.Label] = true
	}
	return nil
}

func validName(skill, team string) error {
	for _, n := range []string{skill, team} {
		if len(n) > maxNameLen || strings.Contains(n, ",") || n != strings.TrimSpace(n) {
			return fmt.Errorf("skill and team are at most %d characters, without commas or surrounding spaces", maxNameLen)
		}
	}
	return nil
}

// MatchPage returns the first rule whose pattern matches pageURL, or false.
// A URL that does not parse, or has no path, matches nothing.
func MatchPage(rules []PageRule, pageURL string) (PageRule, bool) {
	u, err := url.Parse(strings.TrimSpace(pageURL))
	if err != nil || pageURL == "" {
		return PageRule{}, false
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	for _, r := range rules {
		subject := path
		if !strings.HasPrefix(r.Pattern, "/") {
			subject = u.Host + path
		}
		if glob(strings.ToLower(r.Pattern), strings.ToLower(subject)) {
			return r, true
		}
	}
	return PageRule{}, false
}

// glob matches s against pattern, where * is any run of characters.
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last) && len(s) >= len(last)
}
