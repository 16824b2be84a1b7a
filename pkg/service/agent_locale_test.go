package service

import (
	"net/http"
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
)

// The dashboard's language is the agent's own: saved with PUT
// /api/me/locale, answered by /api/me, checked against the six languages,
// and one agent's choice leaves the others' alone.
func TestAgentLocaleIsTheAgentsOwn(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		kim := admin.newAgent(t, "Kim", map[string]any{"role": "agent"})
		// locale reads /api/me afresh (an absent field would keep a decoded one).
		locale := func(s *session) string {
			var m struct{ Agent agentJSON }
			s.call(t, "GET", "/api/me", nil, &m)
			return m.Agent.Locale
		}
		if got := locale(kim); got != "" {
			t.Fatalf("a new agent's locale is %q, want none (the browser's)", got)
		}
		var e struct{ Code string }
		for _, bad := range []any{map[string]string{"locale": "xx"}, map[string]string{"locale": "fr-france"}, map[string]any{}, map[string]any{"locale": 3}} {
			if code := kim.call(t, "PUT", "/api/me/locale", bad, &e); code != http.StatusBadRequest || e.Code != protocol.CodeInvalid {
				t.Fatalf("locale %v: %d %q", bad, code, e.Code)
			}
		}
		for _, tag := range []string{"ar", "pt-BR"} {
			if code := kim.call(t, "PUT", "/api/me/locale", map[string]string{"locale": tag}, nil); code != http.StatusOK {
				t.Fatalf("save %s: %d", tag, code)
			}
			if got := locale(kim); got != tag {
				t.Fatalf("saved %s, /api/me says %q", tag, got)
			}
		}
		if got := locale(admin); got != "" {
			t.Fatalf("kim's language changed the admin's: %q", got)
		}
		if code := kim.call(t, "PUT", "/api/me/locale", map[string]string{"locale": ""}, nil); code != http.StatusOK {
			t.Fatalf("back to the browser's: %d", code)
		}
		if got := locale(kim); got != "" {
			t.Fatalf("cleared, /api/me says %q", got)
		}
	})
}
