package service

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

type apiErr struct {
	Code string `json:"code"`
}

// auditActions lists the workspace's audit actions, oldest first.
func auditActions(t *testing.T, admin *session) []string {
	t.Helper()
	var out struct{ Entries []auditJSON }
	if code := admin.call(t, "GET", "/api/audit?limit=200", nil, &out); code != 200 {
		t.Fatalf("audit: %d", code)
	}
	var acts []string
	for i := len(out.Entries) - 1; i >= 0; i-- {
		acts = append(acts, out.Entries[i].Action)
	}
	return acts
}

func TestAgentRolesKeepAnEnabledAdmin(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		var e apiErr
		// The only admin cannot demote themselves.
		if code := admin.call(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"role": "agent", "capacity": 9}, &e); code != http.StatusConflict || e.Code != codeLastAdmin {
			t.Fatalf("demote the last admin: %d %+v", code, e)
		}
		var me struct{ Agent agentProfileJSON }
		if admin.call(t, "GET", "/api/agents/me", nil, &me); me.Agent.Role != "admin" || me.Agent.Capacity == 9 {
			t.Fatalf("a refused role change changed the profile: %+v", me.Agent)
		}
		al := admin.newAgent(t, "Al", nil)
		if code := admin.call(t, "PATCH", "/api/agents/"+al.id, map[string]any{"role": "admin"}, nil); code != 200 {
			t.Fatalf("promote Al: %d", code)
		}
		// Two admins: one may step down; then Al is the last.
		if code := admin.call(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"role": "supervisor"}, nil); code != 200 {
			t.Fatalf("admin steps down: %d", code)
		}
		if code := al.call(t, "PATCH", "/api/agents/"+al.id, map[string]any{"role": "agent"}, &e); code != http.StatusConflict || e.Code != codeLastAdmin {
			t.Fatalf("demote the new last admin: %d %+v", code, e)
		}
		// A disabled admin does not count.
		bo := al.newAgent(t, "Bo", map[string]any{"role": "admin"})
		if code := al.call(t, "POST", "/api/agents/"+bo.id+"/disable", nil, nil); code != 200 {
			t.Fatalf("disable admin Bo: %d", code)
		}
		if code := al.call(t, "PATCH", "/api/agents/"+al.id, map[string]any{"role": "agent"}, &e); code != http.StatusConflict {
			t.Fatalf("demote the last enabled admin: %d", code)
		}
		// No one disables themselves.
		if code := al.call(t, "POST", "/api/agents/"+al.id+"/disable", nil, nil); code != http.StatusBadRequest {
			t.Fatalf("self-disable: %d", code)
		}
		// Once Bo is back, Al may step down.
		if code := al.call(t, "POST", "/api/agents/"+bo.id+"/enable", nil, nil); code != 200 {
			t.Fatalf("enable Bo: %d", code)
		}
		if code := al.call(t, "PATCH", "/api/agents/"+al.id, map[string]any{"role": "agent"}, nil); code != 200 {
			t.Fatalf("Al steps down beside Bo: %d", code)
		}
	})
}

func TestAgentAdministrationIsAdminOnlyAndCSRFProtected(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		sup := admin.newAgent(t, "Sue", map[string]any{"role": "supervisor"})
		ag := admin.newAgent(t, "Al", nil)
		for name, s := range map[string]*session{"supervisor": sup, "agent": ag} {
			for _, r := range []struct{ method, path string }{
				{"POST", "/api/agents/" + admin.id + "/disable"},
				{"POST", "/api/agents/" + ag.id + "/enable"},
				{"PATCH", "/api/agents/" + s.id},
			} {
				if code := s.call(t, r.method, r.path, map[string]any{"role": "admin"}, nil); code != http.StatusForbidden {
					t.Fatalf("%s: %s %s: %d", name, r.method, r.path, code)
				}
			}
		}
		var e apiErr
		for _, p := range []string{"/disable", "/enable"} {
			if code := admin.callCSRF(t, "POST", "/api/agents/"+ag.id+p, nil, &e, ""); code != http.StatusForbidden || e.Code != codeCSRF {
				t.Fatalf("%s without CSRF: %d %+v", p, code, e)
			}
			if code := admin.callCSRF(t, "POST", "/api/agents/"+ag.id+p, nil, nil, otherToken(admin.csrf)); code != http.StatusForbidden {
				t.Fatalf("%s with a wrong CSRF token: %d", p, code)
			}
		}
		if code := ag.call(t, "GET", "/api/me", nil, nil); code != 200 {
			t.Fatalf("refused requests disabled the agent: %d", code)
		}
		if code := admin.call(t, "POST", "/api/agents/00000000-0000-0000-0000-000000000000/disable", nil, nil); code != http.StatusNotFound {
			t.Fatalf("unknown agent: %d", code)
		}
	})
}

