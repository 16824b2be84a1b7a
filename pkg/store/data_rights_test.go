package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/store"
)

// fillVisitor stores a row in every table keyed by the visitor or its
// conversation c.
func fillVisitor(t *testing.T, sc *store.Scoped, c store.Conversation, tag string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	if _, _, err := sc.AppendMessage(ctx, msg(c.ID, "m-"+tag, "my address is "+tag)); err != nil {
		t.Fatal(err)
	}
	if err := sc.SaveTranslation(ctx, store.MessageTranslation{ConversationID: c.ID, Seq: 1, Language: "es", Text: "mi dirección es " + tag, Provider: "apertium"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.AddNote(ctx, store.Note{ID: uuid.NewString(), ConversationID: c.ID, AuthorID: "ann", Body: "note " + tag}, []string{uuid.NewString()}); err != nil {
		t.Fatal(err)
	}
	tg, err := sc.CreateTag(ctx, store.Tag{ID: uuid.NewString(), Name: "vip-" + tag})
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.TagConversation(ctx, c.ID, tg.ID); err != nil {
		t.Fatal(err)
	}
	if err := sc.RecordPages(ctx, c.VisitorID, c.SiteID, []store.VisitorPage{{ID: "p1", StartedAt: now, URL: "https://acme.test/" + tag, Title: "Pricing"}}); err != nil {
		t.Fatal(err)
	}
	if err := sc.AddVisitorEvent(ctx, store.VisitorEvent{SiteID: c.SiteID, VisitorID: c.VisitorID, Name: "purchase", Props: `{"value":42}`, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := sc.AttributeConversion(ctx, c.SiteID, c.VisitorID, 42, "EUR", now.Add(time.Minute), time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	plan := "gold"
	if _, err := sc.MergeVisitorAttributes(ctx, c.VisitorID, map[string]*store.Attribute{"plan": {Type: "string", Value: plan}}, 50, now); err != nil {
		t.Fatal(err)
	}
	if ok, err := sc.FireTrigger(ctx, c.VisitorID, "t1", 5, now); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := sc.QueueMail(ctx, c.ID, 0, 1, []store.MailOut{{ConversationID: c.ID, Kind: "reply", ToAddress: tag + "@mail.test", Subject: "Re", Body: "answer " + tag}}); err != nil {
		t.Fatal(err)
	}
}

// The export holds every row of the visitor, opened; the deletion leaves
// no row in any table that refers to the visitor or their conversations
// (tables found from the schema, so a later one is checked too), and
// another visitor's and another workspace's data stay.
func TestExportAndDeleteVisitor(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, c := seed(t, s)
		fillVisitor(t, sc, c, "alice")
		// A second, closed conversation of hers, and another visitor.
		c2, err := sc.CreateConversation(ctx, store.Conversation{ID: uuid.NewString(), SiteID: c.SiteID, VisitorID: c.VisitorID, Status: "queued"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := sc.AppendMessage(ctx, msg(c2.ID, "x", "second chat")); err != nil {
			t.Fatal(err)
		}
		if err := sc.CloseConversation(ctx, c2.ID, store.Require{}, time.Now()); err != nil {
			t.Fatal(err)
		}
		bob, err := sc.CreateVisitor(ctx, store.Visitor{ID: uuid.NewString(), SiteID: c.SiteID, Name: "Bob"})
		if err != nil {
			t.Fatal(err)
		}
		bc, err := sc.CreateConversation(ctx, store.Conversation{ID: uuid.NewString(), SiteID: c.SiteID, VisitorID: bob.ID, Status: "queued"})
		if err != nil {
			t.Fatal(err)
		}
		fillVisitor(t, sc, bc, "bob")
		other, oc := seed(t, s)
		fillVisitor(t, other, oc, "carol")

		// Every keyed table is read by the export.
		keyed, err := store.KeyedTables(s.Gorm())
		if err != nil {
			t.Fatal(err)
		}
		for _, kt := range keyed {
			if !slices.Contains(store.ExportedTables, kt.Name) {
				t.Errorf("table %s is keyed by visitor or conversation but not exported", kt.Name)
			}
		}

		ex, err := sc.ExportVisitor(ctx, c.VisitorID)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Visitor.ID != c.VisitorID || len(ex.Pages) != 1 || ex.Pages[0].URL != "https://acme.test/alice" ||
			len(ex.Events) != 1 || ex.Events[0].Props != `{"value":42}` || ex.Attributes["plan"].Value != "gold" ||
			len(ex.TriggersFired) != 1 || len(ex.Conversations) != 2 || len(ex.Conversions) != 1 || ex.Conversions[0].Value != 42 {
			t.Fatalf("export %+v", ex)
		}
		var first store.ConversationExport
		for _, ce := range ex.Conversations {
			if ce.Conversation.ID == c.ID {
				first = ce
			}
		}
		if len(first.Messages) != 1 || first.Messages[0].Body != "my address is alice" || len(first.Notes) != 1 ||
			first.Notes[0].Body != "note alice" || len(first.Mentions) != 1 || len(first.Tags) != 1 ||
			len(first.Mails) != 1 || first.Mails[0].Body != "answer alice" || first.Mails[0].ToAddress != "alice@mail.test" ||
			len(first.Translations) != 1 || first.Translations[0].Text != "mi dirección es alice" {
			t.Fatalf("conversation export %+v", first)
		}
		if _, err := other.ExportVisitor(ctx, c.VisitorID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace exports her: %v", err)
		}
		if _, err := other.DeleteVisitor(ctx, c.VisitorID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace deletes her: %v", err)
		}

		deleted, err := sc.DeleteVisitor(ctx, c.VisitorID)
		if err != nil {
			t.Fatal(err)
		}
		if deleted["messages"] != 2 || deleted["conversations"] != 2 || deleted["visitors"] != 1 {
			t.Fatalf("deleted %v", deleted)
		}
		refs := func(visitor string, convs ...string) map[string]int64 {
			out := map[string]int64{}
			for _, kt := range keyed {
				q := s.Gorm().Table(kt.Name)
				switch {
				case kt.Visitor && kt.Conversation:
					q = q.Where("visitor_id = ? OR conversation_id IN ?", visitor, convs)
				case kt.Visitor:
					q = q.Where("visitor_id = ?", visitor)
				default:
					q = q.Where("conversation_id IN ?", convs)
				}
				var n int64
				if err := q.Count(&n).Error; err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					out[kt.Name] = n
				}
			}
			var n int64
			s.Gorm().Table("visitors").Where("id = ?", visitor).Count(&n)
			if n > 0 {
				out["visitors"] += n
			}
			return out
		}
		if left := refs(c.VisitorID, c.ID, c2.ID); len(left) != 0 {
			t.Fatalf("rows left about the deleted visitor: %v", left)
		}
		for _, kt := range []string{"visitor_pages", "visitor_events", "visitor_attributes", "trigger_fires", "messages", "notes", "note_mentions", "conversation_tags", "mail_outbox"} {
			if !slices.ContainsFunc(keyed, func(k store.KeyedTable) bool { return k.Name == kt }) {
				t.Errorf("table %s not found as keyed", kt)
			}
		}
		// Bob and Carol keep every row.
		for name, left := range map[string]map[string]int64{"bob": refs(bob.ID, bc.ID), "carol": refs(oc.VisitorID, oc.ID)} {
			for _, kt := range []string{"visitors", "conversations", "messages", "notes", "visitor_pages", "mail_outbox", "conversation_tags"} {
				if left[kt] == 0 {
					t.Errorf("%s lost %s (%v)", name, kt, left)
				}
			}
		}
		if _, err := sc.DeleteVisitor(ctx, c.VisitorID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}
