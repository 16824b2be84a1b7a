package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// seed makes a workspace with a site, an agent and one queued conversation.
func seed(t testing.TB, s *store.Store) (*store.Scoped, store.Conversation) {
	t.Helper()
	ctx := context.Background()
	ws := store.Workspace{ID: uuid.NewString(), Name: "Acme"}
	site := store.Site{ID: uuid.NewString(), Name: "acme.test", Secret: "s"}
	agent := store.Agent{ID: uuid.NewString(), Email: uuid.NewString() + "@acme.test", Name: "Ann", Role: "admin", PasswordHash: "x"}
	if err := s.CreateWorkspace(ctx, ws, site, agent); err != nil {
		t.Fatal(err)
	}
	sc := s.Workspace(ws.ID)
	v, err := sc.CreateVisitor(ctx, store.Visitor{ID: uuid.NewString(), SiteID: site.ID, Name: "Visitor"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sc.CreateConversation(ctx, store.Conversation{ID: uuid.NewString(), SiteID: site.ID, VisitorID: v.ID, Status: "queued"})
	if err != nil {
		t.Fatal(err)
	}
	return sc, c
}

func eachStore(t *testing.T, f func(t *testing.T, s *store.Store)) {
	for name, s := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) { f(t, s) })
	}
}

func msg(conv, client, body string) store.Message {
	return store.Message{ConversationID: conv, ClientID: client, AuthorKind: "visitor", AuthorID: "v", AuthorName: "V", Body: body}
}

func TestSeqIsGapFreeUnderConcurrentSenders(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, c := seed(t, s)
		ctx := context.Background()
		const senders, each = 50, 4
		var wg sync.WaitGroup
		errs := make(chan error, senders*each)
		for i := 0; i < senders; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				for j := 0; j < each; j++ {
					if _, _, err := sc.AppendMessage(ctx, msg(c.ID, fmt.Sprintf("c-%d-%d", i, j), "hi")); err != nil {
						errs <- err
					}
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		ms, err := sc.MessagesAfter(ctx, c.ID, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != senders*each {
			t.Fatalf("stored %d messages, want %d", len(ms), senders*each)
		}
		for i, m := range ms {
			if m.Seq != int64(i+1) {
				t.Fatalf("message %d has seq %d: seqs must be 1..n without gaps", i, m.Seq)
			}
		}
		got, _ := sc.Conversation(ctx, c.ID)
		if got.LastSeq != senders*each {
			t.Fatalf("last_seq %d", got.LastSeq)
		}
	})
}

func TestResendIsIdempotent(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, c := seed(t, s)
		ctx := context.Background()
		first, dup, err := sc.AppendMessage(ctx, msg(c.ID, "same", "hello"))
		if err != nil || dup {
			t.Fatalf("first: %v dup=%v", err, dup)
		}
		// Concurrent resends of the same client id: one message, one seq.
		var wg sync.WaitGroup
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				again, dup, err := sc.AppendMessage(ctx, msg(c.ID, "same", "hello"))
				if err != nil || !dup || again.Seq != first.Seq {
					t.Errorf("resend: seq %d dup %v err %v, want seq %d dup", again.Seq, dup, err, first.Seq)
				}
			}()
		}
		wg.Wait()
		next, _, err := sc.AppendMessage(ctx, msg(c.ID, "other", "next"))
		if err != nil || next.Seq != first.Seq+1 {
			t.Fatalf("next seq %d err %v", next.Seq, err)
		}
		ms, _ := sc.MessagesAfter(ctx, c.ID, 0, 100)
		if len(ms) != 2 {
			t.Fatalf("stored %d messages, want 2", len(ms))
		}
	})
}

func TestResumeReturnsExactlyTheMissing(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, c := seed(t, s)
		ctx := context.Background()
		for i := 1; i <= 10; i++ {
			if _, _, err := sc.AppendMessage(ctx, msg(c.ID, fmt.Sprint(i), fmt.Sprint("m", i))); err != nil {
				t.Fatal(err)
			}
		}
		ms, err := sc.MessagesAfter(ctx, c.ID, 7, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 3 || ms[0].Seq != 8 || ms[2].Seq != 10 || ms[0].Body != "m8" {
			t.Fatalf("after 7: %+v", ms)
		}
		page, _ := sc.MessagesAfter(ctx, c.ID, 0, 4)
		if len(page) != 4 || page[3].Seq != 4 {
			t.Fatalf("limit: %d", len(page))
		}
	})
}

func TestWorkspaceScoping(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		_, c := seed(t, s)
		other, _ := seed(t, s)
		ctx := context.Background()
		if _, err := other.Conversation(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("read across workspaces: %v", err)
		}
		if _, _, err := other.AppendMessage(ctx, msg(c.ID, "x", "intrusion")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("write across workspaces: %v", err)
		}
		if err := other.Assign(ctx, c.ID, "someone", false); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("assign across workspaces: %v", err)
		}
		if ms, _ := other.MessagesAfter(ctx, c.ID, 0, 10); len(ms) != 0 {
			t.Fatal("messages across workspaces")
		}
	})
}

func TestClosedConversationRefusesMessages(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, c := seed(t, s)
		ctx := context.Background()
		if err := sc.CloseConversation(ctx, c.ID, store.Require{}, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := sc.AppendMessage(ctx, msg(c.ID, "late", "hello?")); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("send to closed: %v", err)
		}
		if _, _, err := sc.AppendMessage(ctx, msg("nope", "x", "hello?")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("send to missing: %v", err)
		}
	})
}

