package routing

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status is an agent's availability. The values equal the wire protocol's
// (protocol.StatusOnline etc.), so a conversion is routing.Status(s).
type Status string

// Agent statuses. Only online agents get new conversations; away agents keep
// the ones they have; offline agents lose them back to the queue.
const (
	StatusOnline  Status = "online"
	StatusAway    Status = "away"
	StatusOffline Status = "offline"
)

// Valid reports whether s is one of the three statuses.
func (s Status) Valid() bool { return s == StatusOnline || s == StatusAway || s == StatusOffline }

// Agent is what routing knows about one agent. Languages, Skills and Teams
// are compared as given, except languages, which match on their primary
// subtag, case-insensitively ("fr-CA" speaks "fr"). An agent who lists no
// languages takes any language: an empty list is "not restricted", never
// "speaks nothing", so such an agent is as good a fit as a speaker.
type Agent struct {
	ID       string
	Status   Status
	Capacity int // most conversations at once; 0 takes none
	// Load is how many conversations the agent owns or is being offered.
	// The Engine computes it; SetAgent ignores the value passed in.
	Load      int
	Languages []string
	Skills    []string
	Teams     []string
	// IdleSince is when the agent last got a conversation or came online;
	// the earliest wins a tie on load. The Engine maintains it.
	IdleSince time.Time
	// MissedOffers counts offers in a row that timed out (offer mode).
	MissedOffers int
}

func (a *Agent) speaks(lang string) bool {
	if lang == "" || len(a.Languages) == 0 {
		return true
	}
	for _, l := range a.Languages {
		if l == lang || sameLanguage(l, lang) {
			return true
		}
	}
	return false
}

// sameLanguage reports whether tag (as given, e.g. "fr-CA") has the primary
// subtag lang (already lowered, e.g. "fr"), without allocating: it runs for
// every agent of every decision.
func sameLanguage(tag, lang string) bool {
	if len(tag) < len(lang) || !strings.EqualFold(tag[:len(lang)], lang) {
		return false
	}
	return len(tag) == len(lang) || tag[len(lang)] == '-' || tag[len(lang)] == '_'
}

func (a *Agent) hasSkill(s string) bool { return s == "" || slices.Contains(a.Skills, s) }
func (a *Agent) inTeam(t string) bool   { return t == "" || slices.Contains(a.Teams, t) }
func (a *Agent) free() bool             { return a.Status == StatusOnline && a.Load < a.Capacity }

// qualifies reports whether the agent meets need, capacity aside.
func (a *Agent) qualifies(n Need) bool {
	return a.Status == StatusOnline && a.hasSkill(n.Skill) && a.inTeam(n.Team) && a.speaks(n.Language)
}

// primaryLanguage lowers a BCP 47 tag to its primary subtag: "pt-BR" → "pt".
func primaryLanguage(tag string) string {
	tag = strings.TrimSpace(tag)
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	return strings.ToLower(tag)
}

// Request is a conversation that wants an agent.
type Request struct {
	ConversationID string
	WorkspaceID    string
	SiteID         string
	// Language is the visitor's language (widget locale first, then detected
	// from the first messages; see Engine.Update). Empty means any.
	Language string
	// Skill and Team are what the conversation needs, from the page URL
	// rules, the pre-chat form or an agent. Empty means any.
	Skill string
	Team  string
	// Priority: higher is served first. Zero is normal.
	Priority int
	// EnqueuedAt is when the visitor started waiting. Fairness and
	// relaxation count from it; a requeued conversation keeps its original
	// time, so it goes back ahead of newer ones.
	EnqueuedAt time.Time
}

func (r Request) validate() error {
	switch {
	case r.ConversationID == "":
		return fmt.Errorf("%w: conversation id is empty", ErrInvalidRequest)
	case r.WorkspaceID == "":
		return fmt.Errorf("%w: workspace id is empty", ErrInvalidRequest)
	case r.Priority < 0:
		return fmt.Errorf("%w: priority %d is negative", ErrInvalidRequest, r.Priority)
	case r.EnqueuedAt.IsZero():
		return fmt.Errorf("%w: EnqueuedAt is zero", ErrInvalidRequest)
	}
	return nil
}

// Need is what an agent must have to take a conversation at some relaxation
// level: empty fields are "any". Conversations with the same Need compete for
// the same agents, so they form one line of the Queue.
type Need struct {
	Language string
	Skill    string
	Team     string
}

