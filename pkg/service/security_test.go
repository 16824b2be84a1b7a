package service

import (
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/store"
)

// anonymous is a browser on the agent app with no session yet.
func (ts *testServer) anonymous() *session {
	jar, _ := cookiejar.New(nil)
	return &session{ts: ts, hc: &http.Client{Jar: jar}}
}

func TestInviteLinkIsSingleUseAndSignsIn(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		var created struct {
			Invite inviteJSON
			Link   string
		}
		if code := admin.call(t, "POST", "/api/invites", map[string]string{"email": "Zoe@Example.com", "role": "supervisor"}, &created); code != http.StatusCreated {
			t.Fatalf("create invite: %d", code)
		}
		prefix := ts.URL + invitePathPrefix
		if !strings.HasPrefix(created.Link, prefix) || created.Invite.Email != "zoe@example.com" {
			t.Fatalf("invite %+v link %q", created.Invite, created.Link)
		}
		token := strings.TrimPrefix(created.Link, prefix)
		// The link opens the agent app.
		res, err := http.Get(created.Link)
		if err != nil || res.StatusCode != 200 || res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("invite page: %v %v", err, res)
		}
		res.Body.Close()
		var list struct{ Invites []inviteJSON }
		if admin.call(t, "GET", "/api/invites", nil, &list); len(list.Invites) != 1 {
			t.Fatalf("pending invites: %+v", list)
		}
		// A non-admin cannot invite.
		agent := admin.newAgent(t, "Al", nil)
		if code := agent.call(t, "POST", "/api/invites", map[string]string{"email": "x@example.com", "role": "admin"}, nil); code != http.StatusForbidden {
			t.Fatalf("agent invites: %d", code)
		}

		zoe := ts.anonymous()
		var check struct{ Invite inviteJSON }
		if code := zoe.call(t, "POST", "/api/invites/check", map[string]string{"token": token}, &check); code != 200 || check.Invite.Role != "supervisor" {
			t.Fatalf("check: %d %+v", code, check)
		}
		if code := zoe.call(t, "POST", "/api/invites/accept", map[string]string{"token": token, "name": "Zoe", "password": "short"}, nil); code != http.StatusBadRequest {
			t.Fatalf("short password: %d", code)
		}
		var accepted struct{ Agent agentJSON }
		if code := zoe.call(t, "POST", "/api/invites/accept", map[string]string{"token": token, "name": "Zoe", "password": "a long enough password"}, &accepted); code != http.StatusCreated {
			t.Fatalf("accept: %d", code)
		}
		if accepted.Agent.Role != "supervisor" || accepted.Agent.Email != "zoe@example.com" {
			t.Fatalf("accepted agent %+v", accepted.Agent)
		}
		var me struct{ Agent agentJSON }
		if code := zoe.call(t, "GET", "/api/me", nil, &me); code != 200 || me.Agent.ID != accepted.Agent.ID {
			t.Fatalf("signed in after accept: %d %+v", code, me)
		}
		// Used once: the link is dead.
		var e struct{ Code string }
		if code := ts.anonymous().call(t, "POST", "/api/invites/accept", map[string]string{"token": token, "name": "Eve", "password": "a long enough password"}, &e); code != http.StatusGone || e.Code != codeInviteUsed {
			t.Fatalf("second accept: %d %+v", code, e)
		}
		if code := ts.anonymous().call(t, "POST", "/api/invites/check", map[string]string{"token": strings.Repeat("0", 64)}, nil); code != http.StatusNotFound {
			t.Fatalf("unknown token: %d", code)
		}

		// Expired: the link tells so.
		var late struct{ Link string }
		admin.call(t, "POST", "/api/invites", map[string]string{"email": "late@example.com", "role": "agent"}, &late)
		if err := ts.st.Gorm().Model(&store.Invite{}).Where("email = ?", "late@example.com").Update("expires_at", time.Now().Add(-time.Minute)).Error; err != nil {
			t.Fatal(err)
		}
		if code := ts.anonymous().call(t, "POST", "/api/invites/accept", map[string]string{"token": strings.TrimPrefix(late.Link, prefix), "name": "Late", "password": "a long enough password"}, &e); code != http.StatusGone || e.Code != codeInviteOld {
			t.Fatalf("expired accept: %d %+v", code, e)
		}

		// Revoked: the link is gone.
		var rev struct {
			Invite inviteJSON
			Link   string
		}
		admin.call(t, "POST", "/api/invites", map[string]string{"email": "rev@example.com", "role": "agent"}, &rev)
		if code := admin.call(t, "DELETE", "/api/invites/"+rev.Invite.ID, nil, nil); code != 200 {
			t.Fatalf("revoke: %d", code)
		}
		if code := ts.anonymous().call(t, "POST", "/api/invites/accept", map[string]string{"token": strings.TrimPrefix(rev.Link, prefix), "name": "Rev", "password": "a long enough password"}, nil); code != http.StatusNotFound {
			t.Fatalf("revoked accept: %d", code)
		}
	})
}

