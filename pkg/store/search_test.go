package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/keyring"
	"github.com/parleychat/parley/pkg/store"
)

func indexAll(t *testing.T, s *store.Store) {
	t.Helper()
	for {
		n, err := s.IndexMessages(context.Background(), 100, time.Now().Add(time.Minute), 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func TestSearchWords(t *testing.T) {
	got := strings.Join(store.SearchWords("Crème Brûlée, crème! ORDER #A-1234 — ann@example.com"), " ")
	if want := "creme brulee order a 1234 ann example com"; got != want {
		t.Fatalf("words %q, want %q", got, want)
	}
}

// Search finds a workspace's messages (indexed after commit from the
// cursor), notes, visitors and tags by every word of the query, whatever
// the case and accents, never another workspace's, and stores no word in
// plaintext.
func TestSearchFindsMessagesNotesVisitorsAndTags(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, c := seed(t, s)
		other, oc := seed(t, s)
		for i := range 30 {
			if _, _, err := sc.AppendMessage(ctx, msg(c.ID, fmt.Sprint("m", i), fmt.Sprintf("hello number %d about shipping", i))); err != nil {
				t.Fatal(err)
			}
		}
		needle, _, err := sc.AppendMessage(ctx, msg(c.ID, "needle", "My invoice for the Crème brûlée order is wrong"))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := other.AppendMessage(ctx, msg(oc.ID, "o1", "another invoice, creme brulee too")); err != nil {
			t.Fatal(err)
		}
		// Not indexed yet: the send path writes no posting.
		if r, err := sc.Search(ctx, store.SearchQuery{Text: "invoice", Limit: 10}); err != nil || len(r.Messages) != 0 {
			t.Fatalf("before indexing: %+v %v", r.Messages, err)
		}
		// A message younger than the settle time waits.
		if n, err := s.IndexMessages(ctx, 100, time.Now(), time.Hour); err != nil || n != 0 {
			t.Fatalf("indexed %d young messages (%v)", n, err)
		}
		indexAll(t, s)

		r, err := sc.Search(ctx, store.SearchQuery{Text: "CREME invoice", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) != 1 || r.Messages[0].Seq != needle.Seq || r.Messages[0].ConversationID != c.ID ||
			r.Messages[0].Text != "My invoice for the Crème brûlée order is wrong" || r.Messages[0].VisitorName != "Visitor" {
			t.Fatalf("hits %+v", r.Messages)
		}
		if r, _ := sc.Search(ctx, store.SearchQuery{Text: "invoice shipping", Limit: 10}); len(r.Messages) != 0 {
			t.Fatalf("a message without every word was found: %+v", r.Messages)
		}
		// Newest first, paged by message id.
		r, _ = sc.Search(ctx, store.SearchQuery{Text: "shipping", Limit: 10})
		if len(r.Messages) != 10 || r.Messages[0].Seq != 30 || r.Messages[9].Seq != 21 {
			t.Fatalf("first page %+v", r.Messages)
		}
		r, _ = sc.Search(ctx, store.SearchQuery{Text: "shipping", Limit: 10, Before: r.Messages[9].MessageID})
		if len(r.Messages) != 10 || r.Messages[0].Seq != 20 {
			t.Fatalf("second page %+v", r.Messages)
		}

		// Notes and visitors are indexed when written; tags by name.
		if _, err := sc.AddNote(ctx, store.Note{ID: uuid.NewString(), ConversationID: c.ID, AuthorID: "ann", Body: "Refund approved by finance"}, nil); err != nil {
			t.Fatal(err)
		}
		if err := sc.SetVisitorProfile(ctx, c.VisitorID, store.VisitorProfile{Name: "Zoë Quartermaine", Email: "zoe@example.org"}); err != nil {
			t.Fatal(err)
		}
		tg, err := sc.CreateTag(ctx, store.Tag{ID: uuid.NewString(), Name: "Billing"})
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.TagConversation(ctx, c.ID, tg.ID); err != nil {
			t.Fatal(err)
		}
		if r, _ := sc.Search(ctx, store.SearchQuery{Text: "refund finance", Limit: 10}); len(r.Notes) != 1 || r.Notes[0].ConversationID != c.ID {
			t.Fatalf("notes %+v", r.Notes)
		}
		if r, _ := sc.Search(ctx, store.SearchQuery{Text: "zoe quartermaine", Limit: 10}); len(r.Visitors) != 1 || r.Visitors[0].ConversationID != c.ID {
			t.Fatalf("visitors %+v", r.Visitors)
		}
		if r, _ := sc.Search(ctx, store.SearchQuery{Text: "zoe@example.org", Limit: 10}); len(r.Visitors) != 1 {
			t.Fatalf("visitors by email %+v", r.Visitors)
		}
		if r, _ := sc.Search(ctx, store.SearchQuery{Text: "billing", Limit: 10}); len(r.Tagged) != 1 || r.Tagged[0].ConversationID != c.ID {
			t.Fatalf("tagged %+v", r.Tagged)
		}
		// The other workspace finds only its own.
		r, _ = other.Search(ctx, store.SearchQuery{Text: "creme invoice", Limit: 10})
		if len(r.Messages) != 1 || r.Messages[0].ConversationID != oc.ID {
			t.Fatalf("other workspace %+v", r.Messages)
		}
		for _, q := range []string{"refund", "quartermaine", "billing"} {
			if r, _ := other.Search(ctx, store.SearchQuery{Text: q, Limit: 10}); len(r.Notes)+len(r.Visitors)+len(r.Tagged) != 0 {
				t.Fatalf("other workspace found %q: %+v", q, r)
			}
		}

		// At rest: the key is sealed; postings are numbers, different per
		// workspace for the same word.
		var sealed []string
		s.Gorm().Raw("SELECT secret FROM search_keys").Scan(&sealed)
		if len(sealed) != 2 {
			t.Fatalf("%d search keys", len(sealed))
		}
		for _, k := range sealed {
			if _, err := keyring.KeyID(k); err != nil {
				t.Fatalf("search key %q is not sealed", k)
			}
		}
		var shared int64
		s.Gorm().Raw(`SELECT COUNT(*) FROM search_terms a JOIN messages ma ON ma.id = a.message_id
			JOIN search_terms b ON b.token = a.token JOIN messages mb ON mb.id = b.message_id
			WHERE ma.workspace_id = ? AND mb.workspace_id = ?`, sc.WorkspaceID(), other.WorkspaceID()).Scan(&shared)
		if shared != 0 {
			t.Fatalf("%d postings shared between workspaces: the same word gives the same token", shared)
		}
	})
}

// A data-rights deletion and the retention purge take the postings with
// the messages, notes and visitors.
func TestSearchPostingsGoWithTheirRows(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, c := seed(t, s)
		fillVisitor(t, sc, c, "alice")
		if err := sc.SetVisitorProfile(ctx, c.VisitorID, store.VisitorProfile{Name: "Alice Liddell"}); err != nil {
			t.Fatal(err)
		}
		_, c2 := seed(t, s)
		sc2 := s.Workspace(c2.WorkspaceID)
		fillVisitor(t, sc2, c2, "bob")
		indexAll(t, s)
		count := func(table string) int64 {
			var n int64
			s.Gorm().Raw("SELECT COUNT(*) FROM " + table).Scan(&n)
			return n
		}
		if r, _ := sc.Search(ctx, store.SearchQuery{Text: "address alice", Limit: 5}); len(r.Messages) != 1 {
			t.Fatalf("before deletion %+v", r.Messages)
		}
		terms, docs := count("search_terms"), count("search_doc_terms")
		if _, err := sc.DeleteVisitor(ctx, c.VisitorID); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"address alice", "liddell", "note alice"} {
			if r, _ := sc.Search(ctx, store.SearchQuery{Text: q, Limit: 5}); len(r.Messages)+len(r.Notes)+len(r.Visitors) != 0 {
				t.Fatalf("%q still found after deletion: %+v", q, r)
			}
		}
		var orphans int64
		s.Gorm().Raw("SELECT COUNT(*) FROM search_terms WHERE message_id NOT IN (SELECT id FROM messages)").Scan(&orphans)
		if orphans != 0 || count("search_terms") >= terms || count("search_doc_terms") >= docs {
			t.Fatalf("postings left: %d orphans, terms %d→%d, docs %d→%d", orphans, terms, count("search_terms"), docs, count("search_doc_terms"))
		}

		// Retention: bob's closed conversation goes, with its postings.
		if err := sc2.SetRetention(ctx, 1, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Gorm().Exec("UPDATE conversations SET status = 'closed', closed_at = ? WHERE id = ?", time.Now().Add(-72*time.Hour), c2.ID).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := s.PurgeRetention(ctx, time.Now(), 100); err != nil {
			t.Fatal(err)
		}
		if r, _ := sc2.Search(ctx, store.SearchQuery{Text: "address bob", Limit: 5}); len(r.Messages)+len(r.Notes) != 0 {
			t.Fatalf("purged conversation still found: %+v", r)
		}
		s.Gorm().Raw("SELECT COUNT(*) FROM search_terms WHERE message_id NOT IN (SELECT id FROM messages)").Scan(&orphans)
		var noteOrphans int64
		s.Gorm().Raw("SELECT COUNT(*) FROM search_doc_terms WHERE kind = 'n' AND doc_id NOT IN (SELECT id FROM notes)").Scan(&noteOrphans)
		if orphans+noteOrphans != 0 {
			t.Fatalf("%d message and %d note postings left after the purge", orphans, noteOrphans)
		}
	})
}

// The backfill indexes notes and visitors stored before the index: here,
// their postings are removed and the cursors rewound, as before the
// migration.
func TestSearchBackfill(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, c := seed(t, s)
		fillVisitor(t, sc, c, "carol")
		if err := sc.SetVisitorProfile(ctx, c.VisitorID, store.VisitorProfile{Name: "Carol Danvers"}); err != nil {
			t.Fatal(err)
		}
		s.Gorm().Exec("DELETE FROM search_doc_terms")
		s.Gorm().Exec("UPDATE search_cursors SET last_key = ''")
		if r, _ := sc.Search(ctx, store.SearchQuery{Text: "danvers", Limit: 5}); len(r.Visitors) != 0 {
			t.Fatal("found before the backfill")
		}
		for {
			n, err := s.BackfillDocs(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		if r, _ := sc.Search(ctx, store.SearchQuery{Text: "danvers", Limit: 5}); len(r.Visitors) != 1 {
			t.Fatalf("visitor not backfilled: %+v", r.Visitors)
		}
		if r, _ := sc.Search(ctx, store.SearchQuery{Text: "note carol", Limit: 5}); len(r.Notes) != 1 {
			t.Fatalf("note not backfilled: %+v", r.Notes)
		}
	})
}
