package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/store"
)

// Appends that share one transaction keep their own results: a closed
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
		if err := sc.CloseConversation(ctx, closed, store.Require{}, time.Now()); err != nil {
			t.Fatal(err)
		}
		failInserts(t, s, "poison")

		// Line every append up in the queue first, so they share one batch.
		release := store.HoldCommits(s)
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
		for deadline := time.Now().Add(20 * time.Second); store.PendingAppends(s) < len(calls); {
			if time.Now().After(deadline) {
				release()
				t.Fatalf("%d of %d appends queued", store.PendingAppends(s), len(calls))
			}
			time.Sleep(5 * time.Millisecond)
		}
		release()
		wg.Wait()

		seqs := map[string]map[int64]string{}
		for _, c := range calls {
			switch {
			case c.client == "poison":
				if c.err == nil || !strings.Contains(c.err.Error(), "injected") {
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
		heal := failInserts(t, s, "%")
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { _, _, errs[i] = sc.AppendMessage(ctx, msg(c.ID, fmt.Sprintf("m%d", i), "hi")) })
		}
		wg.Wait()
		for i, err := range errs {
			if err == nil || !strings.Contains(err.Error(), "injected") {
				t.Fatalf("member %d: %v, want the injected failure", i, err)
			}
		}
		heal()
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

// failInserts makes the database itself refuse inserts of messages whose
// client id is LIKE pattern (a trigger raising "injected"), as a failing
// disk or a constraint would; the returned func removes the trigger.
func failInserts(t *testing.T, s *store.Store, pattern string) func() {
	t.Helper()
	db := s.Gorm()
	var create, drop []string
	if s.Dialect() == "postgres" {
		create = []string{
			`CREATE FUNCTION test_fail_insert() RETURNS trigger AS $$ BEGIN
				IF NEW.client_id LIKE '` + pattern + `' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
			`CREATE TRIGGER test_fail_insert BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION test_fail_insert()`,
		}
		drop = []string{`DROP TRIGGER test_fail_insert ON messages`, `DROP FUNCTION test_fail_insert()`}
	} else {
		create = []string{`CREATE TRIGGER test_fail_insert BEFORE INSERT ON messages WHEN NEW.client_id LIKE '` + pattern + `'
			BEGIN SELECT RAISE(ABORT, 'injected failure'); END`}
		drop = []string{`DROP TRIGGER test_fail_insert`}
	}
	for _, q := range create {
		if err := db.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		for _, q := range drop {
			if err := db.Exec(q).Error; err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A batch is stored with a few statements for all its members (one UPDATE
// for its conversations, one INSERT for its messages); the members it
// cannot decide that way go one by one in the same transaction. Each keeps
// its own result: seqs in queue order with no gap, each ack with its
// stored row's id, a conversation's preview its last message's, and a
// resend, a refusal or a mix of conditions only its own outcome.
func TestGroupCommitStoresABatchTogether(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, first := seed(t, s)
		conv := map[string]string{}
		for _, name := range []string{"plain", "resent", "closed", "mixed", "twice", "intruded"} {
			c, err := sc.CreateConversation(ctx, store.Conversation{ID: uuid.NewString(), SiteID: first.SiteID, VisitorID: first.VisitorID, Status: "open"})
			if err != nil {
				t.Fatal(err)
			}
			conv[name] = c.ID
		}
		if _, _, err := sc.AppendMessage(ctx, msg(conv["resent"], "old", "before")); err != nil {
			t.Fatal(err)
		}
		if err := sc.CloseConversation(ctx, conv["closed"], store.Require{}, time.Now()); err != nil {
			t.Fatal(err)
		}
		type sent struct {
			conv, client, body string
			need               store.Require
			a                  store.Appended
			err                error
		}
		mine, stranger := store.Require{Visitor: first.VisitorID}, store.Require{Visitor: uuid.NewString()}
		calls := []*sent{
			{conv: "plain", client: "p1", body: "one"}, {conv: "resent", client: "r1", body: "new"},
			{conv: "plain", client: "p2", body: "two"}, {conv: "closed", client: "c1"},
			{conv: "mixed", client: "x1", body: "x1", need: mine}, {conv: "twice", client: "t1", body: "first"},
			{conv: "resent", client: "old", body: "again"}, {conv: "mixed", client: "x2", body: "x2"},
			{conv: "plain", client: "p3", body: "three"}, {conv: "twice", client: "t1", body: "again"},
			{conv: "intruded", client: "i1", need: stranger}, {conv: "closed", client: "c2"},
		}
		// Queue them one after the other, so the queue's order is known.
		release := store.HoldCommits(s)
		var wg sync.WaitGroup
		for i, c := range calls {
			wg.Go(func() { c.a, c.err = sc.Append(ctx, msg(conv[c.conv], c.client, c.body), c.need) })
			for deadline := time.Now().Add(20 * time.Second); store.PendingAppends(s) <= i; {
				if time.Now().After(deadline) {
					release()
					t.Fatalf("%d of %d appends queued", store.PendingAppends(s), i+1)
				}
				time.Sleep(time.Millisecond)
			}
		}
		release()
		wg.Wait()

		want := map[string]struct {
			seq int64
			dup bool
			err error
		}{
			"plain/p1": {seq: 1}, "plain/p2": {seq: 2}, "plain/p3": {seq: 3},
			"resent/r1": {seq: 2}, "resent/old": {seq: 1, dup: true},
			"closed/c1": {err: store.ErrClosed}, "closed/c2": {err: store.ErrClosed},
			"mixed/x1": {seq: 1}, "mixed/x2": {seq: 2},
			"intruded/i1": {err: store.ErrNotFound},
		}
		twice := 0
		for _, c := range calls {
			if c.conv == "twice" {
				if c.err != nil || c.a.Seq != 1 {
					t.Fatalf("twice/%s: %+v, %v; want seq 1", c.client, c.a, c.err)
				}
				if c.a.Duplicate {
					twice++
				}
				continue
			}
			w := want[c.conv+"/"+c.client]
			if !errors.Is(c.err, w.err) || (w.err == nil && (c.a.Seq != w.seq || c.a.Duplicate != w.dup)) {
				t.Fatalf("%s/%s: seq %d dup %v err %v; want seq %d dup %v err %v", c.conv, c.client, c.a.Seq, c.a.Duplicate, c.err, w.seq, w.dup, w.err)
			}
		}
		if twice != 1 {
			t.Fatalf("%d of the two sends of one client id were told duplicate, want 1", twice)
		}
		acked := map[string]store.Appended{}
		for _, c := range calls {
			if c.err == nil && !c.a.Duplicate {
				acked[c.conv+"/"+c.client] = c.a
			}
		}
		for _, name := range []string{"plain", "resent", "mixed", "twice"} {
			ms, err := sc.MessagesAfter(ctx, conv[name], 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range ms {
				a, ok := acked[name+"/"+m.ClientID]
				if m.Seq != int64(i+1) || (ok && (a.ID != m.ID || a.Seq != m.Seq || a.Body != m.Body)) {
					t.Fatalf("%s stored %+v at %d; its ack said %+v", name, m, i, a)
				}
			}
		}
		c, err := sc.Conversation(ctx, conv["plain"])
		if err != nil || c.LastSeq != 3 || c.LastBody != "three" {
			t.Fatalf("conversation after the batch: last seq %d, preview %q (%v); want 3, \"three\"", c.LastSeq, c.LastBody, err)
		}
	})
}
