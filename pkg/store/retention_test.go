package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/store"
)

// Retention deletes the conversations closed longer ago than the
// workspace's period, with every row keyed by them, and older page views,
// in batches; open and recent ones, and workspaces keeping forever, stay.
func TestRetentionPurge(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		sc, open := seed(t, s)
		closed := func(ago time.Duration, tag string) store.Conversation {
			c, err := sc.CreateConversation(ctx, store.Conversation{ID: uuid.NewString(), SiteID: open.SiteID, VisitorID: open.VisitorID, Status: "queued"})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := sc.AppendMessage(ctx, msg(c.ID, tag, "body "+tag)); err != nil {
				t.Fatal(err)
			}
			if _, err := sc.AddNote(ctx, store.Note{ID: uuid.NewString(), ConversationID: c.ID, AuthorID: "ann", Body: "n"}, nil); err != nil {
				t.Fatal(err)
			}
			if err := sc.CloseConversation(ctx, c.ID, store.Require{}, now); err != nil {
				t.Fatal(err)
			}
			s.Gorm().Exec("UPDATE conversations SET closed_at = ? WHERE id = ?", now.Add(-ago), c.ID)
			return c
		}
		old1, old2 := closed(40*24*time.Hour, "a"), closed(35*24*time.Hour, "b")
		recent := closed(10*24*time.Hour, "c")
		if err := sc.RecordPages(ctx, open.VisitorID, open.SiteID, []store.VisitorPage{
			{ID: "old", StartedAt: now.Add(-10 * 24 * time.Hour), URL: "https://a.test/old"},
			{ID: "new", StartedAt: now.Add(-time.Hour), URL: "https://a.test/new"}}); err != nil {
			t.Fatal(err)
		}
		keep, keepConv := seed(t, s) // keeps forever
		if _, _, err := keep.AppendMessage(ctx, msg(keepConv.ID, "k", "kept")); err != nil {
			t.Fatal(err)
		}
		if got, err := s.PurgeRetention(ctx, now, 1); err != nil || len(got) != 0 {
			t.Fatalf("no retention set: %v %v", got, err)
		}
		if err := sc.SetRetention(ctx, 30, 7); err != nil {
			t.Fatal(err)
		}
		got, err := s.PurgeRetention(ctx, now, 1)
		if err != nil {
			t.Fatal(err)
		}
		if p := got[sc.WorkspaceID()]; p.Conversations != 2 || p.PageViews != 1 || len(got) != 1 {
			t.Fatalf("purged %+v", got)
		}
		count := func(table, where string, args ...any) int64 {
			var n int64
			if err := s.Gorm().Table(table).Where(where, args...).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		old := []string{old1.ID, old2.ID}
		for _, table := range []string{"messages", "notes", "conversations"} {
			col := "conversation_id"
			if table == "conversations" {
				col = "id"
			}
			if n := count(table, col+" IN ?", old); n != 0 {
				t.Errorf("%s: %d rows of purged conversations left", table, n)
			}
			if n := count(table, col+" = ?", recent.ID); n != 1 {
				t.Errorf("%s: the recent conversation has %d rows", table, n)
			}
		}
		if n := count("conversations", "id IN ?", []string{open.ID, keepConv.ID}); n != 2 {
			t.Errorf("open and other workspace's conversations: %d left", n)
		}
		if n := count("messages", "conversation_id = ?", keepConv.ID); n != 1 {
			t.Errorf("the other workspace lost messages")
		}
		ps, _ := sc.VisitorPages(ctx, open.VisitorID, 10)
		if len(ps) != 1 || ps[0].ID != "new" {
			t.Errorf("pages left %+v", ps)
		}
		if got, _ := s.PurgeRetention(ctx, now, 1); len(got) != 0 {
			t.Errorf("a second run purged %v", got)
		}
	})
}
