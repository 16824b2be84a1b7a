package service

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// The REST API for a workspace's own systems: /api/v1, authenticated by
// an API token (http_tokens.go) sent as "Authorization: Bearer pk_…".
// Sessions do not apply here (a cookie is ignored, so CSRF cannot reach
// it and is not checked); a read token may call the GET routes, a write
// token every route. Each route's description (apiDoc) sits beside it in
// Server.routes and is what /api/openapi.json is generated from
// (openapi.go), so the document cannot drift from what is served.

// apiDoc describes one /api/v1 route for the OpenAPI document; Write also
// decides the token scope the route requires.
type apiDoc struct {
	ID      string // operationId
	Summary string
	Write   bool // needs a write token; takes an Idempotency-Key
	Query   []apiQuery
	// Request and Response are values of the body types (nil: no body).
	Request  any
	Response any
	Status   int  // success status (0: 200)
	CSV      bool // the answer is text/csv (Response is nil)
}

// apiQuery is one query parameter of an apiDoc.
type apiQuery struct {
	Name, Description string
	Integer           bool
}

var (
	queryLimit  = apiQuery{Name: "limit", Description: "page size, 1 to 100 (default 50)", Integer: true}
	queryCursor = apiQuery{Name: "cursor", Description: "next_cursor of the previous page; absent for the first"}
)

// The bodies of /api/v1. Times are RFC 3339 in UTC.
type (
	v1Conversation struct {
		ID        string `json:"id"`
		SiteID    string `json:"site_id"`
		VisitorID string `json:"visitor_id"`
		// AgentID is the agent who has it ("" when none).
		AgentID  string            `json:"agent_id"`
		Status   string            `json:"status"` // queued, open (an agent has it), offline or closed
		Language string            `json:"language"`
		Skill    string            `json:"skill"`
		Team     string            `json:"team"`
		Priority int               `json:"priority"`
		LastSeq  int64             `json:"last_seq"`
		Contact  *v1OfflineContact `json:"contact,omitempty"`
		Created  time.Time         `json:"created_at"`
		Updated  time.Time         `json:"updated_at"`
		Closed   *time.Time        `json:"closed_at,omitempty"`
	}
	// v1OfflineContact is what a visitor left on the offline form (the
	// contact resource is v1Contact, http_contacts.go).
	v1OfflineContact struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	v1Message struct {
		ConversationID string    `json:"conversation_id"`
		Seq            int64     `json:"seq"`
		ClientID       string    `json:"client_id"`
		AuthorKind     string    `json:"author_kind"` // visitor, agent or system
		AuthorID       string    `json:"author_id"`
		AuthorName     string    `json:"author_name"`
		Body           string    `json:"body"`
		Audience       string    `json:"audience"` // "" everyone, or only "visitor" or "agent"
		Created        time.Time `json:"created_at"`
	}
	v1Visitor struct {
		ID      string `json:"id"`
		SiteID  string `json:"site_id"`
		UserID  string `json:"user_id"` // the site's own id, when verified
		Name    string `json:"name"`
		Email   string `json:"email"`
		Locale  string `json:"locale"`
		PageURL string `json:"page_url"`
		// Presence: online, away, gone or "" (not known).
		Presence string    `json:"presence"`
		Created  time.Time `json:"created_at"`
		LastSeen time.Time `json:"last_seen_at"`
	}
	v1Agent struct {
		ID        string   `json:"id"`
		Name      string   `json:"name"`
		Email     string   `json:"email"`
		Role      string   `json:"role"`
		Status    string   `json:"status"`
		Capacity  int      `json:"capacity"`
		Languages []string `json:"languages"`
		Skills    []string `json:"skills"`
		Teams     []string `json:"teams"`
		Disabled  bool     `json:"disabled"`
	}
	v1Site struct {
		ID               string    `json:"id"`
		Name             string    `json:"name"`
		AllowedOrigins   []string  `json:"allowed_origins"`
		IdentityRequired bool      `json:"identity_required"`
		VisitorCalls     bool      `json:"visitor_calls"`
		Created          time.Time `json:"created_at"`
	}

	v1ConversationList struct {
		Data       []v1Conversation `json:"data"`
		NextCursor string           `json:"next_cursor"` // "" on the last page
	}
	v1MessageList struct {
		Data       []v1Message `json:"data"`
		NextCursor string      `json:"next_cursor"`
	}
	v1VisitorList struct {
		Data       []v1Visitor `json:"data"`
		NextCursor string      `json:"next_cursor"`
	}
	v1AgentList struct {
		Data []v1Agent `json:"data"`
	}
	v1SiteList struct {
		Data []v1Site `json:"data"`
	}
	v1ConversationOne struct {
		Data v1Conversation `json:"data"`
	}
	v1MessageOne struct {
		Data v1Message `json:"data"`
	}
	v1VisitorOne struct {
		Data v1Visitor `json:"data"`
	}
	v1SiteOne struct {
		Data v1Site `json:"data"`
	}
	// v1PostMessage posts a message as one of the workspace's agents,
	// with that agent's rights: into a conversation it has, or one that
	// waits (which it then takes).
	v1PostMessage struct {
		AgentID string `json:"agent_id"`
		Body    string `json:"body"`
	}
	// v1Close closes a conversation; the notice names AgentID's agent when
	// given, else the token.
	v1Close struct {
		AgentID string `json:"agent_id,omitempty"`
	}
)

