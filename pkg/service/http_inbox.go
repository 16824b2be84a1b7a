package service

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"regexp"
	"slices"
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

// The inbox resource: views of the workspace's conversations (mine,
// unassigned, team, all) with filters, cursor pages and counts
// (/api/inbox), a conversation's inbox state (pending, snoozed, open,
// resolved), and the workspace's tags (/api/tags) on conversations.

// inboxStore is what the inbox API needs of one workspace's store.
type inboxStore interface {
	InboxPage(ctx context.Context, q store.InboxQuery, after *store.InboxCursor, limit int) ([]store.Conversation, *store.InboxCursor, error)
	InboxCount(ctx context.Context, q store.InboxQuery) (int64, error)
	Agents(ctx context.Context) ([]store.Agent, error)
	Conversation(ctx context.Context, id string) (store.Conversation, error)
	Tags(ctx context.Context) ([]store.Tag, error)
	CreateTag(ctx context.Context, t store.Tag) (store.Tag, error)
	DeleteTag(ctx context.Context, id string) error
	TagConversation(ctx context.Context, convID, tagID string) error
	UntagConversation(ctx context.Context, convID, tagID string) error
	TagsOf(ctx context.Context, convIDs []string) (map[string][]store.Tag, error)
}

// inboxAPI serves the inbox resource.
type inboxAPI struct {
	store func(workspaceID string) inboxStore
	// infos renders conversations as clients see them; setState and
	// close change one as the agent may (conversation.Service).
	infos    func(ctx context.Context, workspaceID string, cs []store.Conversation) ([]protocol.ConversationInfo, error)
	setState func(ctx context.Context, p conversation.Participant, convID, state string, until *time.Time) error
	close    func(ctx context.Context, p conversation.Participant, convID string) error
	audit    func(c *gin.Context, workspaceID, action, target, detail string)
	now      func() time.Time
}

func (s *Server) inboxAPI() *inboxAPI {
	return &inboxAPI{
		store:    func(ws string) inboxStore { return s.store.Workspace(ws) },
		infos:    s.conv.Infos,
		setState: s.conv.SetState,
		close:    s.conv.Close,
		audit:    s.audit,
		now:      func() time.Time { return time.Now().UTC() },
	}
}

// inboxItem is a conversation in an inbox list: as clients see it, with
// its tags.
type inboxItem struct {
	protocol.ConversationInfo
	Tags []tagJSON `json:"tags"`
}

type tagJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color,omitempty"`
}

func tagsJSON(ts []store.Tag) []tagJSON {
	out := make([]tagJSON, len(ts))
	for i, t := range ts {
		out[i] = tagJSON{ID: t.ID, Name: t.Name, Color: t.Color}
	}
	return out
}

func supervises(a store.Agent) bool { return a.Role == "admin" || a.Role == "supervisor" }

// views lists the views an agent may open: all is for supervisors and
// admins.
func views(a store.Agent) []string {
	v := []string{store.ViewMine, store.ViewUnassigned, store.ViewTeam}
	if supervises(a) {
		v = append(v, store.ViewAll)
	}
	return v
}

// inboxFilters reads the filters of an inbox request (all but the view).
func (a *inboxAPI) inboxFilters(c *gin.Context, me store.Agent) (store.InboxQuery, error) {
	q := store.InboxQuery{Agent: me.ID, Status: c.Query("status"), SiteID: c.Query("site"), TagID: c.Query("tag"),
		Language: c.Query("language"), AssigneeID: c.Query("agent")}
	switch q.Status {
	case "", store.FilterOpen, store.FilterPending, store.FilterSnoozed, store.FilterResolved:
	default:
		return q, apierr.Invalid("status is open, pending, snoozed or resolved")
	}
	var err error
	if q.From, err = inboxDate(c.Query("from"), false); err != nil {
		return q, err
	}
	if q.To, err = inboxDate(c.Query("to"), true); err != nil {
		return q, err
	}
	q.Teams = splitList(me.Teams)
	if len(q.Teams) > 0 {
		agents, err := a.store(me.WorkspaceID).Agents(c.Request.Context())
		if err != nil {
			return q, apierr.Unavailable("cannot read the inbox right now; retry", err)
		}
		for _, other := range agents {
			for _, t := range splitList(other.Teams) {
				if slices.Contains(q.Teams, t) {
					q.TeamAgents = append(q.TeamAgents, other.ID)
					break
				}
			}
		}
	}
	return q, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// inboxDate reads a date filter: a day (2026-12-07, the whole day when it
// ends a range) or an RFC 3339 time.
func inboxDate(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, apierr.Invalid("from and to are days (2026-12-07) or RFC 3339 times")
	}
	return t, nil
}

func encodeCursor(c *store.InboxCursor) string {
	if c == nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(c.UpdatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID))
}

