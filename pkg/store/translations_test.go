package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/parleychat/parley/pkg/store"
)

// A translation is cached once per message and language (the first one
// stays), read back in seq order, and only within its workspace.
func TestTranslationsCachePerMessageAndLanguage(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, c := seed(t, s)
		for _, tr := range []store.MessageTranslation{
			{ConversationID: c.ID, Seq: 2, Language: "en", Text: "Where is my order?", Provider: "apertium"},
			{ConversationID: c.ID, Seq: 1, Language: "en", Text: "Hello", Provider: "apertium"},
			{ConversationID: c.ID, Seq: 1, Language: "en", Text: "Hi (second node)", Provider: "openai"},
			{ConversationID: c.ID, Seq: 1, Language: "fr", Text: "Bonjour", Provider: "openai"},
		} {
			if err := sc.SaveTranslation(ctx, tr); err != nil {
				t.Fatal(err)
			}
		}
		got, err := sc.Translations(ctx, c.ID, 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"1 en Hello apertium", "1 fr Bonjour openai", "2 en Where is my order? apertium"}
		if len(got) != len(want) {
			t.Fatalf("got %d translations: %+v", len(got), got)
		}
		for i, g := range got {
			if s := fmt.Sprintf("%d %s %s %s", g.Seq, g.Language, g.Text, g.Provider); s != want[i] {
				t.Errorf("translation %d: %s; want %s", i, s, want[i])
			}
		}
		if only, _ := sc.Translations(ctx, c.ID, 2, 2); len(only) != 1 || only[0].Seq != 2 {
			t.Errorf("range [2,2]: %+v", only)
		}
		other, _ := seed(t, s)
		if leak, err := other.Translations(ctx, c.ID, 0, 10); err != nil || len(leak) != 0 {
			t.Fatalf("another workspace read %d translations (%v)", len(leak), err)
		}
	})
}
