package service

import (
	"testing"

	"github.com/parleychat/parley/pkg/store/storetest"
)

// PATCH /api/sites/:id/routing changes what the body names and keeps the
// rest: a supervisor switching the mode does not wipe the site's hours,
// time zone, relaxation steps or entry rules. Hours sent are replaced as a
// whole, not merged day by day.
func TestSiteRoutingPatchKeepsWhatItLeavesOut(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	path := "/api/sites/" + ts.site.ID + "/routing"
	var out struct{ Routing siteRoutingJSON }
	if code := admin.call(t, "PATCH", path, map[string]any{
		"mode": "auto", "time_zone": "Europe/Paris", "relax_after_seconds": []int{30, 90},
		"business_hours": map[string][]string{"mon": {"09:00-17:00"}, "tue": {"09:00-17:00"}},
		"page_rules":     []map[string]string{{"pattern": "/pricing*", "skill": "sales"}},
	}, &out); code != 200 {
		t.Fatalf("set everything: %d %+v", code, out)
	}

	if code := admin.call(t, "PATCH", path, map[string]any{"mode": "offer", "offer_timeout_seconds": 20}, &out); code != 200 {
		t.Fatalf("switch mode: %d", code)
	}
	r := out.Routing
	if r.Mode != "offer" || r.OfferTimeoutSeconds != 20 || r.TimeZone != "Europe/Paris" ||
		len(r.RelaxAfterSeconds) != 2 || len(r.BusinessHours) != 2 || r.PageRules == nil || len(*r.PageRules) != 1 {
		t.Fatalf("after a mode-only PATCH: %+v", r)
	}

	out = struct{ Routing siteRoutingJSON }{} // decoding into the old map would merge it here too
	if code := admin.call(t, "PATCH", path, map[string]any{"business_hours": map[string][]string{"sat": {"10:00-12:00"}}}, &out); code != 200 {
		t.Fatalf("replace hours: %d", code)
	}
	if h := out.Routing.BusinessHours; len(h) != 1 || len(h["sat"]) != 1 || out.Routing.Mode != "offer" {
		t.Fatalf("hours after replacing them: %+v", out.Routing)
	}

	if code := admin.call(t, "PATCH", "/api/sites/no-such-site/routing", map[string]any{"mode": "auto"}, nil); code != 404 {
		t.Fatalf("unknown site: %d, want 404", code)
	}
}