// Append's Require is checked in the append's transaction: a visitor
// writes only in its conversation (nor reads another's message by resending
// its client id), and an agent's append that must take a waiting
// conversation first is refused with nothing stored.
func TestAppendRequire(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, c := seed(t, s) // queued
		ctx := context.Background()
		if _, err := sc.Append(ctx, msg(c.ID, "m1", "hi"), store.Require{Visitor: c.VisitorID}); err != nil {
			t.Fatal(err)
		}
		other := store.Require{Visitor: uuid.NewString()}
		if _, err := sc.Append(ctx, msg(c.ID, "m2", "intrusion"), other); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another visitor's append: %v, want ErrNotFound", err)
		}
		if a, err := sc.Append(ctx, msg(c.ID, "m1", "probe"), other); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another visitor's resend of a stored id: %+v, %v, want ErrNotFound", a, err)
		}
		agent := store.Message{ConversationID: c.ID, ClientID: "a1", AuthorKind: "agent", AuthorID: "a", AuthorName: "A", Body: "hello"}
		if _, err := sc.Append(ctx, agent, store.Require{Taken: true}); !errors.Is(err, store.ErrWaiting) {
			t.Fatalf("agent's append to a queued conversation: %v, want ErrWaiting", err)
		}
		a, err := sc.Append(ctx, agent, store.Require{})
		if err != nil || a.Duplicate || a.Seq != 2 {
			t.Fatalf("append after the refusal: %+v, %v; want seq 2 (the refused one took none)", a, err)
		}
		if a.Conversation.Status != "queued" {
			t.Fatalf("appended to status %q, want queued", a.Conversation.Status)
		}
		if err := sc.Assign(ctx, c.ID, "a", false); err != nil {
			t.Fatal(err)
		}
		if a, err := sc.Append(ctx, msg(c.ID, "a2", "taken"), store.Require{Taken: true}); err != nil || a.Seq != 3 {
			t.Fatalf("agent's append to a taken conversation: %+v, %v", a, err)
		}
		if err := sc.CloseConversation(ctx, c.ID, store.Require{}, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := sc.Append(ctx, msg(c.ID, "late", "?"), store.Require{Visitor: c.VisitorID, Taken: true}); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("append to a closed conversation: %v, want ErrClosed", err)
		}
		if _, err := sc.Append(ctx, msg(c.ID, "late", "?"), other); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another visitor's append to a closed conversation: %v, want ErrNotFound", err)
		}
	})
}

func TestAssignIsCompareAndSet(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, c := seed(t, s)
		ctx := context.Background()
		var wg sync.WaitGroup
		wins := make(chan string, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if err := sc.Assign(ctx, c.ID, fmt.Sprint("agent", i), false); err == nil {
					wins <- fmt.Sprint("agent", i)
				} else if !errors.Is(err, store.ErrConflict) {
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
		close(wins)
		if n := len(wins); n != 1 {
			t.Fatalf("%d agents won the same conversation", n)
		}
	})
}

func TestMigrationsAreIdempotent(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		s, err := store.Open(context.Background(), dir+"/p.db")
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		s.Close()
	}
}

// Only the conversation's agent may write into it or close it once it is
// taken (Require.Agent), checked in the statement that writes: a waiting
// conversation is anyone's, another agent's is ErrNotOwner and nothing is
// stored or closed; a resend of one's own stored message still answers.
func TestAppendAndCloseRequireTheOwner(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, c := seed(t, s) // queued
		ctx := context.Background()
		say := func(client string) store.Message {
			return store.Message{ConversationID: c.ID, ClientID: client, AuthorKind: "agent", AuthorID: "ann", AuthorName: "Ann", Body: client}
		}
		ann, bob := store.Require{Agent: "ann"}, store.Require{Agent: "bob"}
		if _, err := sc.Append(ctx, say("waiting"), bob); err != nil {
			t.Fatalf("a waiting conversation is anyone's: %v", err)
		}
		if err := sc.Assign(ctx, c.ID, "ann", false); err != nil {
			t.Fatal(err)
		}
		if a, err := sc.Append(ctx, say("a1"), ann); err != nil || a.Seq != 2 {
			t.Fatalf("the owner's append: %+v, %v", a, err)
		}
		if _, err := sc.Append(ctx, say("b1"), bob); !errors.Is(err, store.ErrNotOwner) {
			t.Fatalf("another agent's append: %v, want ErrNotOwner", err)
		}
		// Ann hands it to Bob: now she is the other agent.
		if err := sc.Assign(ctx, c.ID, "bob", true); err != nil {
			t.Fatal(err)
		}
		if a, err := sc.Append(ctx, say("a1"), ann); err != nil || !a.Duplicate || a.Seq != 2 {
			t.Fatalf("the previous owner's resend of a stored message: %+v, %v", a, err)
		}
		if _, err := sc.Append(ctx, say("a2"), ann); !errors.Is(err, store.ErrNotOwner) {
			t.Fatalf("the previous owner's append: %v, want ErrNotOwner", err)
		}
		if err := sc.CloseConversation(ctx, c.ID, ann, time.Now()); !errors.Is(err, store.ErrNotOwner) {
			t.Fatalf("the previous owner's close: %v, want ErrNotOwner", err)
		}
		if got, _ := sc.Conversation(ctx, c.ID); got.Status != "open" || got.LastSeq != 2 {
			t.Fatalf("after the refusals: status %s, last seq %d; want open, 2", got.Status, got.LastSeq)
		}
		if a, err := sc.Append(ctx, say("b2"), bob); err != nil || a.Seq != 3 {
			t.Fatalf("the new owner's append: %+v, %v", a, err)
		}
		if err := sc.CloseConversation(ctx, c.ID, bob, time.Now()); err != nil {
			t.Fatalf("the owner's close: %v", err)
		}
		if err := sc.CloseConversation(ctx, c.ID, ann, time.Now()); err != nil {
			t.Fatalf("closing a closed conversation stays a no-op: %v", err)
		}
	})
}
