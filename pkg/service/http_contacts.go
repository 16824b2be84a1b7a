package service

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Contacts and leads (pkg/store/contacts.go): the dashboard's Contacts
// screen (/api/contacts), the lead status in the visitor panel, and
// /api/v1/contacts. A visitor becomes a contact when they are known:
// linkContact runs where that happens (the pre-chat and offline forms, a
// verified sign-in, an emailed reply) and tells webhooks once per new
// contact (contact.created).

// linkContact links the visitor to their contact after a source told
// facts about them, and emits contact.created when the contact is new.
// A failure is logged: the visitor's own action succeeded.
func (s *Server) linkContact(ctx context.Context, ws, visitorID string, facts store.ContactFacts) {
	link, err := s.store.Workspace(ws).LinkContact(ctx, visitorID, facts, time.Now().UTC())
	if err != nil {
		s.log.Warn("contact not linked", "visitor", visitorID, "err", err)
		return
	}
	if link.Created {
		s.conv.Emit(ctx, conversation.Event{Type: conversation.EventContactCreated, WorkspaceID: ws, ContactID: link.Contact.ID})
	}
	if len(link.Merged) > 0 {
		// Not an agent's action: the audit names the system as actor.
		e := store.AuditEntry{Action: "contact_merged", Target: link.Contact.ID, Detail: "merged " + strings.Join(link.Merged, ", "), CreatedAt: time.Now().UTC()}
		if err := s.store.Workspace(ws).Audit(ctx, e); err != nil {
			s.log.Warn("audit entry not stored", "action", e.Action, "workspace", ws, "err", err)
		}
	}
}

// contactStore is what the contacts API needs of one workspace's store.
type contactStore interface {
	Contacts(ctx context.Context, f store.ContactFilter) ([]store.Contact, error)
	Contact(ctx context.Context, id string) (store.Contact, error)
	UpdateContact(ctx context.Context, id string, e store.ContactEdit, now time.Time) (store.Contact, error)
	DeleteContact(ctx context.Context, id string) error
	ContactVisitors(ctx context.Context, contactID string) ([]store.Visitor, error)
	ContactConversations(ctx context.Context, contactID string, limit int) ([]store.Conversation, error)
	Agent(ctx context.Context, id string) (store.Agent, error)
}

// contactsAPI serves the contacts resource, for the dashboard (a session)
// and /api/v1 (a token) alike: ws says whose workspace the request is in.
type contactsAPI struct {
	store func(workspaceID string) contactStore
	infos func(ctx context.Context, workspaceID string, cs []store.Conversation) ([]protocol.ConversationInfo, error)
	audit func(c *gin.Context, workspaceID, action, target, detail string)
}

func (s *Server) contactsAPI() *contactsAPI {
	return &contactsAPI{store: func(ws string) contactStore { return s.store.Workspace(ws) }, infos: s.conv.Infos, audit: s.audit}
}

// contactConversations is how many conversations a contact's page lists.
const contactConversations = 100

// v1Contact is a contact as the API, the dashboard and webhooks show it.
type v1Contact struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
	// UserID: the site's own id of a verified user ("" when none).
	UserID string `json:"user_id"`
	// Status: new, contacted, won or lost.
	Status string `json:"status"`
	// OwnerID: the agent who owns the lead ("" when none).
	OwnerID string    `json:"owner_id"`
	Notes   string    `json:"notes"`
	Created time.Time `json:"created_at"`
	Updated time.Time `json:"updated_at"`
}

func v1ContactOf(c store.Contact) v1Contact {
	return v1Contact{ID: c.ID, Name: c.Name, Email: c.Email, Phone: c.Phone, UserID: c.UserID, Status: c.Status,
		OwnerID: c.OwnerID, Notes: c.Notes, Created: c.CreatedAt.UTC(), Updated: c.UpdatedAt.UTC()}
}

type (
	v1ContactList struct {
		Data       []v1Contact `json:"data"`
		NextCursor string      `json:"next_cursor"` // "" on the last page
	}
	// v1ContactDetail is a contact with its visitors and their
	// conversations (newest first, at most 100).
	v1ContactDetail struct {
		v1Contact
		VisitorIDs      []string `json:"visitor_ids"`
		ConversationIDs []string `json:"conversation_ids"`
	}
	v1ContactOne struct {
		Data v1ContactDetail `json:"data"`
	}
	// v1ContactGone answers a delete: the id of the contact deleted.
	v1ContactGone struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	// contactEdit changes a contact's lead: the fields given are set
	// (owner_id "" takes the owner away).
	contactEdit struct {
		Status  *string `json:"status,omitempty"`
		OwnerID *string `json:"owner_id,omitempty"`
		Notes   *string `json:"notes,omitempty"`
	}
)

