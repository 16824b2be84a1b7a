package service

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// The conversations resource (/api/conversations), as agents see it: the
// list, a conversation's messages, transfers, accepting and declining an
// offer, and a conversation's routing (why it went where it went, and its
// language, skill, team and priority). Writing in a conversation goes over
// the live connection (handle.go).

// conversationStore is what the conversations API needs of one
// workspace's store.
type conversationStore interface {
	Conversation(ctx context.Context, id string) (store.Conversation, error)
	UpdateConversationRouting(ctx context.Context, convID string, r store.ConversationRouting) error
}

// conversationRouter is what the conversations API asks of routing.
type conversationRouter interface {
	Transfer(ctx context.Context, ws, convID, from, toAgent, toTeam, note string) error
	Accept(ctx context.Context, ws, convID, agentID string) error
	Decline(ctx context.Context, ws, convID, agentID string) error
	ConversationChanged(ctx context.Context, ws, convID string) error
}

// conversationsAPI serves the conversations resource.
type conversationsAPI struct {
	store  func(workspaceID string) conversationStore
	router conversationRouter
	// visible and history read through the conversation service, which
	// checks who may see what; changed tells the conversation's
	// participants it changed.
	visible func(ctx context.Context, p conversation.Participant) ([]protocol.ConversationInfo, error)
	history func(ctx context.Context, p conversation.Participant, convID string, after int64) ([]protocol.Message, error)
	changed func(ctx context.Context, workspaceID, convID string)
	log     *slog.Logger
}

func (s *Server) conversationsAPI() *conversationsAPI {
	return &conversationsAPI{
		store:   func(ws string) conversationStore { return s.store.Workspace(ws) },
		router:  s.conv.Router(),
		visible: s.conv.Visible,
		history: s.conv.History,
		changed: s.conv.Changed,
		log:     s.log,
	}
}

func (a *conversationsAPI) list(c *gin.Context) error {
	convs, err := a.visible(c.Request.Context(), agentParticipant(agentOf(c)))
	if err != nil {
		return serviceErr(err, "cannot list conversations right now")
	}
	c.JSON(http.StatusOK, gin.H{"conversations": convs})
	return nil
}

func (a *conversationsAPI) messages(c *gin.Context) error {
	after, _ := strconv.ParseInt(c.DefaultQuery("after", "0"), 10, 64)
	if after < 0 {
		after = 0
	}
	ms, err := a.history(c.Request.Context(), agentParticipant(agentOf(c)), c.Param("id"), after)
	if err != nil {
		return serviceErr(err, "cannot read this conversation")
	}
	c.JSON(http.StatusOK, gin.H{"messages": ms})
	return nil
}

// conversationErr maps a store error of a conversation lookup to the API's.
func conversationErr(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such conversation")
	}
	return apierr.Unavailable("cannot "+what+" right now", err)
}

// inWorkspace is nil when the conversation is the workspace's, else 404.
// Handlers whose own errors would not say "not found" (an offer that is
// over, say) check first, so another workspace's id gets the same answer
// as an id that does not exist.
func (a *conversationsAPI) inWorkspace(c *gin.Context, ws, id string) error {
	if _, err := a.store(ws).Conversation(c.Request.Context(), id); err != nil {
		return conversationErr(err, "do this")
	}
	return nil
}

// routing shows agents why a conversation went where it went: the routing
// decisions, newest first, with what it needs.
func (a *conversationsAPI) routing(c *gin.Context) error {
	me := agentOf(c)
	conv, err := a.store(me.WorkspaceID).Conversation(c.Request.Context(), c.Param("id"))
	if err != nil {
		return conversationErr(err, "read the conversation")
	}
	history := []string{}
	for _, l := range strings.Split(conv.RoutingReason, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			history = append(history, l)
		}
	}
	c.JSON(http.StatusOK, gin.H{"routing": gin.H{"language": conv.Language, "skill": conv.Skill, "team": conv.Team,
		"priority": conv.Priority, "reasons": history, "transfer_note": conv.TransferNote}})
	return nil
}

