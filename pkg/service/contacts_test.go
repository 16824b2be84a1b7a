package service

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// contactVisitor opens a widget session and returns the visitor's id and
// token.
func contactVisitor(t *testing.T, ts *testServer) (id, token string) {
	t.Helper()
	s := ts.widgetSessionWith(t, widgetSessionReq{SiteID: ts.site.ID, Locale: "en-US"})
	return s.Visitor.ID, s.Token
}

func offlineForm(t *testing.T, ts *testServer, token, name, email string) {
	t.Helper()
	if code := ts.widgetPost(t, "/api/widget/offline", map[string]any{"token": token, "client_id": uuid.NewString(), "name": name, "email": email, "message": "call me"}, nil); code != 200 {
		t.Fatalf("offline form: %d", code)
	}
}

func prechatForm(t *testing.T, ts *testServer, token, name, email string) {
	t.Helper()
	if code := ts.widgetPost(t, "/api/widget/prechat", map[string]any{"token": token, "fields": map[string]any{"name": name, "email": email}}, nil); code != 200 {
		t.Fatalf("pre-chat form: %d", code)
	}
}

type contactPage struct {
	Contact       v1Contact
	Visitors      []contactVisitorJSON
	Conversations []protocol.ConversationInfo
}

// The pre-chat form makes a contact; the offline form of another visitor
// with the same email joins it; the Contacts API lists, searches, filters
// and pages them, shows a contact with both visitors' conversations, and
// changes its lead status and owner (audited); the visitor panel shows
// the lead status and the visitor's conversions. /api/v1/contacts serves
// the same, as the OpenAPI document says.
func TestContactsFromFormsThroughTheAPIs(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		v1, tok1 := contactVisitor(t, ts)
		prechatForm(t, ts, tok1, "Zoé Quill", "zoe.quill@example.com")
		v2, tok2 := contactVisitor(t, ts)
		offlineForm(t, ts, tok2, "Zoe", "ZOE.QUILL@example.com")
		_, tok3 := contactVisitor(t, ts)
		offlineForm(t, ts, tok3, "Max Rowe", "max@example.com")
		_, tok4 := contactVisitor(t, ts)
		prechatForm(t, ts, tok4, "Nobody", "") // a name alone is not a contact

		var list v1ContactList
		if code := admin.call(t, "GET", "/api/contacts", nil, &list); code != 200 || len(list.Data) != 2 {
			t.Fatalf("contacts: %d %+v", code, list)
		}
		if code := admin.call(t, "GET", "/api/contacts?q=quill", nil, &list); code != 200 || len(list.Data) != 1 || list.Data[0].Name != "Zoé Quill" {
			t.Fatalf("search: %d %+v", code, list)
		}
		zoe := list.Data[0].ID
		var page contactPage
		if code := admin.call(t, "GET", "/api/contacts/"+zoe, nil, &page); code != 200 || len(page.Visitors) != 2 || len(page.Conversations) != 1 ||
			page.Conversations[0].VisitorID != v2 || page.Contact.Email != "zoe.quill@example.com" {
			t.Fatalf("contact page: %d %+v", code, page)
		}
		for _, bad := range []map[string]any{{"status": "maybe"}, {"owner_id": uuid.NewString()}, {}} {
			var e struct{ Code string }
			if code := admin.call(t, "PATCH", "/api/contacts/"+zoe, bad, &e); code != 400 || e.Code != protocol.CodeInvalid {
				t.Fatalf("PATCH %v: %d %s", bad, code, e.Code)
			}
		}
		if code := admin.call(t, "PATCH", "/api/contacts/"+zoe, map[string]any{"status": "contacted", "owner_id": admin.id, "notes": "wants a quote"}, &page); code != 200 ||
			page.Contact.Status != "contacted" || page.Contact.OwnerID != admin.id || page.Contact.Notes != "wants a quote" {
			t.Fatalf("PATCH: %d %+v", code, page.Contact)
		}
		if code := admin.call(t, "GET", "/api/contacts?status=contacted&owner_id="+admin.id, nil, &list); code != 200 || len(list.Data) != 1 || list.Data[0].ID != zoe {
			t.Fatalf("filtered: %d %+v", code, list)
		}
		if code := admin.call(t, "GET", "/api/contacts?status=new", nil, &list); code != 200 || len(list.Data) != 1 || list.Data[0].ID == zoe {
			t.Fatalf("filtered by new: %d %+v", code, list)
		}
		var audit struct{ Entries []auditJSON }
		admin.call(t, "GET", "/api/audit", nil, &audit)
		if !slices.ContainsFunc(audit.Entries, func(e auditJSON) bool {
			return e.Action == "contact_updated" && e.Target == zoe && strings.Contains(e.Detail, "status=contacted") && !strings.Contains(e.Detail, "quote")
		}) {
			t.Fatalf("no audit entry of the change (or it holds the notes): %+v", audit.Entries)
		}

		// The visitor panel: the lead and the visitor's conversions.
		if _, ok, err := ts.st.Workspace(ts.site.WorkspaceID).AttributeConversion(ctx, ts.site.ID, v2, 49.5, "EUR", time.Now(), time.Hour); err != nil || !ok {
			t.Fatalf("conversion: %v %v", ok, err)
		}
		var panel struct {
			Contact     *v1Contact
			Conversions conversionsJSON
		}
		if code := admin.call(t, "GET", "/api/visitors/"+v2, nil, &panel); code != 200 || panel.Contact == nil || panel.Contact.Status != "contacted" ||
			panel.Conversions.Count != 1 || len(panel.Conversions.Values) != 1 || panel.Conversions.Values[0] != (currencyValue{"EUR", 49.5}) {
			t.Fatalf("panel: %d %+v", code, panel)
		}
		if code := admin.call(t, "GET", "/api/visitors/"+v1, nil, &panel); code != 200 || panel.Contact == nil || panel.Contact.ID != zoe || panel.Conversions.Count != 0 {
			t.Fatalf("panel of the other visitor: %d %+v", code, panel)
		}

		// /api/v1: pages of one, newest first; one contact; a change.
		doc := loadOpenAPI(t, ts)
		read, _ := newAPIToken(t, admin, "crm-read", "read")
		write, _ := newAPIToken(t, admin, "crm", "write")
		var ids []string
		cursor := ""
		for {
			res := apiCall(t, ts, read, "GET", "/api/v1/contacts?limit=1&cursor="+cursor, nil)
			checkAgainstDoc(t, doc, res)
			var p v1ContactList
			if res.status != 200 || json.Unmarshal(res.body, &p) != nil || len(p.Data) != 1 {
				t.Fatalf("v1 page: %d %s", res.status, res.body)
			}
			ids = append(ids, p.Data[0].ID)
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if len(ids) != 2 || ids[1] != zoe {
			t.Fatalf("v1 pages %v, want the newest first and Zoé last", ids)
		}
		for _, bad := range []string{"?status=maybe", "?limit=0", "?cursor=zzz"} {
			if res := apiCall(t, ts, read, "GET", "/api/v1/contacts"+bad, nil); res.status != 400 || res.code() != protocol.CodeInvalid {
				t.Fatalf("GET /api/v1/contacts%s: %d %s", bad, res.status, res.body)
			}
		}
		res := apiCall(t, ts, read, "GET", "/api/v1/contacts/"+zoe, nil)
		checkAgainstDoc(t, doc, res)
		var one v1ContactOne
		if json.Unmarshal(res.body, &one) != nil || len(one.Data.VisitorIDs) != 2 || len(one.Data.ConversationIDs) != 1 {
			t.Fatalf("v1 contact: %s", res.body)
		}
		res = apiCall(t, ts, write, "PATCH", "/api/v1/contacts/"+zoe, map[string]any{"status": "won"})
		checkAgainstDoc(t, doc, res)
		if json.Unmarshal(res.body, &one) != nil || one.Data.Status != "won" || one.Data.OwnerID != admin.id {
			t.Fatalf("v1 PATCH: %d %s", res.status, res.body)
		}
	})
}

