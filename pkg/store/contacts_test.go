package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/keyring"
	"github.com/parleychat/parley/pkg/store"
)

// newVisitor makes a visitor of sc's workspace on the site of c.
func newVisitor(t *testing.T, sc *store.Scoped, c store.Conversation, userID, email string) store.Visitor {
	t.Helper()
	v, err := sc.CreateVisitor(context.Background(), store.Visitor{ID: uuid.NewString(), SiteID: c.SiteID, Name: "Visitor 0042",
		UserID: userID, Email: email, CreatedAt: time.Now(), LastSeenAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func link(t *testing.T, sc *store.Scoped, visitorID string, f store.ContactFacts) store.ContactLink {
	t.Helper()
	l, err := sc.LinkContact(context.Background(), visitorID, f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A visitor who gives an email is a contact; a second visitor with the
// same email (another case) joins it, not a new one; their
// conversations are both the contact's. The fields are sealed and the
// email is matched by its keyed hash, never stored in clear.
func TestContactMergesByEmail(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, c := seed(t, s)
		ctx := context.Background()
		if l := link(t, sc, c.VisitorID, store.ContactFacts{}); l.Contact.ID != "" || l.Created {
			t.Fatalf("an anonymous visitor became a contact: %+v", l)
		}
		first := link(t, sc, c.VisitorID, store.ContactFacts{Name: "Zoé Quill", Email: "Zoe.Quill@example.com", Phone: "+33 1 23"})
		if !first.Created || first.Contact.Email != "zoe.quill@example.com" || first.Contact.Name != "Zoé Quill" || first.Contact.Status != store.LeadNew {
			t.Fatalf("first link %+v", first)
		}
		if again := link(t, sc, c.VisitorID, store.ContactFacts{Email: "zoe.quill@example.com"}); again.Created || again.Contact.ID != first.Contact.ID {
			t.Fatalf("the same visitor again made %+v", again)
		}

		other := newVisitor(t, sc, c, "", "")
		c2, err := sc.CreateConversation(ctx, store.Conversation{ID: uuid.NewString(), SiteID: c.SiteID, VisitorID: other.ID, Status: "offline"})
		if err != nil {
			t.Fatal(err)
		}
		second := link(t, sc, other.ID, store.ContactFacts{Email: " ZOE.QUILL@example.com "})
		if second.Created || second.Contact.ID != first.Contact.ID {
			t.Fatalf("the same email made another contact: %+v", second)
		}
		vs, err := sc.ContactVisitors(ctx, first.Contact.ID)
		if err != nil || len(vs) != 2 {
			t.Fatalf("visitors %v %v", vs, err)
		}
		cs, err := sc.ContactConversations(ctx, first.Contact.ID, 10)
		if err != nil || len(cs) != 2 || !slices.ContainsFunc(cs, func(x store.Conversation) bool { return x.ID == c2.ID }) {
			t.Fatalf("conversations %v %v", cs, err)
		}
		var n int64
		s.Gorm().Raw("SELECT COUNT(*) FROM contacts").Scan(&n)
		if n != 1 {
			t.Fatalf("%d contacts stored, want 1", n)
		}
		var row struct{ Name, Email, Phone, EmailKey string }
		s.Gorm().Raw("SELECT name, email, phone, email_key FROM contacts").Scan(&row)
		for _, v := range []string{row.Name, row.Email, row.Phone} {
			if _, err := keyring.KeyID(v); err != nil {
				t.Fatalf("a contact field is not sealed: %q", v)
			}
		}
		if len(row.EmailKey) != 64 || strings.Contains(row.EmailKey, "zoe") {
			t.Fatalf("email key %q", row.EmailKey)
		}

		// Found by name or email words, filtered by status and owner.
		for _, q := range []string{"zoe", "quill example", "ZOÉ"} {
			got, err := sc.Contacts(ctx, store.ContactFilter{Query: q, Limit: 10})
			if err != nil || len(got) != 1 || got[0].ID != first.Contact.ID {
				t.Fatalf("search %q: %v %v", q, got, err)
			}
		}
		if got, _ := sc.Contacts(ctx, store.ContactFilter{Query: "quill nobody", Limit: 10}); len(got) != 0 {
			t.Fatalf("search with a missing word found %v", got)
		}
		won, owner := store.LeadWon, uuid.NewString()
		if _, err := sc.UpdateContact(ctx, first.Contact.ID, store.ContactEdit{Status: &won, OwnerID: &owner}, time.Now()); err != nil {
			t.Fatal(err)
		}
		if got, _ := sc.Contacts(ctx, store.ContactFilter{Status: store.LeadNew, Limit: 10}); len(got) != 0 {
			t.Fatalf("status filter: %v", got)
		}
		if got, _ := sc.Contacts(ctx, store.ContactFilter{Status: won, OwnerID: owner, Limit: 10}); len(got) != 1 {
			t.Fatalf("status and owner filter: %v", got)
		}

		// Deleting one visitor keeps the contact for the other; deleting
		// the last takes the contact and its index with it.
		if _, err := sc.DeleteVisitor(ctx, c.VisitorID); err != nil {
			t.Fatal(err)
		}
		if _, err := sc.Contact(ctx, first.Contact.ID); err != nil {
			t.Fatalf("contact gone with one of two visitors: %v", err)
		}
		ex, err := sc.ExportVisitor(ctx, other.ID)
		if err != nil || ex.Contact == nil || ex.Contact.ID != first.Contact.ID || ex.Contact.Email != "zoe.quill@example.com" {
			t.Fatalf("export %+v %v", ex.Contact, err)
		}
		del, err := sc.DeleteVisitor(ctx, other.ID)
		if err != nil || del["contacts"] != 1 {
			t.Fatalf("deleted %v %v", del, err)
		}
		if _, err := sc.Contact(ctx, first.Contact.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("contact after its last visitor: %v", err)
		}
		s.Gorm().Raw("SELECT COUNT(*) FROM search_doc_terms WHERE kind = 'c'").Scan(&n)
		if n != 0 {
			t.Fatalf("%d index rows of the deleted contact", n)
		}
	})
}

// A verified user is one contact across visitors; an anonymous visitor's
// contact that turns out to be the same person (the email) is merged into
// the older one, keeping both visitors and the lead's status.
func TestContactMergesByVerifiedUser(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, c := seed(t, s)
		ctx := context.Background()
		anon := link(t, sc, c.VisitorID, store.ContactFacts{Email: "max@example.com"})
		contacted := store.LeadContacted
		if _, err := sc.UpdateContact(ctx, anon.Contact.ID, store.ContactEdit{Status: &contacted}, time.Now()); err != nil {
			t.Fatal(err)
		}
		u1 := newVisitor(t, sc, c, "user-7", "")
		byUser := link(t, sc, u1.ID, store.ContactFacts{Name: "Max"})
		if !byUser.Created || byUser.Contact.UserID != "user-7" || byUser.Contact.ID == anon.Contact.ID {
			t.Fatalf("verified user's contact %+v", byUser)
		}
		// The same user on another site (another visitor): the same contact.
		u2 := newVisitor(t, sc, c, "user-7", "")
		if l := link(t, sc, u2.ID, store.ContactFacts{}); l.Created || l.Contact.ID != byUser.Contact.ID {
			t.Fatalf("second visitor of user-7: %+v", l)
		}
		// The verified user's backend now gives the anonymous contact's
		// email: the two are one person, merged into the older.
		merged := link(t, sc, u1.ID, store.ContactFacts{Email: "max@example.com"})
		if merged.Contact.ID != anon.Contact.ID || len(merged.Merged) != 1 || merged.Merged[0] != byUser.Contact.ID {
			t.Fatalf("merge %+v", merged)
		}
		if ct := merged.Contact; ct.UserID != "user-7" || ct.Name != "Max" || ct.Status != store.LeadContacted {
			t.Fatalf("merged contact %+v", ct)
		}
		vs, _ := sc.ContactVisitors(ctx, anon.Contact.ID)
		if len(vs) != 3 {
			t.Fatalf("merged contact has %d visitors, want 3", len(vs))
		}
		if _, err := sc.Contact(ctx, byUser.Contact.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("merged-away contact: %v", err)
		}
		// Another verified user with the same email is someone else.
		u3 := newVisitor(t, sc, c, "user-8", "")
		if l := link(t, sc, u3.ID, store.ContactFacts{Email: "max@example.com"}); !l.Created || l.Contact.ID == anon.Contact.ID {
			t.Fatalf("another user with the same email: %+v", l)
		}
	})
}

// Two requests linking the same new email at once make one contact.
func TestContactLinkingRacesMakeOne(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, c := seed(t, s)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for i := 0; i < 4; i++ {
			v := newVisitor(t, sc, c, "", "")
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := sc.LinkContact(context.Background(), v.ID, store.ContactFacts{Email: "race@example.com"}, time.Now())
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var n int64
		s.Gorm().Raw("SELECT COUNT(*) FROM contacts").Scan(&n)
		if n != 1 {
			t.Fatalf("%d contacts for one email", n)
		}
	})
}

