package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/parleychat/parley/pkg/store"
)

// Appends that share a transaction keep their own results: a closed
// conversation refuses only its message, a resend finds the original, and
// a member whose insert fails fails alone (the others are committed, with
// gap-free seqs, after the batch is retried member by member).
func TestGroupCommitMembersKeepTheirOwnResults(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, first := seed(t, s)
		convs := []string{first.ID}
		for len(convs) < 6 {
			c, err := sc.CreateConversation(ctx, store.Conversation{ID: uuid.NewString(), SiteID: first.SiteID, VisitorID: first.VisitorID, Status: "open"})
			if err != nil {
				t.Fatal(err)
			}
			convs = append(convs, c.ID)
		}
		closed := convs[5]
		if err := sc.CloseConversation(ctx, closed, time.Now()); err != nil {
			t.Fatal(err)
		}
		poison := errors.New("injected: this insert fails")
		s.Gorm().Callback().Create().Before("gorm:create").Register("test:poison", func(db *gorm.DB) {
			if m, ok := db.Statement.Dest.(*store.Message); ok && m.ClientID == "poison" {
				db.AddError(poison)
			}
		})

		// Hold the conversations' rows (and, on SQLite, its one connection)
		// so the appends queue up and go in together when it is released.
		hold := s.Gorm().Begin()
		if err := hold.Exec("UPDATE conversations SET updated_at = updated_at WHERE workspace_id = ?", sc.WorkspaceID()).Error; err != nil {
			t.Fatal(err)
		}
		type sent struct {
			conv, client string
			m            store.Message
			dup          bool
			err          error
		}
		var calls []*sent
		for _, conv := range convs {
			for j := range 3 {
				calls = append(calls, &sent{conv: conv, client: fmt.Sprintf("m%d", j)})
			}
		}
		calls = append(calls, &sent{conv: convs[0], client: "poison"}, &sent{conv: convs[1], client: "m0"}) // a resend
		var wg sync.WaitGroup
		for _, c := range calls {
			wg.Go(func() { c.m, c.dup, c.err = sc.AppendMessage(ctx, msg(c.conv, c.client, "hello")) })
		}
		for deadline := time.Now().Add(20 * time.Second); store.PendingAppends(s) < 2; {
			if time.Now().After(deadline) {
				hold.Rollback()
				t.Fatal("appends did not queue behind the held transaction")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := hold.Rollback().Error; err != nil {
			t.Fatal(err)
		}
		wg.Wait()

		seqs := map[string]map[int64]string{}
		for _, c := range calls {
			switch {
			case c.client == "poison":
				if !errors.Is(c.err, poison) {
					t.Fatalf("poisoned insert: %v, want the injected error", c.err)
				}
			case c.conv == closed:
				if !errors.Is(c.err, store.ErrClosed) {
					t.Fatalf("append to a closed conversation: %v, want ErrClosed", c.err)
				}
			case c.err != nil:
				t.Fatalf("%s/%s failed with its batch: %v", c.conv, c.client, c.err)
			default:
				if seqs[c.conv] == nil {
					seqs[c.conv] = map[int64]string{}
				}
				if other, ok := seqs[c.conv][c.m.Seq]; ok && other != c.client {
					t.Fatalf("seq %d given to %s and %s", c.m.Seq, other, c.client)
				}
				seqs[c.conv][c.m.Seq] = c.client
			}
		}
		for _, conv := range convs[:5] {
			ms, err := sc.MessagesAfter(ctx, conv, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != 3 {
				t.Fatalf("conversation stored %d messages, want 3 (the resend and the poisoned one store nothing)", len(ms))
			}
			for i, m := range ms {
				if m.Seq != int64(i+1) || m.Body != "hello" || seqs[conv][m.Seq] != m.ClientID {
					t.Fatalf("stored %d: seq %d client %s body %q; acks said %v", i, m.Seq, m.ClientID, m.Body, seqs[conv])
				}
			}
		}
		dups := 0
		for _, c := range calls {
			if c.conv == convs[1] && c.client == "m0" && c.dup {
				dups++
			}
		}
		if dups != 1 {
			t.Fatalf("%d of the two sends of one client id were told duplicate, want 1", dups)
		}
	})
}

// A batch whose commit fails hands the failure to every member: none is
// acked, none hangs, and a resend after recovery stores each once.
func TestGroupCommitFailedCommitFailsEveryMember(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, c := seed(t, s)
		down := errors.New("injected outage")
		var mu sync.Mutex
		failing := true
		fail := func(db *gorm.DB) {
			mu.Lock()
			defer mu.Unlock()
			if failing {
				db.AddError(down)
			}
		}
		s.Gorm().Callback().Create().Before("gorm:create").Register("test:outage", fail)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { _, _, errs[i] = sc.AppendMessage(ctx, msg(c.ID, fmt.Sprintf("m%d", i), "hi")) })
		}
		wg.Wait()
		for i, err := range errs {
			if !errors.Is(err, down) {
				t.Fatalf("member %d: %v, want the outage", i, err)
			}
		}
		mu.Lock()
		failing = false
		mu.Unlock()
		for i := range errs {
			wg.Go(func() { _, _, errs[i] = sc.AppendMessage(ctx, msg(c.ID, fmt.Sprintf("m%d", i), "hi")) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("resend %d after recovery: %v", i, err)
			}
		}
		ms, err := sc.MessagesAfter(ctx, c.ID, 0, 100)
		if err != nil || len(ms) != len(errs) || ms[len(ms)-1].Seq != int64(len(errs)) {
			t.Fatalf("stored %d messages (%v), want %d with seqs 1..%d", len(ms), err, len(errs), len(errs))
		}
	})
}
