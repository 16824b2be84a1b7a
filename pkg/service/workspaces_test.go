package service

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/store"
)

// `signaling workspace create` makes a workspace whose admin signs in with
// the password it printed, even with an address another workspace has.
func TestCreateWorkspaceCommand(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		cfg, _ := config.Load(nil, func(string) string { return "" })
		for _, bad := range [][2]string{{"", "boss@acme.test"}, {"Acme", "not an address"}, {"Acme", "Boss <boss@acme.test>"}} {
			if _, err := createWorkspace(ctx, ts.st, cfg, bad[0], bad[1]); err == nil {
				t.Errorf("created with name %q, admin %q", bad[0], bad[1])
			}
		}
		w, err := createWorkspace(ctx, ts.st, cfg, "Acme", " Admin@Parley.local ")
		if err != nil {
			t.Fatal(err)
		}
		if w.AdminEmail != "admin@parley.local" || w.Password == "" {
			t.Fatalf("%+v", w)
		}
		// The address is the first workspace's admin's too; each password
		// opens its own account.
		var me struct{ Workspace struct{ ID, Name string } }
		if ts.signIn(t, "admin@parley.local", w.Password).call(t, "GET", "/api/me", nil, &me); me.Workspace.ID != w.WorkspaceID || me.Workspace.Name != "Acme" {
			t.Fatalf("signed in to %+v, want the new workspace", me.Workspace)
		}
		if ts.signIn(t, "admin@parley.local", adminPassword).call(t, "GET", "/api/me", nil, &me); me.Workspace.ID != ts.site.WorkspaceID {
			t.Fatalf("signed in to %+v, want the first workspace", me.Workspace)
		}
		var site siteOut
		if code := ts.signIn(t, "admin@parley.local", w.Password).call(t, "GET", "/api/sites/"+w.SiteID, nil, &site); code != 200 || len(site.Site.AllowedOrigins) != 0 {
			t.Fatalf("the new workspace's site: %d %+v", code, site.Site)
		}
	})
}

// When one password opens accounts in several workspaces, sign-in asks
// which (409 workspace_required with their names) and signs in to the one
// named; the list is shown only to whoever knows the password.
func TestSignInAsksForTheWorkspaceWhenAmbiguous(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		hash, _ := auth.HashPassword(adminPassword)
		second := store.Workspace{ID: uuid.NewString(), Name: "Second shop"}
		admin := store.Agent{ID: uuid.NewString(), Email: "admin@parley.local", Name: "Admin", Role: "admin", PasswordHash: hash, Status: "online", Capacity: 5}
		if err := ts.st.CreateWorkspace(ctx, second, store.Site{ID: uuid.NewString(), Name: "s", Secret: "s"}, admin); err != nil {
			t.Fatal(err)
		}
		anon := &session{ts: ts, hc: &http.Client{}}
		type answer struct {
			Code       string
			Workspaces []struct{ ID, Name string }
		}
		var a answer
		code := anon.call(t, "POST", "/api/auth/login", map[string]string{"email": "admin@parley.local", "password": adminPassword}, &a)
		if code != http.StatusConflict || a.Code != codeWorkspaceRequired || len(a.Workspaces) != 2 ||
			a.Workspaces[0].ID != ts.site.WorkspaceID || a.Workspaces[1].ID != second.ID || a.Workspaces[1].Name != "Second shop" {
			t.Fatalf("ambiguous sign-in: %d %+v", code, a)
		}
		a = answer{}
		if code := anon.call(t, "POST", "/api/auth/login", map[string]string{"email": "admin@parley.local", "password": "wrong"}, &a); code != http.StatusUnauthorized || len(a.Workspaces) != 0 {
			t.Fatalf("a wrong password: %d %+v", code, a)
		}
		if code := anon.call(t, "POST", "/api/auth/login", map[string]string{"email": "admin@parley.local", "password": adminPassword, "workspace": uuid.NewString()}, nil); code != http.StatusUnauthorized {
			t.Fatalf("a workspace the address is not in: %d", code)
		}
		var out struct{ Agent struct{ ID string } }
		if code := anon.call(t, "POST", "/api/auth/login", map[string]string{"email": "admin@parley.local", "password": adminPassword, "workspace": second.ID}, &out); code != 200 || out.Agent.ID != admin.ID {
			t.Fatalf("naming the workspace: %d %+v", code, out)
		}
	})
}

// Inviting an address that is an agent elsewhere is fine; in the same
// workspace it is a conflict.
func TestInviteChecksTheAddressInItsOwnWorkspace(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		hash, _ := auth.HashPassword("other password")
		other := store.Workspace{ID: uuid.NewString(), Name: "Other"}
		if err := ts.st.CreateWorkspace(ctx, other, store.Site{ID: uuid.NewString(), Name: "s", Secret: "s"},
			store.Agent{ID: uuid.NewString(), Email: "sam@both.test", Name: "Sam", Role: "admin", PasswordHash: hash}); err != nil {
			t.Fatal(err)
		}
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		if code := admin.call(t, "POST", "/api/invites", map[string]string{"email": "sam@both.test", "role": "agent"}, nil); code != http.StatusCreated {
			t.Fatalf("inviting another workspace's agent: %d", code)
		}
		if code := admin.call(t, "POST", "/api/invites", map[string]string{"email": "admin@parley.local", "role": "agent"}, nil); code != http.StatusConflict {
			t.Fatalf("inviting this workspace's agent: %d", code)
		}
	})
}