// An admin deletes a contact from the dashboard, a write token through
// /api/v1: the contact goes (audited), its visitor, conversation and
// messages stay. An agent may not delete one.
func TestDeleteContactKeepsTheConversations(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		sc := ts.st.Workspace(ts.site.WorkspaceID)
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		contactWithChat := func(email string) (contactID, convID string) {
			v := ts.visitor(t)
			w := v.hello(nil)
			conv := v.start()
			v.sendMsg(conv.ID, "m1", "my order never came")
			link, err := sc.LinkContact(ctx, w.Self.ID, store.ContactFacts{Email: email}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return link.Contact.ID, conv.ID
		}
		kept := func(convID string) {
			t.Helper()
			ms, err := sc.MessagesAfter(ctx, convID, 0, 10)
			if err != nil || !slices.ContainsFunc(ms, func(m store.Message) bool { return m.Body == "my order never came" }) {
				t.Fatalf("the conversation's messages after the contact's delete: %v %v", ms, err)
			}
		}

		zoe, conv := contactWithChat("zoe@example.com")
		agent := admin.newAgent(t, "Bob", nil)
		if code := agent.call(t, "DELETE", "/api/contacts/"+zoe, nil, nil); code != http.StatusForbidden {
			t.Fatalf("an agent deletes a contact: %d", code)
		}
		var gone struct{ ID string }
		if code := admin.call(t, "DELETE", "/api/contacts/"+zoe, nil, &gone); code != 200 || gone.ID != zoe {
			t.Fatalf("delete: %d %+v", code, gone)
		}
		var e struct{ Code string }
		if code := admin.call(t, "GET", "/api/contacts/"+zoe, nil, &e); code != 404 || e.Code != protocol.CodeNotFound {
			t.Fatalf("the deleted contact: %d %q", code, e.Code)
		}
		if code := admin.call(t, "DELETE", "/api/contacts/"+zoe, nil, &e); code != 404 {
			t.Fatalf("deleted twice: %d", code)
		}
		kept(conv)
		var audit struct{ Entries []auditJSON }
		admin.call(t, "GET", "/api/audit", nil, &audit)
		if !slices.ContainsFunc(audit.Entries, func(e auditJSON) bool { return e.Action == "contact_deleted" && e.Target == zoe }) {
			t.Fatalf("no audit entry of the delete: %+v", audit.Entries)
		}

		rowe, conv := contactWithChat("max.rowe@example.com")
		write, _ := newAPIToken(t, admin, "crm", "write")
		res := apiCall(t, ts, write, "DELETE", "/api/v1/contacts/"+rowe, nil)
		checkAgainstDoc(t, loadOpenAPI(t, ts), res)
		var one v1ContactGone
		if res.status != 200 || json.Unmarshal(res.body, &one) != nil || one.Data.ID != rowe {
			t.Fatalf("v1 DELETE: %d %s", res.status, res.body)
		}
		if _, err := sc.Contact(ctx, rowe); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the contact after the API's delete: %v", err)
		}
		kept(conv)
	})
}

