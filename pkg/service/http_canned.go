package service

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// The canned replies resource (/api/canned): saved answers agents insert
// in the composer with /shortcut. Team replies are the workspace's: every
// agent lists them, admins and supervisors change them. Personal replies
// are one agent's: nobody else lists, changes or even finds them. The
// placeholders ({{visitor.name}}, …) are filled in by the agent app, which
// knows the conversation; the server keeps the text as written.

// cannedStore is what the canned replies API needs of one workspace's store.
type cannedStore interface {
	CannedReplies(ctx context.Context, agentID string) ([]store.CannedReply, error)
	CannedReply(ctx context.Context, id string) (store.CannedReply, error)
	CreateCannedReply(ctx context.Context, r store.CannedReply) (store.CannedReply, error)
	UpdateCannedReply(ctx context.Context, id, shortcut, body string) error
	DeleteCannedReply(ctx context.Context, id string) error
}

// cannedAPI serves canned replies.
type cannedAPI struct {
	store func(workspaceID string) cannedStore
}

func (s *Server) cannedAPI() *cannedAPI {
	return &cannedAPI{store: func(ws string) cannedStore { return s.store.Workspace(ws) }}
}

type cannedJSON struct {
	ID       string `json:"id"`
	Shortcut string `json:"shortcut"`
	Body     string `json:"body"`
	// Scope is "team" or "personal".
	Scope string `json:"scope"`
}

type cannedReq struct {
	Shortcut string `json:"shortcut"`
	Body     string `json:"body"`
	Scope    string `json:"scope"`
}

// shortcutPattern: what follows the slash in the composer, so no spaces.
var shortcutPattern = regexp.MustCompile(`^[\p{L}\p{N}_-]{1,40}$`)

func toCannedJSON(r store.CannedReply) cannedJSON {
	scope := "team"
	if r.AgentID != "" {
		scope = "personal"
	}
	return cannedJSON{ID: r.ID, Shortcut: r.Shortcut, Body: r.Body, Scope: scope}
}

func cannedErr(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierr.NotFound("no such canned reply")
	case errors.Is(err, store.ErrConflict):
		return apierr.Conflict("that shortcut is taken; choose another")
	}
	return apierr.Unavailable("cannot "+what+" right now; retry", err)
}

// check normalises and validates a request: the shortcut without its
// slash, lower-cased.
func (r *cannedReq) check() error {
	r.Shortcut = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(r.Shortcut), "/"))
	r.Body = strings.TrimSpace(r.Body)
	if !shortcutPattern.MatchString(r.Shortcut) {
		return apierr.Invalid("a shortcut is 1 to 40 letters, digits, - or _ (no spaces)")
	}
	if r.Body == "" {
		return apierr.Invalid("a canned reply needs some text")
	}
	if len(r.Body) > protocol.MaxBodyBytes {
		return apierr.TooBig("a canned reply is at most 8 KB, as a message")
	}
	return nil
}

// mayChange: a team reply is changed by admins and supervisors, a
// personal one by its agent. Another agent's personal reply is not found.
func mayChange(me store.Agent, r store.CannedReply) error {
	if r.AgentID != "" && r.AgentID != me.ID {
		return apierr.NotFound("no such canned reply")
	}
	if r.AgentID == "" && me.Role != "admin" && me.Role != "supervisor" {
		return apierr.Forbidden("only admins and supervisors change the team's canned replies; add a personal one instead")
	}
	return nil
}

func (a *cannedAPI) list(c *gin.Context) error {
	me := agentOf(c)
	rs, err := a.store(me.WorkspaceID).CannedReplies(c.Request.Context(), me.ID)
	if err != nil {
		return cannedErr(err, "list canned replies")
	}
	out := make([]cannedJSON, len(rs))
	for i, r := range rs {
		out[i] = toCannedJSON(r)
	}
	c.JSON(http.StatusOK, gin.H{"canned": out})
	return nil
}

func (a *cannedAPI) create(c *gin.Context) error {
	me := agentOf(c)
	var req cannedReq
	if err := bindBody(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	r := store.CannedReply{ID: uuid.NewString(), Shortcut: req.Shortcut, Body: req.Body}
	switch req.Scope {
	case "personal":
		r.AgentID = me.ID
	case "team":
	default:
		return apierr.Invalid(`scope is "team" or "personal"`)
	}
	if err := mayChange(me, r); err != nil {
		return err
	}
	r, err := a.store(me.WorkspaceID).CreateCannedReply(c.Request.Context(), r)
	if err != nil {
		return cannedErr(err, "save the canned reply")
	}
	c.JSON(http.StatusCreated, gin.H{"canned": toCannedJSON(r)})
	return nil
}

func (a *cannedAPI) update(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	st := a.store(me.WorkspaceID)
	r, err := st.CannedReply(ctx, c.Param("id"))
	if err != nil {
		return cannedErr(err, "change the canned reply")
	}
	if err := mayChange(me, r); err != nil {
		return err
	}
	var req cannedReq
	if err := bindBody(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	if err := st.UpdateCannedReply(ctx, r.ID, req.Shortcut, req.Body); err != nil {
		return cannedErr(err, "change the canned reply")
	}
	r.Shortcut, r.Body = req.Shortcut, req.Body
	c.JSON(http.StatusOK, gin.H{"canned": toCannedJSON(r)})
	return nil
}

func (a *cannedAPI) remove(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	st := a.store(me.WorkspaceID)
	r, err := st.CannedReply(ctx, c.Param("id"))
	if err != nil {
		return cannedErr(err, "delete the canned reply")
	}
	if err := mayChange(me, r); err != nil {
		return err
	}
	if err := st.DeleteCannedReply(ctx, r.ID); err != nil {
		return cannedErr(err, "delete the canned reply")
	}
	c.Status(http.StatusNoContent)
	return nil
}
