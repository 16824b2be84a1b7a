package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parleychat/parley/pkg/store"
)

// An agent's dashboard language is stored in its workspace only: another
// workspace cannot change it, even with the agent's id.
func TestAgentLocaleIsScoped(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, _ := seed(t, s)
		other, _ := seed(t, s)
		kim := addAgent(t, sc, "agent")
		if err := sc.SetAgentLocale(ctx, kim.ID, "fr"); err != nil {
			t.Fatal(err)
		}
		if err := other.SetAgentLocale(ctx, kim.ID, "ar"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace set kim's locale: %v", err)
		}
		if a, err := sc.Agent(ctx, kim.ID); err != nil || a.Locale != "fr" {
			t.Fatalf("kim's locale %q %v, want fr", a.Locale, err)
		}
		if err := sc.SetAgentLocale(ctx, kim.ID, "fr"); err != nil {
			t.Fatalf("the same locale again: %v", err)
		}
	})
}