// The routes' descriptions (Server.routes pairs each with its handler).
var (
	docListConversations = apiDoc{ID: "listConversations", Summary: "List conversations, newest first",
		Query:    []apiQuery{{Name: "status", Description: "only this status: queued, open, offline or closed"}, queryLimit, queryCursor},
		Response: v1ConversationList{}}
	docGetConversation = apiDoc{ID: "getConversation", Summary: "Get a conversation", Response: v1ConversationOne{}}
	docListMessages    = apiDoc{ID: "listMessages", Summary: "List a conversation's messages, oldest first",
		Query: []apiQuery{queryLimit, queryCursor}, Response: v1MessageList{}}
	docPostMessage = apiDoc{ID: "postMessage", Summary: "Post a message as an agent", Write: true,
		Request: v1PostMessage{}, Response: v1MessageOne{}, Status: http.StatusCreated}
	docCloseConversation = apiDoc{ID: "closeConversation", Summary: "Close a conversation", Write: true,
		Request: v1Close{}, Response: v1ConversationOne{}}
	docListVisitors = apiDoc{ID: "listVisitors", Summary: "List visitors (contacts), newest first",
		Query: []apiQuery{queryLimit, queryCursor}, Response: v1VisitorList{}}
	docGetVisitor = apiDoc{ID: "getVisitor", Summary: "Get a visitor", Response: v1VisitorOne{}}
	docListAgents = apiDoc{ID: "listAgents", Summary: "List agents", Response: v1AgentList{}}
	docListSites  = apiDoc{ID: "listSites", Summary: "List sites", Response: v1SiteList{}}
	docGetSite    = apiDoc{ID: "getSite", Summary: "Get a site", Response: v1SiteOne{}}
)

// v1Store is what the API reads of one workspace.
type v1Store interface {
	ConversationsPage(ctx context.Context, status string, after store.PageAfter, limit int) ([]store.Conversation, error)
	Conversation(ctx context.Context, id string) (store.Conversation, error)
	MessagesAfter(ctx context.Context, convID string, after int64, limit int) ([]store.Message, error)
	VisitorsPage(ctx context.Context, after store.PageAfter, limit int) ([]store.Visitor, error)
	Visitor(ctx context.Context, id string) (store.Visitor, error)
	Agents(ctx context.Context) ([]store.Agent, error)
	Agent(ctx context.Context, id string) (store.Agent, error)
	Sites(ctx context.Context) ([]store.Site, error)
	Site(ctx context.Context, id string) (store.Site, error)
}

// v1API serves /api/v1.
type v1API struct {
	store func(workspaceID string) v1Store
	send  func(ctx context.Context, p conversation.Participant, f protocol.Send) (protocol.Ack, error)
	close func(ctx context.Context, p conversation.Participant, convID string) error
}

func (s *Server) v1API() *v1API {
	return &v1API{
		store: func(ws string) v1Store { return s.store.Workspace(ws) },
		send:  s.conv.Send,
		close: s.conv.Close,
	}
}