// Another workspace's contact is not found, not listed, not changed, and
// its email does not match.
func TestContactsStayInTheirWorkspace(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, ca := seed(t, s)
		b, cb := seed(t, s)
		la := link(t, a, ca.VisitorID, store.ContactFacts{Email: "same@example.com"})
		lb := link(t, b, cb.VisitorID, store.ContactFacts{Email: "same@example.com"})
		if !la.Created || !lb.Created || la.Contact.ID == lb.Contact.ID {
			t.Fatalf("one email in two workspaces: %+v %+v", la, lb)
		}
		if _, err := b.Contact(ctx, la.Contact.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("b reads a's contact: %v", err)
		}
		won := store.LeadWon
		if _, err := b.UpdateContact(ctx, la.Contact.ID, store.ContactEdit{Status: &won}, time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("b changes a's contact: %v", err)
		}
		if _, err := b.ContactOfVisitor(ctx, ca.VisitorID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("b reads a's visitor's contact: %v", err)
		}
		if vs, _ := b.ContactVisitors(ctx, la.Contact.ID); len(vs) != 0 {
			t.Fatalf("b lists a's contact's visitors: %v", vs)
		}
		got, err := b.Contacts(ctx, store.ContactFilter{Query: "same", Limit: 10})
		if err != nil || len(got) != 1 || got[0].ID != lb.Contact.ID {
			t.Fatalf("b's search: %v %v", got, err)
		}
		if _, err := b.LinkContact(ctx, ca.VisitorID, store.ContactFacts{}, time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("b links a's visitor: %v", err)
		}
	})
}