// Level is how far a conversation's requirements have been relaxed.
type Level int

// Relaxation levels, in the order they are reached. Each level accepts every
// agent the previous one did, and more.
const (
	// LevelExact: the agent speaks the language, has the skill, is in the team.
	LevelExact Level = iota
	// LevelTeam: any agent of the team who speaks the language (skill dropped).
	LevelTeam
	// LevelAnyLanguage: any agent of the team; the conversation is marked for
	// translation when the agent does not speak the visitor's language.
	LevelAnyLanguage
	// LevelAnyAgent: any online agent. Agents who fit better still win.
	LevelAnyAgent
)

// MaxLevel is the widest level.
const MaxLevel = LevelAnyAgent

func (l Level) String() string {
	switch l {
	case LevelExact:
		return "exact"
	case LevelTeam:
		return "any agent of the team"
	case LevelAnyLanguage:
		return "any language"
	case LevelAnyAgent:
		return "any agent"
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// Need returns what an agent must have to take r at level l.
func (r Request) Need(l Level) Need {
	n := Need{Language: r.Language, Skill: r.Skill, Team: r.Team}
	if l >= LevelTeam {
		n.Skill = ""
	}
	if l >= LevelAnyLanguage {
		n.Language = ""
	}
	if l >= LevelAnyAgent {
		n.Team = ""
	}
	return n
}

// Mode is how a site hands conversations to agents.
type Mode string

// Modes.
const (
	// ModeAuto assigns the chosen agent at once.
	ModeAuto Mode = "auto"
	// ModeOffer offers the conversation to the chosen agent, who accepts or
	// declines within Rules.OfferTimeout; a miss goes to the next agent.
	ModeOffer Mode = "offer"
)

// Rules are a site's routing rules. The zero value is valid: automatic
// assignment, no relaxation, always open.
type Rules struct {
	Mode Mode // "" means ModeAuto
	// OfferTimeout is how long an agent has to accept (ModeOffer; default 30s).
	OfferTimeout time.Duration
	// MaxMisses: after this many offers in a row time out, the agent is set
	// away (ModeOffer; 0 means never).
	MaxMisses int
	// RelaxAfter[i] is the time in queue after which Level(i+1) applies. At
	// most 3 entries, non-decreasing. Empty: never relax.
	RelaxAfter []time.Duration
	// Hours is the site's business-hours schedule; nil means always open.
	Hours *Schedule
}

// DefaultOfferTimeout is used when Rules.OfferTimeout is zero.
const DefaultOfferTimeout = 30 * time.Second

// Validate reports whether the rules can be applied.
func (r Rules) Validate() error {
	switch r.Mode {
	case "", ModeAuto, ModeOffer:
	default:
		return fmt.Errorf("%w: mode %q (want %q or %q)", ErrInvalidRules, r.Mode, ModeAuto, ModeOffer)
	}
	if r.OfferTimeout < 0 || r.MaxMisses < 0 {
		return fmt.Errorf("%w: negative offer timeout or max misses", ErrInvalidRules)
	}
	if len(r.RelaxAfter) > int(MaxLevel) {
		return fmt.Errorf("%w: %d relaxation steps, at most %d", ErrInvalidRules, len(r.RelaxAfter), MaxLevel)
	}
	for i, d := range r.RelaxAfter {
		if d < 0 || (i > 0 && d < r.RelaxAfter[i-1]) {
			return fmt.Errorf("%w: RelaxAfter must be non-negative and non-decreasing, got %v", ErrInvalidRules, r.RelaxAfter)
		}
	}
	return nil
}

func (r Rules) offerTimeout() time.Duration {
	if r.OfferTimeout > 0 {
		return r.OfferTimeout
	}
	return DefaultOfferTimeout
}

// Level returns how far a conversation that has waited since enqueuedAt is
// relaxed at now.
func (r Rules) Level(enqueuedAt, now time.Time) Level {
	waited := now.Sub(enqueuedAt)
	l := LevelExact
	for _, d := range r.RelaxAfter {
		if waited < d {
			break
		}
		l++
	}
	return l
}

// nextRelax returns when a conversation enqueued at enqueuedAt reaches the
// level after l, or the zero time if l is the last one the rules allow.
func (r Rules) nextRelax(enqueuedAt time.Time, l Level) time.Time {
	if int(l) >= len(r.RelaxAfter) {
		return time.Time{}
	}
	return enqueuedAt.Add(r.RelaxAfter[l])
}