// tokenOf is the API token requireToken let through.
func tokenOf(c *gin.Context) store.APIToken { return c.MustGet("api_token").(store.APIToken) }

func v1ConversationOf(c store.Conversation) v1Conversation {
	out := v1Conversation{ID: c.ID, SiteID: c.SiteID, VisitorID: c.VisitorID, Status: c.Status, Language: c.Language,
		Skill: c.Skill, Team: c.Team, Priority: c.Priority, LastSeq: c.LastSeq, Created: c.CreatedAt.UTC(), Updated: c.UpdatedAt.UTC()}
	if c.AgentID != nil {
		out.AgentID = *c.AgentID
	}
	if c.ContactName != "" || c.ContactEmail != "" {
		out.Contact = &v1OfflineContact{Name: c.ContactName, Email: c.ContactEmail}
	}
	if c.ClosedAt != nil {
		t := c.ClosedAt.UTC()
		out.Closed = &t
	}
	return out
}

func v1MessageOf(m store.Message) v1Message {
	return v1Message{ConversationID: m.ConversationID, Seq: m.Seq, ClientID: m.ClientID, AuthorKind: m.AuthorKind,
		AuthorID: m.AuthorID, AuthorName: m.AuthorName, Body: m.Body, Audience: m.Audience, Created: m.CreatedAt.UTC()}
}

func v1VisitorOf(v store.Visitor) v1Visitor {
	return v1Visitor{ID: v.ID, SiteID: v.SiteID, UserID: v.UserID, Name: v.Name, Email: v.Email, Locale: v.Locale,
		PageURL: v.PageURL, Presence: v.Presence, Created: v.CreatedAt.UTC(), LastSeen: v.LastSeenAt.UTC()}
}

func v1AgentOf(a store.Agent) v1Agent {
	list := func(s string) []string { return nonNil(splitList(s)) }
	return v1Agent{ID: a.ID, Name: a.Name, Email: a.Email, Role: a.Role, Status: a.Status, Capacity: a.Capacity,
		Languages: list(a.Languages), Skills: list(a.Skills), Teams: list(a.Teams), Disabled: a.DisabledAt != nil}
}

func v1SiteOf(s store.Site) v1Site {
	return v1Site{ID: s.ID, Name: s.Name, AllowedOrigins: nonNil(strings.Fields(s.AllowedOrigins)),
		IdentityRequired: s.IdentityRequired, VisitorCalls: s.VisitorCalls, Created: s.CreatedAt.UTC()}
}

// pageLimit reads ?limit= (1..100, default 50).
func pageLimit(c *gin.Context) (int, error) {
	raw := c.Query("limit")
	if raw == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 100 {
		return 0, apierr.Invalid("limit is a whole number from 1 to 100")
	}
	return n, nil
}

// Cursors are opaque to clients: base64url of the last row's position.
func v1Cursor(parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "|")))
}

func readV1Cursor(c *gin.Context, n int) ([]string, error) {
	raw := c.Query("cursor")
	if raw == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	parts := strings.Split(string(b), "|")
	if err != nil || len(parts) != n {
		return nil, apierr.Invalid("cursor is not one this API gave out")
	}
	return parts, nil
}

// pageAfter reads a (created_at, id) cursor.
func pageAfter(c *gin.Context) (store.PageAfter, error) {
	parts, err := readV1Cursor(c, 2)
	if err != nil || parts == nil {
		return store.PageAfter{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return store.PageAfter{}, apierr.Invalid("cursor is not one this API gave out")
	}
	return store.PageAfter{CreatedAt: t, ID: parts[1]}, nil
}

func pageCursor(t time.Time, id string) string { return v1Cursor(t.Format(time.RFC3339Nano), id) }

// page turns one more row than a page holds (limit+1, read to learn
// whether a next page exists) into the page's items and the cursor after
// its last one ("" on the last page).
func page[T, J any](rows []T, limit int, cursor func(T) string, of func(T) J) ([]J, string) {
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = cursor(rows[limit-1])
	}
	data := make([]J, 0, len(rows))
	for _, r := range rows {
		data = append(data, of(r))
	}
	return data, next
}