func decodeCursor(s string) (*store.InboxCursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	at, id, ok := strings.Cut(string(b), "|")
	t, terr := time.Parse(time.RFC3339Nano, at)
	if err != nil || !ok || terr != nil {
		return nil, apierr.Invalid("cursor is not one this API gave")
	}
	return &store.InboxCursor{UpdatedAt: t, ID: id}, nil
}

// list answers GET /api/inbox: a page of one view, filtered, newest
// activity first, and the cursor of the next page ("" at the end).
func (a *inboxAPI) list(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	q, err := a.inboxFilters(c, me)
	if err != nil {
		return err
	}
	q.View = c.DefaultQuery("view", store.ViewMine)
	if !slices.Contains([]string{store.ViewMine, store.ViewUnassigned, store.ViewTeam, store.ViewAll}, q.View) {
		return apierr.Invalid("view is mine, unassigned, team or all")
	}
	if !slices.Contains(views(me), q.View) {
		return apierr.Forbidden("the all view is for supervisors and admins")
	}
	after, err := decodeCursor(c.Query("cursor"))
	if err != nil {
		return err
	}
	limit := 50
	if l := c.Query("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 100 {
			return apierr.Invalid("limit is 1 to 100")
		}
	}
	sc := a.store(me.WorkspaceID)
	cs, next, err := sc.InboxPage(ctx, q, after, limit)
	if err != nil {
		return apierr.Unavailable("cannot read the inbox right now; retry", err)
	}
	infos, err := a.infos(ctx, me.WorkspaceID, cs)
	if err != nil {
		return apierr.Unavailable("cannot read the inbox right now; retry", err)
	}
	ids := make([]string, len(cs))
	for i, conv := range cs {
		ids[i] = conv.ID
	}
	tags, err := sc.TagsOf(ctx, ids)
	if err != nil {
		return apierr.Unavailable("cannot read the inbox right now; retry", err)
	}
	items := make([]inboxItem, len(infos))
	for i, info := range infos {
		items[i] = inboxItem{ConversationInfo: info, Tags: tagsJSON(tags[info.ID])}
	}
	c.JSON(http.StatusOK, gin.H{"conversations": items, "next_cursor": encodeCursor(next)})
	return nil
}

// counts answers GET /api/inbox/counts: how many conversations each view
// the agent may open has, under the request's filters.
func (a *inboxAPI) counts(c *gin.Context) error {
	me := agentOf(c)
	q, err := a.inboxFilters(c, me)
	if err != nil {
		return err
	}
	out := map[string]int64{}
	for _, v := range views(me) {
		q.View = v
		n, err := a.store(me.WorkspaceID).InboxCount(c.Request.Context(), q)
		if err != nil {
			return apierr.Unavailable("cannot count the inbox right now; retry", err)
		}
		out[v] = n
	}
	c.JSON(http.StatusOK, gin.H{"counts": out})
	return nil
}

type stateReq struct {
	// State is open, pending, snoozed or resolved.
	State string `json:"state"`
	// Until is when a snoozed conversation comes back.
	Until *time.Time `json:"until"`
}

// setConversationState answers POST /api/conversations/:id/state.
func (a *inboxAPI) setConversationState(c *gin.Context) error {
	var req stateReq
	if err := c.ShouldBindJSON(&req); err != nil {
		return apierr.Invalid("send {state, until}: state is open, pending, snoozed or resolved; until an RFC 3339 time")
	}
	me := agentOf(c)
	p := agentParticipant(me)
	ctx := c.Request.Context()
	var err error
	switch req.State {
	case "resolved":
		err = a.close(ctx, p, c.Param("id"))
	case "open", "pending", "snoozed":
		state := req.State
		if state == "open" {
			state = store.StateOpen
		}
		if state == store.StateSnoozed && (req.Until == nil || !req.Until.After(a.now())) {
			return apierr.Invalid("a snooze needs until, a time to come")
		}
		err = a.setState(ctx, p, c.Param("id"), state, req.Until)
	default:
		return apierr.Invalid("state is open, pending, snoozed or resolved")
	}
	if err != nil {
		return stateErr(err)
	}
	c.Status(http.StatusNoContent)
	return nil
}

func stateErr(err error) error {
	switch {
	case errors.Is(err, conversation.ErrNotFound):
		return apierr.NotFound("no such conversation")
	case errors.Is(err, conversation.ErrClosed):
		return apierr.New(http.StatusConflict, protocol.CodeClosed, "the conversation is resolved")
	case errors.Is(err, conversation.ErrNotOwner), errors.Is(err, conversation.ErrForbidden):
		return apierr.Forbidden("the conversation is another agent's")
	case errors.Is(err, conversation.ErrBadState):
		return apierr.Invalid("state is open, pending, or snoozed until a time to come")
	}
	return apierr.Unavailable("cannot change the conversation right now; retry", err)
}

