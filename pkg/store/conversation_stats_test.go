package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// A conversation's figures are computed by one node at a time: while a
// claim holds, the catch-up leaves the conversation alone; once it runs
// out, the conversation is computed.
func TestConversationStatsClaims(t *testing.T) {
	for name, s := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ws, site, visitor := uuid.NewString(), uuid.NewString(), uuid.NewString()
			if err := s.CreateWorkspace(ctx, store.Workspace{ID: ws, Name: "Acme"}, store.Site{ID: site, Name: "acme.test", Secret: "s"},
				store.Agent{ID: uuid.NewString(), Email: uuid.NewString() + "@acme.test", Name: "Ann", Role: "admin", PasswordHash: "x"}); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			conv := store.Conversation{ID: uuid.NewString(), WorkspaceID: ws, SiteID: site, VisitorID: visitor, Status: "closed",
				LastSeq: 1, CreatedAt: now, ClosedAt: &now}
			db := s.Gorm()
			if err := db.Create(&conv).Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Create(&store.Message{WorkspaceID: ws, ConversationID: conv.ID, Seq: 1, ClientID: "a", AuthorKind: "visitor",
				AuthorID: visitor, Body: "x", CreatedAt: now}).Error; err != nil {
				t.Fatal(err)
			}
			// Another node's claim, held for a minute.
			held := now.Add(time.Minute)
			if err := db.Create(&store.ConversationStat{ConversationID: conv.ID, WorkspaceID: ws, Seq: -1, LeaseUntil: &held}).Error; err != nil {
				t.Fatal(err)
			}
			if n, err := s.RefreshConversationStats(ctx, 100); err != nil || n != 0 {
				t.Fatalf("while claimed: computed %d, %v", n, err)
			}
			if n, err := s.Workspace(ws).ComputeConversationStats(ctx, conv.ID); err != nil || n != 0 {
				t.Fatalf("close path while claimed: computed %d, %v", n, err)
			}
			// The node died: its claim runs out.
			if err := db.Model(&store.ConversationStat{}).Where("conversation_id = ?", conv.ID).Update("lease_until", now.Add(-time.Second)).Error; err != nil {
				t.Fatal(err)
			}
			if n, err := s.RefreshConversationStats(ctx, 100); err != nil || n != 1 {
				t.Fatalf("after the lease: computed %d, %v", n, err)
			}
			var st store.ConversationStat
			if err := db.Where("conversation_id = ?", conv.ID).Take(&st).Error; err != nil {
				t.Fatal(err)
			}
			if st.Seq != 1 || st.VisitorMessages != 1 || st.LeaseUntil != nil {
				t.Errorf("figures %+v", st)
			}
			// Done: nothing left, and computing again is harmless.
			if n, err := s.RefreshConversationStats(ctx, 100); err != nil || n != 0 {
				t.Fatalf("again: computed %d, %v", n, err)
			}
			if n, err := s.Workspace(ws).ComputeConversationStats(ctx, conv.ID); err != nil || n != 1 {
				t.Fatalf("close path again: computed %d, %v", n, err)
			}
		})
	}
}