func (a *conversationsAPI) transfer(c *gin.Context) error {
	me := agentOf(c)
	var req struct {
		ToAgent string `json:"to_agent"`
		ToTeam  string `json:"to_team"`
		Note    string `json:"note"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	if (req.ToAgent == "") == (req.ToTeam == "") {
		return apierr.Invalid("give exactly one of to_agent and to_team")
	}
	if utf8.RuneCountInString(req.Note) > 500 {
		return apierr.New(http.StatusBadRequest, protocol.CodeTooBig, "the note is at most 500 characters")
	}
	ctx := c.Request.Context()
	conv, err := a.store(me.WorkspaceID).Conversation(ctx, c.Param("id"))
	if err != nil {
		return conversationErr(err, "read the conversation")
	}
	from := me.ID
	if conv.AgentID == nil || *conv.AgentID != me.ID {
		if !isSupervisor(me) {
			return apierr.Forbidden("only the conversation's agent, a supervisor or an admin may transfer it")
		}
		from = "" // a supervisor's reassignment
	}
	if err := a.router.Transfer(ctx, me.WorkspaceID, conv.ID, from, req.ToAgent, req.ToTeam, strings.TrimSpace(req.Note)); err != nil {
		return serviceErrSays(err, "cannot do this right now")
	}
	a.log.Info("conversation transferred", "conversation", conv.ID, "by", me.ID, "to_agent", req.ToAgent, "to_team", req.ToTeam)
	a.answer(c, conv.ID)
	return nil
}

// answer answers with the conversation as the agent sees it now, or just
// ok when it cannot be read (the change itself succeeded).
func (a *conversationsAPI) answer(c *gin.Context, id string) {
	infos, err := a.visible(c.Request.Context(), agentParticipant(agentOf(c)))
	if err == nil {
		for _, info := range infos {
			if info.ID == id {
				c.JSON(http.StatusOK, gin.H{"conversation": info})
				return
			}
		}
	}
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

func (a *conversationsAPI) accept(c *gin.Context) error {
	me := agentOf(c)
	if err := a.inWorkspace(c, me.WorkspaceID, c.Param("id")); err != nil {
		return err
	}
	if err := a.router.Accept(c.Request.Context(), me.WorkspaceID, c.Param("id"), me.ID); err != nil {
		return serviceErrSays(err, "cannot do this right now")
	}
	a.answer(c, c.Param("id"))
	return nil
}

func (a *conversationsAPI) decline(c *gin.Context) error {
	me := agentOf(c)
	if err := a.inWorkspace(c, me.WorkspaceID, c.Param("id")); err != nil {
		return err
	}
	if err := a.router.Decline(c.Request.Context(), me.WorkspaceID, c.Param("id"), me.ID); err != nil {
		return serviceErrSays(err, "cannot do this right now")
	}
	c.JSON(http.StatusOK, gin.H{"ok": true})
	return nil
}

func (a *conversationsAPI) updateRouting(c *gin.Context) error {
	me := agentOf(c)
	var req struct {
		Language *string `json:"language"`
		Skill    *string `json:"skill"`
		Team     *string `json:"team"`
		Priority *int    `json:"priority"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	if req.Priority != nil && (*req.Priority < 0 || *req.Priority > 100) {
		return apierr.Invalid("priority must be 0..100")
	}
	if req.Language != nil && *req.Language != "" && !isLanguageTag(*req.Language) {
		return apierr.Invalid("language must be a BCP 47 tag such as fr")
	}
	for _, v := range []*string{req.Skill, req.Team} {
		if v != nil && len(*v) > 60 {
			return apierr.Invalid("skill and team are at most 60 characters")
		}
	}
	ctx := c.Request.Context()
	up := store.ConversationRouting{Language: req.Language, Skill: req.Skill, Team: req.Team, Priority: req.Priority}
	if !isSupervisor(me) {
		// Who may act in a conversation (conversation.Participant.owns).
		up.Agent = me.ID
	}
	err := a.store(me.WorkspaceID).UpdateConversationRouting(ctx, c.Param("id"), up)
	if errors.Is(err, store.ErrNotOwner) {
		return apierr.Forbidden("another agent handles this conversation now; only they (or a supervisor) may change it")
	}
	if err != nil {
		return conversationErr(err, "update the conversation")
	}
	if err := a.router.ConversationChanged(ctx, me.WorkspaceID, c.Param("id")); err != nil {
		a.log.Warn("conversation routing not applied", "conversation", c.Param("id"), "err", err)
	}
	a.changed(ctx, me.WorkspaceID, c.Param("id"))
	a.answer(c, c.Param("id"))
	return nil
}
