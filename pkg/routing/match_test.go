package routing

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// staff is the team every matching case starts from.
func staff() []Agent {
	return []Agent{
		{ID: "ana", Status: StatusOnline, Capacity: 3, Load: 1, Languages: []string{"fr", "en"}, Skills: []string{"billing"}, Teams: []string{"sales"}, IdleSince: t0.Add(-4 * time.Minute)},
		{ID: "bob", Status: StatusOnline, Capacity: 2, Load: 0, Languages: []string{"en"}, Skills: []string{"tech"}, Teams: []string{"support"}, IdleSince: t0.Add(-10 * time.Minute)},
		{ID: "cid", Status: StatusOnline, Capacity: 3, Load: 1, Languages: []string{"fr"}, Skills: []string{"tech"}, Teams: []string{"support"}, IdleSince: t0.Add(-8 * time.Minute)},
		{ID: "dan", Status: StatusAway, Capacity: 5, Load: 0, Languages: []string{"fr", "de"}, Skills: []string{"billing"}, Teams: []string{"sales"}},
		{ID: "eve", Status: StatusOnline, Capacity: 2, Load: 2, Languages: []string{"fr", "de"}, Skills: []string{"billing"}, Teams: []string{"sales"}},
		{ID: "fay", Status: StatusOffline, Capacity: 4, Load: 0, Languages: []string{"de"}, Skills: []string{"billing"}, Teams: []string{"sales"}},
	}
}

