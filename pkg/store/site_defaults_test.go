package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/parleychat/parley/pkg/store"
)

// A site is created with the default relaxation steps unless it names
// its own, and an install from before the default gets them on upgrade
// for every site that had none.
func TestSitesGetDefaultRelaxationSteps(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	sc, c := seed(t, s) // created without relaxation steps
	if site, err := sc.Site(ctx, c.SiteID); err != nil || site.RelaxAfter != store.DefaultRelaxAfter {
		t.Fatalf("new site: %q %v", site.RelaxAfter, err)
	}
	// A site added later (the dashboard's Sites) too.
	if err := sc.CreateSite(ctx, store.Site{ID: "second", Name: "Second", Secret: "s2"}); err != nil {
		t.Fatal(err)
	}
	if site, err := sc.Site(ctx, "second"); err != nil || site.RelaxAfter != store.DefaultRelaxAfter {
		t.Fatalf("second site: %q %v", site.RelaxAfter, err)
	}
	// As the install was before the migration: no steps stored, and the
	// migration not yet run.
	s.Gorm().Exec("UPDATE sites SET relax_after = ''")
	s.Gorm().Exec("DELETE FROM schema_migrations WHERE id = '2026120704_routing_relax_defaults'")
	s.Close()
	if s, err = store.Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{c.SiteID, "second"} {
		if site, err := s.Workspace(c.WorkspaceID).Site(ctx, id); err != nil || site.RelaxAfter != "60,120,300" {
			t.Fatalf("after the upgrade: %q %v", site.RelaxAfter, err)
		}
	}
}