// Deleting a contact takes its row (with the email key) and its index
// words, and unlinks its visitors; the visitors, conversations and
// messages stay. Another workspace cannot delete it.
func TestDeleteContactKeepsConversations(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sc, c := seed(t, s)
		other, _ := seed(t, s)
		if _, _, err := sc.AppendMessage(ctx, msg(c.ID, "m1", "my order never came")); err != nil {
			t.Fatal(err)
		}
		l := link(t, sc, c.VisitorID, store.ContactFacts{Name: "Zoé Quill", Email: "zoe@example.com"})
		if err := other.DeleteContact(ctx, l.Contact.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace deletes the contact: %v", err)
		}
		if err := sc.DeleteContact(ctx, l.Contact.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := sc.Contact(ctx, l.Contact.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("contact after delete: %v", err)
		}
		if err := sc.DeleteContact(ctx, l.Contact.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		var n int64
		s.Gorm().Raw("SELECT COUNT(*) FROM contacts").Scan(&n)
		if n != 0 {
			t.Fatalf("%d contact rows left", n)
		}
		s.Gorm().Raw("SELECT COUNT(*) FROM search_doc_terms WHERE kind = 'c'").Scan(&n)
		if n != 0 {
			t.Fatalf("%d index rows of the deleted contact", n)
		}
		if got, _ := sc.Contacts(ctx, store.ContactFilter{Query: "zoe", Limit: 10}); len(got) != 0 {
			t.Fatalf("search finds the deleted contact: %v", got)
		}
		if _, err := sc.ContactOfVisitor(ctx, c.VisitorID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the visitor still points at the contact: %v", err)
		}
		ms, err := sc.MessagesAfter(ctx, c.ID, 0, 10)
		if err != nil || len(ms) != 1 || ms[0].Body != "my order never came" {
			t.Fatalf("messages after the contact's delete: %v %v", ms, err)
		}
		if _, err := sc.Visitor(ctx, c.VisitorID); err != nil {
			t.Fatalf("visitor after the contact's delete: %v", err)
		}
		// The visitor is still known: the next link makes a new contact.
		if again := link(t, sc, c.VisitorID, store.ContactFacts{Email: "zoe@example.com"}); !again.Created || again.Contact.ID == l.Contact.ID {
			t.Fatalf("relinked %+v", again)
		}
	})
}