// Disabling an agent: sessions end, sockets close, sign-in is refused,
// conversations go to another agent, history keeps its author; enabling
// lets the agent back in.
func TestDisableAgent(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		al := admin.newAgent(t, "Al", nil)
		email := mustEmail(t, admin, al.id)
		alPhone := ts.signIn(t, email, "a long enough password")
		alSock := al.socket(t)
		phoneSock := alPhone.socket(t)

		v, _ := ts.visitorWithLocale(t, "en-US")
		conv := v.start()
		if conv.AgentID != al.id {
			t.Fatalf("conversation went to %q, want Al", conv.AgentName)
		}
		if a := alSock.sendMsg(conv.ID, "a1", "hello from Al"); a.Seq == 0 {
			t.Fatalf("Al's message: %+v", a)
		}
		bo := admin.newAgent(t, "Bo", nil)
		boSock := bo.socket(t)

		var out struct {
			Agent         agentProfileJSON
			SessionsEnded int64 `json:"sessions_ended"`
		}
		if code := admin.call(t, "POST", "/api/agents/"+al.id+"/disable", nil, &out); code != 200 || !out.Agent.Disabled || out.SessionsEnded != 2 {
			t.Fatalf("disable: %d %+v", code, out)
		}
		alSock.expectClosed("laptop after disable")
		phoneSock.expectClosed("phone after disable")
		boSock.ping()
		for name, s := range map[string]*session{"laptop": al, "phone": alPhone} {
			if code := s.call(t, "GET", "/api/me", nil, nil); code != http.StatusUnauthorized {
				t.Fatalf("%s still signed in: %d", name, code)
			}
		}
		var e apiErr
		if code := ts.anonymous().call(t, "POST", "/api/auth/login", map[string]string{"email": email, "password": "a long enough password"}, &e); code != http.StatusForbidden || e.Code != codeDisabled {
			t.Fatalf("disabled sign-in: %d %+v", code, e)
		}
		// A wrong password says only that.
		if code := ts.anonymous().call(t, "POST", "/api/auth/login", map[string]string{"email": email, "password": "not the password"}, &e); code != http.StatusUnauthorized {
			t.Fatalf("disabled, wrong password: %d %+v", code, e)
		}

		// The conversation goes to Bo, the one agent online.
		var f protocol.Conversation
		for f.Conversation.ID != conv.ID || f.Conversation.AgentID != bo.id {
			v.next(protocol.TypeConversation, &f)
		}
		var msgs struct{ Messages []protocol.Message }
		if code := admin.call(t, "GET", "/api/conversations/"+conv.ID+"/messages", nil, &msgs); code != 200 {
			t.Fatalf("history: %d", code)
		}
		if !slices.ContainsFunc(msgs.Messages, func(m protocol.Message) bool { return m.Author.ID == al.id && m.Body == "hello from Al" }) {
			t.Fatalf("Al's message lost its author: %+v", msgs.Messages)
		}
		// Last seen is written a moment after the sign-in (seen.go).
		for deadline := time.Now().Add(10 * seenDelay); ; time.Sleep(50 * time.Millisecond) {
			var list struct{ Agents []agentProfileJSON }
			admin.call(t, "GET", "/api/agents", nil, &list)
			i := slices.IndexFunc(list.Agents, func(a agentProfileJSON) bool { return a.ID == al.id })
			if i < 0 {
				t.Fatalf("Al not listed: %+v", list.Agents)
			}
			a := list.Agents[i]
			if !a.Disabled || a.Routing != "offline" {
				t.Fatalf("Al listed as %+v", a)
			}
			if a.LastSeenAt != "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Al's last seen never stored: %+v", a)
			}
		}

		if code := admin.call(t, "POST", "/api/agents/"+al.id+"/enable", nil, &out); code != 200 || out.Agent.Disabled || out.Agent.Status != protocol.StatusAway {
			t.Fatalf("enable: %d %+v", code, out.Agent)
		}
		al = ts.signIn(t, email, "a long enough password")
		al.socket(t).ping()
		acts := auditActions(t, admin)
		for _, want := range []string{"agent_disabled", "sign_in_refused", "agent_enabled"} {
			if !slices.Contains(acts, want) {
				t.Fatalf("audit lacks %s: %v", want, acts)
			}
		}
	})
}

// A node that missed a disable (its bus link was down) closes the agent's
// sockets at its recheck.
func TestRecheckClosesADisabledAgentsSockets(t *testing.T) {
	st := storetest.SQLite(t)
	a := newTestNode(t, st, bus.NewMemory(), nil, ratelimit.Rules{})
	deaf := newTestNode(t, st, bus.NewMemory(), nil, ratelimit.Rules{}) // hears nothing from a
	admin := a.signIn(t, "admin@parley.local", adminPassword)
	al := admin.newAgent(t, "Al", nil)
	sock, alDeaf := al.socket(t), al.on(deaf).socket(t)
	adminDeaf := admin.on(deaf).socket(t)
	if code := admin.call(t, "POST", "/api/agents/"+al.id+"/disable", nil, nil); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	sock.expectClosed("Al's socket on the admin's node")
	alDeaf.ping() // not heard
	deaf.srv.recheckAgentConns(context.Background())
	alDeaf.expectClosed("Al's socket on the deaf node after the recheck")
	adminDeaf.ping()
}

// otherToken returns a token of the same length and alphabet as tok that
// differs from it in its first character: wrong by construction (a fixed
// replacement such as "0"+tok[1:] equals tok whenever tok starts with "0").
func otherToken(tok string) string {
	first := byte('a')
	if tok != "" && tok[0] == first {
		first = 'b'
	}
	if tok == "" {
		return string(first)
	}
	return string(first) + tok[1:]
}