func TestSignOutEverywhere(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		al := admin.newAgent(t, "Al", nil)
		alPhone := ts.signIn(t, mustEmail(t, admin, al.id), "a long enough password")
		sock := al.socket(t)
		// An agent may not sign out someone else.
		if code := al.call(t, "DELETE", "/api/agents/"+admin.id+"/sessions", nil, nil); code != http.StatusForbidden {
			t.Fatalf("agent signs out admin: %d", code)
		}
		if code := al.callCSRF(t, "DELETE", "/api/agents/me/sessions", nil, nil, ""); code != http.StatusForbidden {
			t.Fatalf("without CSRF: %d", code)
		}
		var out struct {
			SessionsEnded int `json:"sessions_ended"`
		}
		if code := al.call(t, "DELETE", "/api/agents/me/sessions", nil, &out); code != 200 || out.SessionsEnded != 2 {
			t.Fatalf("sign out everywhere: %d %+v", code, out)
		}
		for name, s := range map[string]*session{"laptop": al, "phone": alPhone} {
			if code := s.call(t, "GET", "/api/me", nil, nil); code != http.StatusUnauthorized {
				t.Fatalf("%s still signed in: %d", name, code)
			}
		}
		// The live socket is closed too.
		sock.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, _, err := sock.ws.ReadMessage(); err != nil {
				break
			}
		}
		// An admin signs another agent out; the admin stays signed in.
		al = ts.signIn(t, mustEmail(t, admin, al.id), "a long enough password")
		if code := admin.call(t, "DELETE", "/api/agents/"+al.id+"/sessions", nil, nil); code != 200 {
			t.Fatalf("admin signs out agent: %d", code)
		}
		if code := al.call(t, "GET", "/api/me", nil, nil); code != http.StatusUnauthorized {
			t.Fatalf("agent still signed in: %d", code)
		}
		if code := admin.call(t, "GET", "/api/me", nil, nil); code != 200 {
			t.Fatalf("admin signed out: %d", code)
		}
	})
}

func mustEmail(t *testing.T, admin *session, id string) string {
	t.Helper()
	var out struct{ Agent agentJSON }
	if code := admin.call(t, "GET", "/api/agents/"+id, nil, &out); code != 200 {
		t.Fatalf("agent %s: %d", id, code)
	}
	return out.Agent.Email
}

func TestAuditLog(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		if code := ts.anonymous().call(t, "POST", "/api/auth/login", map[string]string{"email": "admin@parley.local", "password": "wrong password!"}, nil); code != 401 {
			t.Fatalf("wrong password: %d", code)
		}
		al := admin.newAgent(t, "Al", nil)
		admin.call(t, "PATCH", "/api/agents/"+al.id, map[string]any{"role": "supervisor"}, nil)
		admin.call(t, "PATCH", "/api/sites/"+ts.site.ID, map[string]any{"allowed_origins": []string{"https://shop.example"}}, nil)
		admin.call(t, "PATCH", "/api/sites/"+ts.site.ID+"/routing", map[string]any{"mode": "offer"}, nil)
		var rotated struct{ Site siteJSON }
		if code := admin.call(t, "POST", "/api/sites/"+ts.site.ID+"/secret", nil, &rotated); code != 200 || rotated.Site.IdentitySecret == ts.site.Secret {
			t.Fatalf("rotate secret: %d", code)
		}
		admin.call(t, "POST", "/api/invites", map[string]string{"email": "inv@example.com", "role": "agent"}, nil)
		admin.call(t, "DELETE", "/api/agents/"+al.id+"/sessions", nil, nil)

		if code := al.call(t, "GET", "/api/audit", nil, nil); code != http.StatusUnauthorized {
			t.Fatalf("signed-out agent reads audit: %d", code)
		}
		sup := ts.signIn(t, mustEmail(t, admin, al.id), "a long enough password")
		if code := sup.call(t, "GET", "/api/audit", nil, nil); code != http.StatusForbidden {
			t.Fatalf("supervisor reads audit: %d", code)
		}

		var all []auditJSON
		before := ""
		for page := 0; page < 10; page++ {
			var out struct {
				Entries    []auditJSON
				NextBefore int64 `json:"next_before"`
			}
			if code := admin.call(t, "GET", "/api/audit?limit=3"+before, nil, &out); code != 200 {
				t.Fatalf("audit page: %d", code)
			}
			all = append(all, out.Entries...)
			if out.NextBefore == 0 {
				break
			}
			before = "&before=" + strconv.FormatInt(out.NextBefore, 10)
		}
		want := []string{"sign_in", "sign_in_failed", "agent_created", "sign_in", "agent_updated", "site_updated",
			"site_routing_updated", "site_secret_rotated", "invite_created", "sessions_revoked", "sign_in"}
		if len(all) != len(want) {
			t.Fatalf("%d entries, want %d: %+v", len(all), len(want), all)
		}
		for i, w := range want {
			e := all[len(all)-1-i] // newest first
			if e.Action != w {
				t.Fatalf("entry %d is %q, want %q (%+v)", i, e.Action, w, all)
			}
			if strings.Contains(e.Detail, rotated.Site.IdentitySecret) || strings.Contains(e.Detail, ts.site.Secret) || strings.Contains(e.Detail, "password!") {
				t.Fatalf("a secret in the audit log: %+v", e)
			}
		}
		if all[len(all)-5].Detail != "role=supervisor" || all[len(all)-5].ActorName == "" {
			t.Fatalf("agent_updated entry: %+v", all[len(all)-5])
		}
		if code := admin.call(t, "GET", "/api/audit?limit=0", nil, nil); code != 400 {
			t.Fatalf("limit 0: %d", code)
		}
	})
}