var (
	docListContacts = apiDoc{ID: "listContacts", Summary: "List contacts (leads), newest first",
		Query: []apiQuery{
			{Name: "q", Description: "every word in the name or email (whole words)"},
			{Name: "status", Description: "only this lead status: new, contacted, won or lost"},
			{Name: "owner_id", Description: "only leads this agent owns"},
			queryLimit, queryCursor},
		Response: v1ContactList{}}
	docGetContact    = apiDoc{ID: "getContact", Summary: "Get a contact with its visitors and conversations", Response: v1ContactOne{}}
	docUpdateContact = apiDoc{ID: "updateContact", Summary: "Change a contact's lead status, owner or notes", Write: true,
		Request: contactEdit{}, Response: v1ContactOne{}}
	docDeleteContact = apiDoc{ID: "deleteContact", Write: true, Response: v1ContactGone{},
		Summary: "Delete a contact; its visitors, conversations and messages are kept (unlinked)"}
)

// contactFilter reads the list's query: q, status, owner_id, limit, cursor.
func contactFilter(c *gin.Context) (store.ContactFilter, error) {
	f := store.ContactFilter{Query: strings.TrimSpace(c.Query("q")), Status: c.Query("status"), OwnerID: c.Query("owner_id")}
	if f.Status != "" && !slices.Contains(store.LeadStatuses, f.Status) {
		return f, apierr.Invalid("status is one of new, contacted, won, lost")
	}
	if len(f.Query) > 200 {
		return f, apierr.Invalid("q is at most 200 characters")
	}
	var err error
	if f.Limit, err = pageLimit(c); err != nil {
		return f, err
	}
	f.After, err = pageAfter(c)
	return f, err
}

func (a *contactsAPI) list(ws func(*gin.Context) string) func(*gin.Context) error {
	return func(c *gin.Context) error {
		f, err := contactFilter(c)
		if err != nil {
			return err
		}
		limit := f.Limit
		f.Limit++ // one more tells whether there is a next page
		cs, err := a.store(ws(c)).Contacts(c.Request.Context(), f)
		if err != nil {
			return apierr.Unavailable("cannot list contacts right now; retry", err)
		}
		out := v1ContactList{Data: make([]v1Contact, 0, len(cs))}
		if len(cs) > limit {
			cs = cs[:limit]
			out.NextCursor = pageCursor(cs[limit-1].CreatedAt, cs[limit-1].ID)
		}
		for _, ct := range cs {
			out.Data = append(out.Data, v1ContactOf(ct))
		}
		c.JSON(http.StatusOK, out)
		return nil
	}
}

// detail reads a contact with its visitors and conversations.
func (a *contactsAPI) detail(ctx context.Context, ws, id string) (v1ContactDetail, []store.Visitor, []store.Conversation, error) {
	sc := a.store(ws)
	ct, err := sc.Contact(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return v1ContactDetail{}, nil, nil, apierr.NotFound("no such contact")
	}
	if err != nil {
		return v1ContactDetail{}, nil, nil, apierr.Unavailable("cannot read the contact right now; retry", err)
	}
	vs, err := sc.ContactVisitors(ctx, id)
	if err != nil {
		return v1ContactDetail{}, nil, nil, apierr.Unavailable("cannot read the contact right now; retry", err)
	}
	cs, err := sc.ContactConversations(ctx, id, contactConversations)
	if err != nil {
		return v1ContactDetail{}, nil, nil, apierr.Unavailable("cannot read the contact right now; retry", err)
	}
	out := v1ContactDetail{v1Contact: v1ContactOf(ct), VisitorIDs: make([]string, len(vs)), ConversationIDs: make([]string, len(cs))}
	for i, v := range vs {
		out.VisitorIDs[i] = v.ID
	}
	for i, conv := range cs {
		out.ConversationIDs[i] = conv.ID
	}
	return out, vs, cs, nil
}

func (a *contactsAPI) getV1(c *gin.Context) error {
	d, _, _, err := a.detail(c.Request.Context(), tokenOf(c).WorkspaceID, c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, v1ContactOne{Data: d})
	return nil
}

// contactVisitorJSON is one of a contact's visitors on its page.
type contactVisitorJSON struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Email      string    `json:"email,omitempty"`
	Verified   bool      `json:"verified"`
	LastSeenAt time.Time `json:"last_seen_at"`
}

// get answers GET /api/contacts/:id: the contact, its visitors and their
// conversations as the inbox shows them.
func (a *contactsAPI) get(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	d, vs, cs, err := a.detail(ctx, me.WorkspaceID, c.Param("id"))
	if err != nil {
		return err
	}
	infos, err := a.infos(ctx, me.WorkspaceID, cs)
	if err != nil {
		return apierr.Unavailable("cannot read the contact right now; retry", err)
	}
	visitors := make([]contactVisitorJSON, len(vs))
	for i, v := range vs {
		visitors[i] = contactVisitorJSON{ID: v.ID, Name: v.Name, Email: v.Email, Verified: v.UserID != "", LastSeenAt: v.LastSeenAt.UTC()}
	}
	c.JSON(http.StatusOK, gin.H{"contact": d.v1Contact, "visitors": visitors, "conversations": nonNil(infos)})
	return nil
}