func TestMatch(t *testing.T) {
	relax := Rules{RelaxAfter: []time.Duration{30 * time.Second, 2 * time.Minute, 5 * time.Minute}}
	waited := func(d time.Duration) time.Time { return t0.Add(-d) }
	tests := []struct {
		name      string
		req       Request
		rules     Rules
		edit      func([]Agent) []Agent
		want      string // "" = no match
		level     Level
		translate bool
		reason    []string
	}{
		{name: "language: two French speakers at 1/3, the longer idle wins",
			req: Request{Language: "fr"}, want: "cid", reason: []string{"exact", "speaks fr", "load 1/3", "idle 8m0s"}},
		{name: "language and skill: full and away specialists are skipped",
			req: Request{Language: "fr", Skill: "billing"}, want: "ana", reason: []string{"skill billing"}},
		{name: "team only", req: Request{Team: "support"}, want: "bob", reason: []string{"team support", "load 0/2"}},
		{name: "language, skill and team at once",
			req: Request{Language: "fr", Skill: "tech", Team: "support"}, want: "cid"},
		{name: "region subtags match the primary language",
			req: Request{Language: "FR-ca"}, want: "cid"},
		{name: "capacity: the only specialist is full, nobody else qualifies",
			req: Request{Language: "de", Skill: "billing"}, want: ""},
		{name: "away and offline agents never get conversations",
			req: Request{Language: "de"}, edit: func(a []Agent) []Agent { a[4].Load = 2; return a }, want: ""},
		{name: "capacity zero takes nothing",
			req: Request{Team: "support"}, edit: func(a []Agent) []Agent { a[1].Capacity = 0; return a }, want: "cid"},
		{name: "load is relative to capacity: 1/4 beats 1/3",
			req: Request{Language: "fr"}, edit: func(a []Agent) []Agent { a[0].Capacity = 4; return a }, want: "ana"},
		{name: "full tie goes to the smallest id",
			req:  Request{Language: "fr"},
			edit: func(a []Agent) []Agent { a[0].IdleSince = a[2].IdleSince; return a }, want: "ana"},
		{name: "never-assigned agents count as idle the longest",
			req:  Request{Language: "fr"},
			edit: func(a []Agent) []Agent { a[0].IdleSince = time.Time{}; return a }, want: "ana", reason: []string{"never assigned"}},
		{name: "an agent who lists no languages takes any language, exactly and without translation",
			req: Request{Language: "pt"}, edit: func(a []Agent) []Agent { a[1].Languages = nil; return a },
			want: "bob", level: LevelExact, reason: []string{"exact", "takes any language (pt)"}},
		{name: "listing no languages ranks like speaking it: the lower load wins",
			req: Request{Language: "fr"}, edit: func(a []Agent) []Agent { a[1].Languages = nil; return a },
			want: "bob", level: LevelExact},
		{name: "no relaxation before the first step",
			req: Request{Language: "fr", Skill: "refunds", Team: "sales", EnqueuedAt: waited(10 * time.Second)}, rules: relax, want: ""},
		{name: "step 1: any agent of the team who speaks the language",
			req: Request{Language: "fr", Skill: "refunds", Team: "sales", EnqueuedAt: waited(time.Minute)}, rules: relax,
			want: "ana", level: LevelTeam, reason: []string{"relaxed to any agent of the team after 1m0s", "lacks skill refunds"}},
		{name: "step 2: any language in the team, marked for translation",
			req: Request{Language: "pt", Team: "support", EnqueuedAt: waited(3 * time.Minute)}, rules: relax,
			want: "bob", level: LevelAnyLanguage, translate: true, reason: []string{"does not speak pt (translate)"}},
		{name: "step 2 not reached yet for a language nobody speaks",
			req: Request{Language: "pt", Team: "support", EnqueuedAt: waited(time.Minute)}, rules: relax, want: ""},
		{name: "step 3: any agent, the lowest load",
			req: Request{Language: "pt", Team: "legal", EnqueuedAt: waited(6 * time.Minute)}, rules: relax,
			want: "bob", level: LevelAnyAgent, translate: true},
		{name: "step 3 still prefers a speaker of the language over a lower load",
			req: Request{Language: "fr", Team: "legal", EnqueuedAt: waited(6 * time.Minute)}, rules: relax,
			want: "cid", level: LevelAnyAgent, translate: false, reason: []string{"not in team legal"}},
		{name: "relaxation never picks a worse fit when an exact one is free",
			req: Request{Language: "fr", Skill: "billing", EnqueuedAt: waited(10 * time.Minute)}, rules: relax,
			want: "ana", level: LevelExact},
		{name: "nobody online at all", req: Request{},
			edit: func(a []Agent) []Agent {
				for i := range a {
					a[i].Status = StatusOffline
				}
				return a
			}, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			agents := staff()
			if tc.edit != nil {
				agents = tc.edit(agents)
			}
			req := tc.req
			req.ConversationID, req.WorkspaceID = "c1", "w1"
			if req.EnqueuedAt.IsZero() {
				req.EnqueuedAt = t0
			}
			d, ok := Match(req, agents, tc.rules, t0)
			if tc.want == "" {
				if ok {
					t.Fatalf("Match = %+v, want no match", d)
				}
				return
			}
			if !ok || d.AgentID != tc.want || d.Level != tc.level || d.Translate != tc.translate {
				t.Fatalf("Match = %+v (ok %v), want agent %s level %v translate %v", d, ok, tc.want, tc.level, tc.translate)
			}
			for _, r := range tc.reason {
				if !strings.Contains(d.Reason, r) {
					t.Errorf("reason %q lacks %q", d.Reason, r)
				}
			}
		})
	}
}

func TestMatchDoesNotChangeItsInput(t *testing.T) {
	agents := staff()
	Match(Request{ConversationID: "c", WorkspaceID: "w", Language: "fr", EnqueuedAt: t0}, agents, Rules{}, t0)
	if agents[2].Load != 1 || agents[2].IdleSince != t0.Add(-8*time.Minute) {
		t.Fatalf("Match changed its agents: %+v", agents[2])
	}
}

func TestRulesValidate(t *testing.T) {
	bad := []Rules{
		{Mode: "round-robin"},
		{OfferTimeout: -time.Second},
		{MaxMisses: -1},
		{RelaxAfter: []time.Duration{time.Minute, time.Second}},
		{RelaxAfter: []time.Duration{1, 2, 3, 4}},
	}
	for _, r := range bad {
		if err := r.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want ErrInvalidRules", r)
		}
	}
	if err := (Rules{Mode: ModeOffer, RelaxAfter: []time.Duration{0, time.Minute}}).Validate(); err != nil {
		t.Errorf("valid rules rejected: %v", err)
	}
}
