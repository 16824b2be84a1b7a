package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/store"
)

// A message that becomes visible after the cursor has passed its id is
// still indexed: on PostgreSQL a transaction that took its id first and
// commits after a later message was indexed; on both stores a message
// whose time is ahead of the indexer's clock (another node's), which the
// settle filter left behind while the cursor moved past it.
func TestSearchIndexesLateCommits(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, c := seed(t, s)
		found := func(word string) bool {
			t.Helper()
			r, err := sc.Search(ctx, store.SearchQuery{Text: word, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			return len(r.Messages) == 1
		}
		ws := c.WorkspaceID
		// Ahead of the clock: written now, dated in an hour.
		ahead := store.Message{WorkspaceID: ws, ConversationID: c.ID, Seq: 1000, ClientID: "ahead", AuthorKind: "visitor",
			AuthorID: "v", Body: "zanzibar parcel", CreatedAt: time.Now().Add(time.Hour)}
		if err := s.Gorm().Create(&ahead).Error; err != nil {
			t.Fatal(err)
		}
		if _, _, err := sc.AppendMessage(ctx, msg(c.ID, "next", "an ordinary question")); err != nil {
			t.Fatal(err)
		}
		// The cursor takes the later message and passes the one ahead; the
		// same pass looks at the gap it left, and finds it there.
		if n, err := s.IndexMessages(ctx, 100, time.Now().Add(time.Minute), 0); err != nil || n != 2 {
			t.Fatalf("indexed %d (%v), want 2", n, err)
		}
		if !found("ordinary") || !found("zanzibar") {
			t.Fatal("a message is not found")
		}

		if s.Dialect() != "postgres" {
			return
		}
		// A transaction holds an id while a later message commits and is
		// indexed; it commits after.
		tx := s.Gorm().Begin()
		defer tx.Rollback()
		late := store.Message{WorkspaceID: ws, ConversationID: c.ID, Seq: 1001, ClientID: "late", AuthorKind: "visitor",
			AuthorID: "v", Body: "quokka delivery", CreatedAt: time.Now()}
		if err := tx.Create(&late).Error; err != nil {
			t.Fatal(err)
		}
		after, _, err := sc.AppendMessage(ctx, msg(c.ID, "after", "a walrus answer"))
		if err != nil {
			t.Fatal(err)
		}
		if after.ID <= late.ID {
			t.Fatalf("ids %d then %d: the late one should hold the lower", late.ID, after.ID)
		}
		indexAll(t, s)
		if !found("walrus") || found("quokka") {
			t.Fatal("before the late commit: want the later message only")
		}
		if err := tx.Commit().Error; err != nil {
			t.Fatal(err)
		}
		indexAll(t, s)
		if !found("quokka") {
			t.Fatal("the message committed late is not found")
		}
	})
}

// RebuildSearch builds a workspace's index again from what is stored (here
// after the postings were lost), leaves other workspaces' alone, and with
// no workspace rebuilds them all.
func TestSearchRebuild(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, c := seed(t, s)
		other, oc := seed(t, s)
		if _, _, err := sc.AppendMessage(ctx, msg(c.ID, "a", "the pangolin arrived")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := other.AppendMessage(ctx, msg(oc.ID, "b", "the pangolin left")); err != nil {
			t.Fatal(err)
		}
		indexAll(t, s)
		hits := func(sc *store.Scoped) int {
			t.Helper()
			r, err := sc.Search(ctx, store.SearchQuery{Text: "pangolin", Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			return len(r.Messages)
		}
		if hits(sc) != 1 || hits(other) != 1 {
			t.Fatal("not indexed")
		}
		for _, table := range []string{"search_terms", "search_doc_terms"} {
			if err := s.Gorm().Exec("DELETE FROM " + table).Error; err != nil {
				t.Fatal(err)
			}
		}
		if hits(sc) != 0 {
			t.Fatal("postings still there")
		}
		n, err := s.RebuildSearch(ctx, c.WorkspaceID)
		if err != nil || n.Messages != 1 || n.Visitors != 1 {
			t.Fatalf("rebuilt %+v, %v", n, err)
		}
		if hits(sc) != 1 || hits(other) != 0 {
			t.Fatalf("after one workspace's rebuild: %d, %d hits; want 1, 0", hits(sc), hits(other))
		}
		if r, _ := sc.Search(ctx, store.SearchQuery{Text: "visitor", Limit: 10}); len(r.Visitors) != 1 {
			t.Fatalf("visitors %+v", r.Visitors)
		}
		if _, err := s.RebuildSearch(ctx, "no-such-workspace"); err != store.ErrNotFound {
			t.Fatalf("unknown workspace: %v", err)
		}
		if _, err := s.RebuildSearch(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if hits(sc) != 1 || hits(other) != 1 {
			t.Fatal("after the whole rebuild")
		}
	})
}