func v1Err(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, conversation.ErrNotFound):
		return apierr.NotFound("no such " + what)
	case errors.Is(err, conversation.ErrClosed):
		return apierr.New(http.StatusConflict, protocol.CodeClosed, "the conversation is closed")
	case errors.Is(err, conversation.ErrAtCapacity):
		return apierr.Conflict("the agent is at capacity")
	case errors.Is(err, conversation.ErrForbidden):
		return apierr.Forbidden("the agent may not do this in this conversation: " + err.Error())
	case errors.Is(err, conversation.ErrInvalid):
		return apierr.Invalid(err.Error())
	}
	return apierr.Unavailable("cannot read the "+what+" right now; retry", err)
}

func (a *v1API) listConversations(c *gin.Context) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	after, err := pageAfter(c)
	if err != nil {
		return err
	}
	status := c.Query("status")
	switch status {
	case "", protocol.ConversationQueued, protocol.ConversationOpen, protocol.ConversationOffline, protocol.ConversationClosed:
	default:
		return apierr.Invalid("status is one of queued, open, offline, closed")
	}
	cs, err := a.store(tokenOf(c).WorkspaceID).ConversationsPage(c.Request.Context(), status, after, limit+1)
	if err != nil {
		return v1Err(err, "conversations")
	}
	data, next := page(cs, limit, func(c store.Conversation) string { return pageCursor(c.CreatedAt, c.ID) }, v1ConversationOf)
	c.JSON(http.StatusOK, v1ConversationList{Data: data, NextCursor: next})
	return nil
}

func (a *v1API) getConversation(c *gin.Context) error {
	conv, err := a.store(tokenOf(c).WorkspaceID).Conversation(c.Request.Context(), c.Param("id"))
	if err != nil {
		return v1Err(err, "conversation")
	}
	c.JSON(http.StatusOK, v1ConversationOne{Data: v1ConversationOf(conv)})
	return nil
}

func (a *v1API) listMessages(c *gin.Context) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	parts, err := readV1Cursor(c, 1)
	if err != nil {
		return err
	}
	var after int64
	if parts != nil {
		if after, err = strconv.ParseInt(parts[0], 10, 64); err != nil || after < 0 {
			return apierr.Invalid("cursor is not one this API gave out")
		}
	}
	st := a.store(tokenOf(c).WorkspaceID)
	id := c.Param("id")
	if _, err := st.Conversation(c.Request.Context(), id); err != nil {
		return v1Err(err, "conversation")
	}
	ms, err := st.MessagesAfter(c.Request.Context(), id, after, limit+1)
	if err != nil {
		return v1Err(err, "messages")
	}
	data, next := page(ms, limit, func(m store.Message) string { return v1Cursor(strconv.FormatInt(m.Seq, 10)) }, v1MessageOf)
	c.JSON(http.StatusOK, v1MessageList{Data: data, NextCursor: next})
	return nil
}

// apiAgent is the agent a write names (agent_id), as a participant with
// that agent's rights.
func (a *v1API) apiAgent(c *gin.Context, id string) (conversation.Participant, error) {
	if id == "" {
		return conversation.Participant{}, apierr.Invalid("agent_id names the agent the message is from")
	}
	ag, err := a.store(tokenOf(c).WorkspaceID).Agent(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return conversation.Participant{}, apierr.Invalid("agent_id is not an agent of this workspace")
	}
	if err != nil {
		return conversation.Participant{}, v1Err(err, "agent")
	}
	if ag.DisabledAt != nil {
		return conversation.Participant{}, apierr.Forbidden("the agent is disabled")
	}
	return agentParticipant(ag), nil
}

