package routing

import (
	"strings"
	"testing"
	"time"
)

// The agents read why a chat is theirs in plain words; the engine's terms
// (levels, load ratios, idle times, "eligible") stay in Reason.
func TestDecisionSummaryIsASentenceForAgents(t *testing.T) {
	relax := Rules{RelaxAfter: []time.Duration{30 * time.Second, 2 * time.Minute, 5 * time.Minute}}
	waited := func(d time.Duration) time.Time { return t0.Add(-d) }
	tests := []struct {
		req  Request
		want string
	}{
		{Request{Language: "fr"}, "speaks French, least busy of 2 available agents"},
		{Request{Team: "support"}, "in the support team, least busy of 2 available agents"},
		{Request{Language: "fr", Skill: "billing"}, "speaks French, has the billing skill, the only one available"},
		{Request{Language: "pt", Team: "support", EnqueuedAt: waited(3 * time.Minute)},
			"doesn't speak Portuguese (translation needed), in the support team, least busy of 2 available agents"},
		// Cid speaks French; Bob has fewer chats but does not.
		{Request{Language: "fr", Team: "legal", EnqueuedAt: waited(6 * time.Minute)},
			"speaks French, no one in the legal team was free, best match of 3 available agents"},
		{Request{}, "least busy of 3 available agents"},
	}
	for _, tc := range tests {
		req := tc.req
		req.ConversationID, req.WorkspaceID = "c1", "w1"
		if req.EnqueuedAt.IsZero() {
			req.EnqueuedAt = t0
		}
		d, ok := Match(req, staff(), relax, t0)
		if !ok {
			t.Fatalf("%+v: no match", tc.req)
		}
		if d.Summary != tc.want {
			t.Errorf("%+v: summary %q, want %q", tc.req, d.Summary, tc.want)
		}
		for _, internal := range []string{"load", "eligible", "exact", "idle", "relaxed", "/"} {
			if strings.Contains(d.Summary, internal) {
				t.Errorf("summary %q shows %q", d.Summary, internal)
			}
		}
	}
}
