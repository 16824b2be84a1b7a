package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/keyring"
	"github.com/parleychat/parley/pkg/store"
)

// A note takes its place after the conversation's last message without
// taking a seq (the visitor's resume and history never see it), its body
// is sealed at rest, and only the workspace's conversations take notes.
func TestNotesStayOutOfTheMessageStream(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, c := seed(t, s)
		ctx := context.Background()
		if _, _, err := sc.AppendMessage(ctx, msg(c.ID, "m1", "hello")); err != nil {
			t.Fatal(err)
		}
		bob := uuid.NewString()
		n, err := sc.AddNote(ctx, store.Note{ID: uuid.NewString(), ConversationID: c.ID, AuthorID: "ann", Body: "refund approved, @Bob check"}, []string{bob})
		if err != nil {
			t.Fatal(err)
		}
		if n.AfterSeq != 1 || n.Body != "refund approved, @Bob check" {
			t.Fatalf("note %+v", n)
		}
		if _, _, err := sc.AppendMessage(ctx, msg(c.ID, "m2", "anyone?")); err != nil {
			t.Fatal(err)
		}
		ms, _ := sc.MessagesAfter(ctx, c.ID, 0, 100)
		if len(ms) != 2 || ms[1].Seq != 2 {
			t.Fatalf("messages %+v: a note must not take a seq", ms)
		}
		for _, m := range ms {
			if strings.Contains(m.Body, "refund") {
				t.Fatal("the note is in the message stream")
			}
		}
		var raw string
		s.Gorm().Raw("SELECT body FROM notes WHERE id = ?", n.ID).Scan(&raw)
		if _, err := keyring.KeyID(raw); err != nil || strings.Contains(raw, "refund") {
			t.Fatalf("stored note body %q is not sealed (%v)", raw, err)
		}
		ns, err := sc.Notes(ctx, c.ID)
		if err != nil || len(ns) != 1 || ns[0].Body != n.Body || ns[0].AfterSeq != 1 {
			t.Fatalf("notes %+v %v", ns, err)
		}
		who, err := sc.NoteMentions(ctx, []string{n.ID})
		if err != nil || len(who[n.ID]) != 1 || who[n.ID][0] != bob {
			t.Fatalf("mentions %v %v", who, err)
		}

		// Bob lists it, unread, then read.
		list, err := sc.Mentions(ctx, bob, 10)
		if err != nil || len(list) != 1 || list[0].Body != n.Body || list[0].ReadAt != nil {
			t.Fatalf("bob's mentions %+v %v", list, err)
		}
		if err := sc.ReadMentions(ctx, bob, time.Now()); err != nil {
			t.Fatal(err)
		}
		if list, _ = sc.Mentions(ctx, bob, 10); len(list) != 1 || list[0].ReadAt == nil {
			t.Fatalf("after read: %+v", list)
		}

		// Another workspace cannot write into, list or read this one.
		other, _ := seed(t, s)
		if _, err := other.AddNote(ctx, store.Note{ID: uuid.NewString(), ConversationID: c.ID, AuthorID: "x", Body: "intruder"}, nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace's note: %v", err)
		}
		if ns, _ := other.Notes(ctx, c.ID); len(ns) != 0 {
			t.Fatalf("another workspace reads %d notes", len(ns))
		}
		if list, _ := other.Mentions(ctx, bob, 10); len(list) != 0 {
			t.Fatal("another workspace lists bob's mentions")
		}
	})
}

// Team replies are everyone's, personal ones their agent's; a shortcut is
// unique within its scope; bodies are sealed.
func TestCannedRepliesScopes(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, _ := seed(t, s)
		ctx := context.Background()
		ann, bob := uuid.NewString(), uuid.NewString()
		team, err := sc.CreateCannedReply(ctx, store.CannedReply{ID: uuid.NewString(), Shortcut: "hello", Body: "Hi {{visitor.name}}!"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sc.CreateCannedReply(ctx, store.CannedReply{ID: uuid.NewString(), Shortcut: "hello", Body: "dup"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a second team 'hello': %v", err)
		}
		own, err := sc.CreateCannedReply(ctx, store.CannedReply{ID: uuid.NewString(), AgentID: ann, Shortcut: "hello", Body: "Ann here"})
		if err != nil {
			t.Fatalf("ann's own 'hello' beside the team's: %v", err)
		}
		if rs, _ := sc.CannedReplies(ctx, ann); len(rs) != 2 {
			t.Fatalf("ann sees %d replies, want 2", len(rs))
		}
		rs, _ := sc.CannedReplies(ctx, bob)
		if len(rs) != 1 || rs[0].ID != team.ID || rs[0].Body != "Hi {{visitor.name}}!" {
			t.Fatalf("bob sees %+v, want only the team's", rs)
		}
		var raw string
		s.Gorm().Raw("SELECT body FROM canned_replies WHERE id = ?", own.ID).Scan(&raw)
		if _, err := keyring.KeyID(raw); err != nil {
			t.Fatalf("stored body %q is not sealed", raw)
		}
		if err := sc.UpdateCannedReply(ctx, own.ID, "hi", "Ann again"); err != nil {
			t.Fatal(err)
		}
		if got, err := sc.CannedReply(ctx, own.ID); err != nil || got.Shortcut != "hi" || got.Body != "Ann again" {
			t.Fatalf("updated %+v %v", got, err)
		}
		other, _ := seed(t, s)
		if _, err := other.CannedReply(ctx, own.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace reads it: %v", err)
		}
		if err := other.DeleteCannedReply(ctx, own.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace deletes it: %v", err)
		}
		if err := sc.DeleteCannedReply(ctx, own.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := sc.CannedReply(ctx, own.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted reply: %v", err)
		}
	})
}

func TestNotifyPrefsDefaultAndSaved(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, _ := seed(t, s)
		ctx := context.Background()
		ann := uuid.NewString()
		p, err := sc.NotifyPrefsOf(ctx, ann)
		if err != nil || p.Desktop || !p.Sound || !p.Mentions {
			t.Fatalf("defaults %+v %v", p, err)
		}
		p.Desktop, p.Sound, p.Messages = true, false, false
		if err := sc.SetNotifyPrefs(ctx, p); err != nil {
			t.Fatal(err)
		}
		p.Assigned = false
		if err := sc.SetNotifyPrefs(ctx, p); err != nil { // a second save updates
			t.Fatal(err)
		}
		got, _ := sc.NotifyPrefsOf(ctx, ann)
		if !got.Desktop || got.Sound || got.Messages || got.Assigned || !got.Mentions {
			t.Fatalf("saved %+v", got)
		}
	})
}