// A visitor's conversions are summed by currency.
func TestConversionsOfVisitor(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sc, c := seed(t, s)
		ctx := context.Background()
		for _, p := range []struct {
			v   float64
			cur string
		}{{10, "EUR"}, {5.5, "EUR"}, {20, "USD"}} {
			if _, ok, err := sc.AttributeConversion(ctx, c.SiteID, c.VisitorID, p.v, p.cur, time.Now(), time.Hour); err != nil || !ok {
				t.Fatalf("attribute: %v %v", ok, err)
			}
		}
		got, err := sc.ConversionsOfVisitor(ctx, c.VisitorID)
		if err != nil || got.Count != 3 || got.Values["EUR"] != 15.5 || got.Values["USD"] != 20 {
			t.Fatalf("conversions %+v %v", got, err)
		}
	})
}

// After a key rotation, Reencrypt reseals a contact's name, email, phone
// and notes under the new key, and the contact reads back (and is still
// matched by its email) once the old key is gone.
func TestReencryptResealsContacts(t *testing.T) {
	ctx := context.Background()
	rot := store.NewKeyRotation(t)
	s1 := rot.Old()
	sc, c := seed(t, s1)
	l := link(t, sc, c.VisitorID, store.ContactFacts{Name: "Ana Lima", Email: "ana@example.com", Phone: "+351 21 000"})
	notes := "wants a quote"
	if _, err := sc.UpdateContact(ctx, l.Contact.ID, store.ContactEdit{Notes: &notes}, time.Now()); err != nil {
		t.Fatal(err)
	}
	s2, ring2 := rot.Rotated()
	if _, err := s2.Reencrypt(ctx, ring2); err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"name", "email", "phone", "notes"} {
		var raw string
		s2.Gorm().Raw("SELECT " + col + " FROM contacts").Scan(&raw)
		if id, err := keyring.KeyID(raw); err != nil || id != "k2" {
			t.Errorf("contacts.%s under %q after Reencrypt (%v)", col, id, err)
		}
	}
	s3 := rot.Final() // the old key is gone
	sc3 := s3.Workspace(sc.WorkspaceID())
	got, err := sc3.Contact(ctx, l.Contact.ID)
	if err != nil || got.Name != "Ana Lima" || got.Email != "ana@example.com" || got.Phone != "+351 21 000" || got.Notes != notes {
		t.Fatalf("after rotation: %+v %v", got, err)
	}
	other := newVisitor(t, sc3, c, "", "")
	if again := link(t, sc3, other.ID, store.ContactFacts{Email: "ANA@example.com"}); again.Created || again.Contact.ID != l.Contact.ID {
		t.Fatalf("email match after rotation: %+v", again)
	}
}
