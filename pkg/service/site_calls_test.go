package service

import (
	"net/http"
	"testing"

	"github.com/parleychat/parley/pkg/store/storetest"
)

// The agent app's switch for visitor voice calls: the sites list says
// whether a site lets its visitors call, an admin changes it, an agent
// may not, and a body without the setting is refused.
func TestVisitorCallsSwitch(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	allowed := func() bool {
		t.Helper()
		var out struct {
			Sites []struct {
				ID           string
				VisitorCalls *bool `json:"visitor_calls"`
			}
		}
		if code := admin.call(t, "GET", "/api/sites", nil, &out); code != http.StatusOK || len(out.Sites) != 1 || out.Sites[0].VisitorCalls == nil {
			t.Fatalf("sites: %d %+v", code, out)
		}
		return *out.Sites[0].VisitorCalls
	}
	if allowed() {
		t.Fatal("a new site lets visitors start voice calls")
	}
	path := "/api/sites/" + ts.site.ID + "/calls"
	if code := admin.call(t, "PUT", path, map[string]bool{"visitor_calls": true}, nil); code != http.StatusOK || !allowed() {
		t.Fatalf("admin turned visitor calls on: %d, listed %v", code, allowed())
	}
	agent := admin.newAgent(t, "Ava", nil)
	if code := agent.call(t, "PUT", path, map[string]bool{"visitor_calls": false}, nil); code != http.StatusForbidden || !allowed() {
		t.Fatalf("an agent turned visitor calls off: %d", code)
	}
	// A supervisor lists the sites (the dashboard's routing settings need
	// them) but never sees their identity secret.
	super := admin.newAgent(t, "Sue", map[string]any{"role": "supervisor"})
	var listed struct {
		Sites []struct {
			ID             string
			IdentitySecret string `json:"identity_secret"`
		}
	}
	if code := super.call(t, "GET", "/api/sites", nil, &listed); code != http.StatusOK || len(listed.Sites) != 1 || listed.Sites[0].IdentitySecret != "" {
		t.Fatalf("supervisor's sites: %d %+v", code, listed)
	}
	if code := admin.call(t, "GET", "/api/sites", nil, &listed); code != http.StatusOK || listed.Sites[0].IdentitySecret == "" {
		t.Fatalf("admin's sites lack the identity secret: %d %+v", code, listed)
	}
	if code := agent.call(t, "GET", "/api/sites", nil, nil); code != http.StatusForbidden {
		t.Fatalf("an agent listed sites: %d", code)
	}
	var e struct{ Code string }
	if code := admin.call(t, "PUT", path, map[string]string{"visitor_calls": "maybe"}, &e); code != http.StatusBadRequest || e.Code == "" {
		t.Fatalf("a bad body: %d %+v", code, e)
	}
	if code := admin.call(t, "PUT", path, map[string]any{}, &e); code != http.StatusBadRequest || e.Code != "invalid" {
		t.Fatalf("no setting: %d %+v", code, e)
	}
}