func (a *v1API) postMessage(c *gin.Context) error {
	var req v1PostMessage
	if err := bindBody(c, &req); err != nil {
		return err
	}
	body := strings.TrimSpace(req.Body)
	if body == "" || len(req.Body) > protocol.MaxBodyBytes {
		return apierr.Invalid("body is the message text, 1 to " + strconv.Itoa(protocol.MaxBodyBytes) + " bytes")
	}
	st := a.store(tokenOf(c).WorkspaceID)
	id := c.Param("id")
	if _, err := st.Conversation(c.Request.Context(), id); err != nil {
		return v1Err(err, "conversation")
	}
	p, err := a.apiAgent(c, req.AgentID)
	if err != nil {
		return err
	}
	// The idempotency key, when given, is also the message's client id:
	// a retry stores nothing new even past the kept answer's lifetime.
	clientID := "api-" + uuid.NewString()
	if k := c.GetHeader(idempotencyHeader); k != "" {
		clientID = "api-" + hashToken(tokenOf(c).WorkspaceID + ":" + k)[:32]
	}
	ack, err := a.send(c.Request.Context(), p, protocol.Send{Envelope: protocol.Envelope{Type: protocol.TypeSend}, ClientID: clientID, Conversation: id, Body: req.Body})
	if err != nil {
		return v1Err(err, "conversation")
	}
	ms, err := st.MessagesAfter(c.Request.Context(), id, ack.Seq-1, 1)
	if err != nil || len(ms) == 0 {
		return v1Err(err, "message")
	}
	c.JSON(http.StatusCreated, v1MessageOne{Data: v1MessageOf(ms[0])})
	return nil
}

func (a *v1API) closeConversation(c *gin.Context) error {
	var req v1Close
	if c.Request.ContentLength != 0 {
		if err := bindBody(c, &req); err != nil {
			return err
		}
	}
	tok := tokenOf(c)
	st := a.store(tok.WorkspaceID)
	id := c.Param("id")
	if _, err := st.Conversation(c.Request.Context(), id); err != nil {
		return v1Err(err, "conversation")
	}
	// Without an agent, the token closes as an admin would, named in the
	// notice by the token's name.
	p := conversation.Participant{Kind: protocol.AuthorAgent, ID: "api:" + tok.ID, Name: tok.Name + " (API)", WorkspaceID: tok.WorkspaceID, Role: "admin"}
	if req.AgentID != "" {
		var err error
		if p, err = a.apiAgent(c, req.AgentID); err != nil {
			return err
		}
	}
	if err := a.close(c.Request.Context(), p, id); err != nil {
		return v1Err(err, "conversation")
	}
	conv, err := st.Conversation(c.Request.Context(), id)
	if err != nil {
		return v1Err(err, "conversation")
	}
	c.JSON(http.StatusOK, v1ConversationOne{Data: v1ConversationOf(conv)})
	return nil
}

func (a *v1API) listVisitors(c *gin.Context) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	after, err := pageAfter(c)
	if err != nil {
		return err
	}
	vs, err := a.store(tokenOf(c).WorkspaceID).VisitorsPage(c.Request.Context(), after, limit+1)
	if err != nil {
		return v1Err(err, "visitors")
	}
	data, next := page(vs, limit, func(v store.Visitor) string { return pageCursor(v.CreatedAt, v.ID) }, v1VisitorOf)
	c.JSON(http.StatusOK, v1VisitorList{Data: data, NextCursor: next})
	return nil
}

func (a *v1API) getVisitor(c *gin.Context) error {
	v, err := a.store(tokenOf(c).WorkspaceID).Visitor(c.Request.Context(), c.Param("id"))
	if err != nil {
		return v1Err(err, "visitor")
	}
	c.JSON(http.StatusOK, v1VisitorOne{Data: v1VisitorOf(v)})
	return nil
}

func (a *v1API) listAgents(c *gin.Context) error {
	as, err := a.store(tokenOf(c).WorkspaceID).Agents(c.Request.Context())
	if err != nil {
		return v1Err(err, "agents")
	}
	out := v1AgentList{Data: make([]v1Agent, len(as))}
	for i, ag := range as {
		out.Data[i] = v1AgentOf(ag)
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (a *v1API) listSites(c *gin.Context) error {
	ss, err := a.store(tokenOf(c).WorkspaceID).Sites(c.Request.Context())
	if err != nil {
		return v1Err(err, "sites")
	}
	out := v1SiteList{Data: make([]v1Site, len(ss))}
	for i, site := range ss {
		out.Data[i] = v1SiteOf(site)
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (a *v1API) getSite(c *gin.Context) error {
	site, err := a.store(tokenOf(c).WorkspaceID).Site(c.Request.Context(), c.Param("id"))
	if err != nil {
		return v1Err(err, "site")
	}
	c.JSON(http.StatusOK, v1SiteOne{Data: v1SiteOf(site)})
	return nil
}
