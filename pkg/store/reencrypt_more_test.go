package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/keyring"
)

// Every column moreSealed names exists, with its key columns, in the
// migrated schema: a renamed column would otherwise be skipped quietly.
func TestMoreSealedColumnsExist(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, sc := range moreSealed {
		for _, c := range append([]string{sc.column}, sc.keys...) {
			if !s.db.Migrator().HasColumn(sc.table, c) {
				t.Errorf("moreSealed: %s has no column %s", sc.table, c)
			}
		}
	}
}

// After a key rotation, Reencrypt reseals page views, events, custom
// attributes and the assistant's and translation's API keys under the new key, and they read
// back once the old key is gone.
func TestReencryptResealsVisitorActivityAndAssistantKey(t *testing.T) {
	ctx := context.Background()
	rot := NewKeyRotation(t)
	s1 := rot.Old()
	ws, site := Workspace{ID: uuid.NewString(), Name: "Acme"}, Site{ID: uuid.NewString(), Name: "acme.test", Secret: "s"}
	if err := s1.CreateWorkspace(ctx, ws, site, Agent{ID: uuid.NewString(), Email: "ann@acme.test", Name: "Ann", Role: "admin", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	sc := s1.Workspace(ws.ID)
	v, err := sc.CreateVisitor(ctx, Visitor{ID: uuid.NewString(), SiteID: site.ID, Name: "Vi", CreatedAt: time.Now(), LastSeenAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.RecordPages(ctx, v.ID, site.ID, []VisitorPage{{ID: uuid.NewString(), URL: "https://acme.test/pricing", Title: "Pricing", Referrer: "https://search.test/", StartedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if err := sc.AddVisitorEvent(ctx, VisitorEvent{SiteID: site.ID, VisitorID: v.ID, Name: "purchase", Props: `{"value":10}`, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := sc.SetAssistantSettings(ctx, AssistantSettings{SiteID: site.ID, Mode: "first", Provider: "openai", APIKey: "sk-secret"}); err != nil {
		t.Fatal(err)
	}
	if err := sc.SetTranslationSettings(ctx, TranslationSettings{SiteID: site.ID, Provider: TranslateOpenAI, URL: "http://127.0.0.1:1/v1", Model: "m", APIKey: "sk-translate"}); err != nil {
		t.Fatal(err)
	}
	s2, ring2 := rot.Rotated()
	if _, err := s2.Reencrypt(ctx, ring2); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SELECT url FROM visitor_pages", "SELECT title FROM visitor_pages", "SELECT referrer FROM visitor_pages",
		"SELECT props FROM visitor_events", "SELECT api_key FROM assistant_settings", "SELECT api_key FROM translation_settings"} {
		var raw string
		s2.db.Raw(q).Scan(&raw)
		if id, err := keyring.KeyID(raw); err != nil || id != "k2" {
			t.Errorf("%s: under %q after Reencrypt (%v)", q, id, err)
		}
	}
	s3 := rot.Final() // the old key is gone
	sc3 := s3.Workspace(ws.ID)
	pages, err := sc3.VisitorPages(ctx, v.ID, 10)
	if err != nil || len(pages) != 1 || pages[0].Title != "Pricing" {
		t.Fatalf("pages after rotation: %v %+v", err, pages)
	}
	events, err := sc3.VisitorEvents(ctx, v.ID, 10)
	if err != nil || len(events) != 1 || events[0].Props != `{"value":10}` {
		t.Fatalf("events after rotation: %v %+v", err, events)
	}
	a, err := sc3.AssistantSettings(ctx, site.ID)
	if err != nil || a.APIKey != "sk-secret" {
		t.Fatalf("assistant key after rotation: %v %q", err, a.APIKey)
	}
	tr, err := sc3.TranslationSettings(ctx, site.ID)
	if err != nil || tr.APIKey != "sk-translate" || tr.Provider != TranslateOpenAI {
		t.Fatalf("translation key after rotation: %v %+v", err, tr.Provider)
	}
}

// Cached translations are sealed at rest, bound to their message and
// language, and Reencrypt reseals them under a new key.
func TestTranslationsAreSealedAndResealed(t *testing.T) {
	ctx := context.Background()
	rot := NewKeyRotation(t)
	s1 := rot.Old()
	ws := Workspace{ID: uuid.NewString(), Name: "Acme"}
	if err := s1.CreateWorkspace(ctx, ws, Site{ID: uuid.NewString(), Name: "acme.test", Secret: "s"}, Agent{ID: uuid.NewString(), Email: "ann@acme.test", Name: "Ann", Role: "admin", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	conv := uuid.NewString()
	if err := s1.Workspace(ws.ID).SaveTranslation(ctx, MessageTranslation{ConversationID: conv, Seq: 3, Language: "en", Text: "my card was charged twice"}); err != nil {
		t.Fatal(err)
	}
	var raw string
	s1.db.Raw("SELECT text FROM message_translations").Scan(&raw)
	if id, err := keyring.KeyID(raw); err != nil || id != "k1" {
		t.Fatalf("stored in clear or under %q: %q (%v)", id, raw, err)
	}
	// Bound to its message: moved to another seq it does not open.
	s1.db.Exec("UPDATE message_translations SET seq = 4")
	if _, err := s1.Workspace(ws.ID).Translations(ctx, conv, 0, 10); err == nil {
		t.Fatal("a translation moved to another message opened")
	}
	s1.db.Exec("UPDATE message_translations SET seq = 3")
	s2, ring2 := rot.Rotated()
	if _, err := s2.Reencrypt(ctx, ring2); err != nil {
		t.Fatal(err)
	}
	s2.db.Raw("SELECT text FROM message_translations").Scan(&raw)
	if id, err := keyring.KeyID(raw); err != nil || id != "k2" {
		t.Fatalf("under %q after Reencrypt (%v)", id, err)
	}
	s3 := rot.Final()
	got, err := s3.Workspace(ws.ID).Translations(ctx, conv, 0, 10)
	if err != nil || len(got) != 1 || got[0].Text != "my card was charged twice" {
		t.Fatalf("after rotation: %v %+v", err, got)
	}
}
