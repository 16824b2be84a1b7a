package service

import (
	"testing"

	"github.com/parleychat/parley/pkg/store/storetest"
)

// Turning visitor calls on or off is an admin action like any site change:
// it is in the audit log with who did it and what was set.
func TestVisitorCallsSettingIsAudited(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	for _, on := range []bool{true, false} {
		if code := admin.call(t, "PUT", "/api/sites/"+ts.site.ID+"/calls", map[string]bool{"visitor_calls": on}, nil); code != 200 {
			t.Fatalf("set visitor_calls=%v: %d", on, code)
		}
	}
	// A refused change (unknown site) is not an entry.
	admin.call(t, "PUT", "/api/sites/nope/calls", map[string]bool{"visitor_calls": true}, nil)
	var out struct{ Entries []auditJSON }
	if code := admin.call(t, "GET", "/api/audit?limit=2", nil, &out); code != 200 || len(out.Entries) != 2 {
		t.Fatalf("audit: %d %+v", code, out)
	}
	for i, want := range []string{"visitor_calls=false", "visitor_calls=true"} {
		e := out.Entries[i]
		if e.Action != "site_calls_updated" || e.Detail != want || e.Target != ts.site.ID || e.ActorID != admin.id {
			t.Fatalf("entry %d: %+v, want %s", i, e, want)
		}
	}
}