// apply checks and stores an edit, and audits it: the status and owner
// are not personal data and are named with their values, the notes by
// name only.
func (a *contactsAPI) apply(c *gin.Context, ws string) (store.Contact, error) {
	var req contactEdit
	if err := bindBody(c, &req); err != nil {
		return store.Contact{}, err
	}
	if req.Status == nil && req.OwnerID == nil && req.Notes == nil {
		return store.Contact{}, apierr.Invalid("give status, owner_id or notes")
	}
	ctx := c.Request.Context()
	sc := a.store(ws)
	var changed []string
	if req.Status != nil {
		if !slices.Contains(store.LeadStatuses, *req.Status) {
			return store.Contact{}, apierr.Invalid("status is one of new, contacted, won, lost")
		}
		changed = append(changed, "status="+*req.Status)
	}
	if req.OwnerID != nil {
		if *req.OwnerID != "" {
			if _, err := sc.Agent(ctx, *req.OwnerID); errors.Is(err, store.ErrNotFound) {
				return store.Contact{}, apierr.Invalid("owner_id is not an agent of this workspace")
			} else if err != nil {
				return store.Contact{}, apierr.Unavailable("cannot save the contact right now; retry", err)
			}
		}
		changed = append(changed, "owner="+*req.OwnerID)
	}
	if req.Notes != nil {
		if utf8.RuneCountInString(*req.Notes) > 5000 || !utf8.ValidString(*req.Notes) {
			return store.Contact{}, apierr.Invalid("notes are at most 5000 characters")
		}
		changed = append(changed, "notes")
	}
	ct, err := sc.UpdateContact(ctx, c.Param("id"), store.ContactEdit{Status: req.Status, OwnerID: req.OwnerID, Notes: req.Notes}, time.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return ct, apierr.NotFound("no such contact")
	}
	if err != nil {
		return ct, apierr.Unavailable("cannot save the contact right now; retry", err)
	}
	a.audit(c, ws, "contact_updated", ct.ID, strings.Join(changed, ", "))
	return ct, nil
}

// update answers PATCH /api/contacts/:id with the contact's page.
func (a *contactsAPI) update(c *gin.Context) error {
	if _, err := a.apply(c, agentOf(c).WorkspaceID); err != nil {
		return err
	}
	return a.get(c)
}

func (a *contactsAPI) updateV1(c *gin.Context) error {
	ws := tokenOf(c).WorkspaceID
	ct, err := a.apply(c, ws)
	if err != nil {
		return err
	}
	d, _, _, err := a.detail(c.Request.Context(), ws, ct.ID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, v1ContactOne{Data: d})
	return nil
}

// remove deletes the contact of the request's :id in ws and audits it.
// The contact's visitors keep their conversations and messages: erasing
// a person's data is the visitor delete's (http_visitors.go).
func (a *contactsAPI) remove(c *gin.Context, ws string) (string, error) {
	id := c.Param("id")
	err := a.store(ws).DeleteContact(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return "", apierr.NotFound("no such contact")
	}
	if err != nil {
		return "", apierr.Unavailable("cannot delete the contact right now; retry", err)
	}
	a.audit(c, ws, "contact_deleted", id, "")
	return id, nil
}

// delete answers DELETE /api/contacts/:id.
func (a *contactsAPI) delete(c *gin.Context) error {
	id, err := a.remove(c, agentOf(c).WorkspaceID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"id": id})
	return nil
}

func (a *contactsAPI) deleteV1(c *gin.Context) error {
	id, err := a.remove(c, tokenOf(c).WorkspaceID)
	if err != nil {
		return err
	}
	var out v1ContactGone
	out.Data.ID = id
	c.JSON(http.StatusOK, out)
	return nil
}

// conversionsJSON is the visitor panel's sum of a visitor's conversions.
type conversionsJSON struct {
	Count int64 `json:"count"`
	// Values by currency, in its units ("" when the page gave none).
	Values []currencyValue `json:"values"`
}

type currencyValue struct {
	Currency string  `json:"currency"`
	Value    float64 `json:"value"`
}

func conversionsJSONOf(v store.VisitorConversions) conversionsJSON {
	out := conversionsJSON{Count: v.Count, Values: []currencyValue{}}
	for cur, val := range v.Values {
		out.Values = append(out.Values, currencyValue{Currency: cur, Value: val})
	}
	slices.SortFunc(out.Values, func(a, b currencyValue) int { return strings.Compare(a.Currency, b.Currency) })
	return out
}