// contact.created reaches a subscribed webhook once per new contact (not
// for a form filled again, nor for a second visitor of the same person),
// including a verified sign-in's; csat.received when a rating arrives.
// Both are signed.
func TestWebhookContactCreatedOnceAndCSATReceived(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			rcv := newReceiver(t, 0)
			ts := newTestServerWith(t, st, nil, ratelimit.Rules{}, webhookArgs...)
			startWebhooks(t, ts)
			admin := ts.signIn(t, "admin@parley.local", adminPassword)
			hook := createWebhook(t, admin, rcv.URL, "contact.created", "csat.received")
			rcv.mu.Lock()
			rcv.secret = hook.Secret
			rcv.mu.Unlock()

			_, tok1 := contactVisitor(t, ts)
			prechatForm(t, ts, tok1, "Ada", "ada@example.com")
			prechatForm(t, ts, tok1, "Ada", "ada@example.com")
			offlineForm(t, ts, tok1, "Ada", "ada@example.com")
			_, tok2 := contactVisitor(t, ts)
			offlineForm(t, ts, tok2, "Ada L.", "ADA@example.com")
			now := time.Now()
			if code, _ := ts.session(t, widgetSessionReq{IdentityToken: identityJWT([]byte(ts.site.Secret),
				map[string]any{"sub": "u-1", "name": "Bea", "email": "bea@example.com", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})}); code != 200 {
				t.Fatalf("verified session: %d", code)
			}
			// The same user again (another page load): no new contact.
			if code, _ := ts.session(t, widgetSessionReq{IdentityToken: identityJWT([]byte(ts.site.Secret),
				map[string]any{"sub": "u-1", "name": "Bea", "email": "bea@example.com", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})}); code != 200 {
				t.Fatalf("verified session again: %d", code)
			}

			// A rated chat.
			v, token := ts.visitorOnPage(t, "https://shop.example/")
			conv := v.start()
			v.send(protocol.Close{Envelope: protocol.Envelope{Type: protocol.TypeClose}, Conversation: conv.ID})
			for {
				var f protocol.Conversation
				v.next(protocol.TypeConversation, &f)
				if f.Conversation.ID == conv.ID && f.Conversation.Status == protocol.ConversationClosed {
					break
				}
			}
			if code := ts.widgetPost(t, "/api/widget/csat", map[string]any{"token": token, "conversation": conv.ID, "rating": 4, "comment": "kind"}, nil); code != 200 {
				t.Fatalf("rating: %d", code)
			}

			// Deliveries are queued in the request that made the event.
			var queued int64
			st.Gorm().Raw("SELECT COUNT(*) FROM webhook_deliveries WHERE event = 'contact.created'").Scan(&queued)
			if queued != 2 {
				t.Fatalf("%d contact.created deliveries queued, want 2 (Ada and Bea)", queued)
			}
			waitWithin(t, "three events", 10*time.Second, func() bool { return len(rcv.requests()) >= 3 })
			var emails []string
			csat := 0
			for _, r := range rcv.requests() {
				if r.verified != nil {
					t.Fatalf("%s: signature %v", r.event.Type, r.verified)
				}
				switch r.event.Type {
				case "contact.created":
					c := r.event.Data.Contact
					if c == nil || c.ID == "" || c.Status != "new" {
						t.Fatalf("contact.created data %+v", c)
					}
					emails = append(emails, c.Email)
				case "csat.received":
					csat++
					if r.event.Data.Conversation == nil || r.event.Data.Conversation.ID != conv.ID || r.event.Data.Detail["rating"] != float64(4) {
						t.Fatalf("csat.received data %+v", r.event.Data)
					}
				}
			}
			slices.Sort(emails)
			if !slices.Equal(emails, []string{"ada@example.com", "bea@example.com"}) || csat != 1 {
				t.Fatalf("contacts %v and %d ratings delivered", emails, csat)
			}
		})
	}
}
