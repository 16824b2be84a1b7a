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