// listTags answers GET /api/tags.
func (a *inboxAPI) listTags(c *gin.Context) error {
	me := agentOf(c)
	ts, err := a.store(me.WorkspaceID).Tags(c.Request.Context())
	if err != nil {
		return apierr.Unavailable("cannot read tags right now; retry", err)
	}
	c.JSON(http.StatusOK, gin.H{"tags": tagsJSON(ts)})
	return nil
}

var tagColor = regexp.MustCompile(`^(#[0-9a-fA-F]{6})?$`)

// createTag answers POST /api/tags {name, color}.
func (a *inboxAPI) createTag(c *gin.Context) error {
	var req struct {
		Name  string `json:"name"`
		Color string `json:"color"`
	}
	if err := c.ShouldBindJSON(&req); err != nil {
		return apierr.Invalid("send {name, color}")
	}
	name := strings.Join(strings.Fields(req.Name), " ")
	if name == "" || len([]rune(name)) > 50 {
		return apierr.Invalid("a tag's name is 1 to 50 characters")
	}
	if !tagColor.MatchString(req.Color) {
		return apierr.Invalid("color is #rrggbb")
	}
	me := agentOf(c)
	t, err := a.store(me.WorkspaceID).CreateTag(c.Request.Context(), store.Tag{ID: uuid.NewString(), Name: name, Color: req.Color, CreatedAt: a.now()})
	if errors.Is(err, store.ErrConflict) {
		return apierr.Conflict("the workspace has a tag of that name")
	}
	if err != nil {
		return apierr.Unavailable("cannot create the tag right now; retry", err)
	}
	a.audit(c, me.WorkspaceID, "tag.create", t.ID, name)
	c.JSON(http.StatusCreated, gin.H{"tag": tagsJSON([]store.Tag{t})[0]})
	return nil
}

// deleteTag answers DELETE /api/tags/:id: the tag goes from every
// conversation too.
func (a *inboxAPI) deleteTag(c *gin.Context) error {
	me := agentOf(c)
	err := a.store(me.WorkspaceID).DeleteTag(c.Request.Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such tag")
	}
	if err != nil {
		return apierr.Unavailable("cannot delete the tag right now; retry", err)
	}
	a.audit(c, me.WorkspaceID, "tag.delete", c.Param("id"), "")
	c.Status(http.StatusNoContent)
	return nil
}

// conversationTags answers GET /api/conversations/:id/tags.
func (a *inboxAPI) conversationTags(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	sc := a.store(me.WorkspaceID)
	if _, err := sc.Conversation(ctx, c.Param("id")); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apierr.NotFound("no such conversation")
		}
		return apierr.Unavailable("cannot read tags right now; retry", err)
	}
	tags, err := sc.TagsOf(ctx, []string{c.Param("id")})
	if err != nil {
		return apierr.Unavailable("cannot read tags right now; retry", err)
	}
	c.JSON(http.StatusOK, gin.H{"tags": tagsJSON(tags[c.Param("id")])})
	return nil
}

// putConversationTags answers PUT /api/conversations/:id/tags {tags: [id]}:
// the conversation's tags become those. Any agent may tag any of the
// workspace's conversations, as any may read them.
func (a *inboxAPI) putConversationTags(c *gin.Context) error {
	var req struct {
		Tags []string `json:"tags"`
	}
	if err := c.ShouldBindJSON(&req); err != nil || len(req.Tags) > 50 {
		return apierr.Invalid("send {tags: [tag ids]}, at most 50")
	}
	me := agentOf(c)
	ctx := c.Request.Context()
	id := c.Param("id")
	sc := a.store(me.WorkspaceID)
	if _, err := sc.Conversation(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apierr.NotFound("no such conversation")
		}
		return apierr.Unavailable("cannot tag right now; retry", err)
	}
	cur, err := sc.TagsOf(ctx, []string{id})
	if err != nil {
		return apierr.Unavailable("cannot tag right now; retry", err)
	}
	for _, t := range req.Tags {
		if err := sc.TagConversation(ctx, id, t); errors.Is(err, store.ErrNotFound) {
			return apierr.Invalid("no tag " + t + " in this workspace")
		} else if err != nil {
			return apierr.Unavailable("cannot tag right now; retry", err)
		}
	}
	for _, t := range cur[id] {
		if !slices.Contains(req.Tags, t.ID) {
			if err := sc.UntagConversation(ctx, id, t.ID); err != nil {
				return apierr.Unavailable("cannot tag right now; retry", err)
			}
		}
	}
	tags, err := sc.TagsOf(ctx, []string{id})
	if err != nil {
		return apierr.Unavailable("cannot tag right now; retry", err)
	}
	c.JSON(http.StatusOK, gin.H{"tags": tagsJSON(tags[id])})
	return nil
}
