package service

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/store"
)

// The rating of a chat (CSAT): when a conversation ended, its visitor rates
// it with one tap (1 to 5) and may add a comment (POST /api/widget/csat).
// Agents see both in the conversation (ConversationInfo.CsatRating).

// csatAPI serves the visitor's rating.
type csatAPI struct {
	// visitor authenticates the widget's token (it writes the error and
	// says false when it cannot).
	visitor func(c *gin.Context, token string) (conversation.Participant, store.Visitor, bool)
	store   func(ctx context.Context, ws, convID, visitorID string, rating int, comment string, now time.Time) error
	// changed tells the visitor's widgets and the workspace's agents;
	// emit tells webhooks (csat.received).
	changed func(ctx context.Context, ws, convID string)
	emit    func(ctx context.Context, ev conversation.Event)
}

func (s *Server) csatAPI() *csatAPI {
	return &csatAPI{
		visitor: s.visitorFromToken,
		store: func(ctx context.Context, ws, convID, visitorID string, rating int, comment string, now time.Time) error {
			return s.store.Workspace(ws).RateConversation(ctx, convID, visitorID, rating, comment, now)
		},
		changed: s.conv.Changed,
		emit:    s.conv.Emit,
	}
}

// rateReq is the body of POST /api/widget/csat.
type rateReq struct {
	Token        string `json:"token"`
	Conversation string `json:"conversation"`
	Rating       int    `json:"rating"`
	Comment      string `json:"comment"`
}

// rate answers POST /api/widget/csat: the visitor's rating of one of their
// own conversations that ended. Rating again replaces the rating.
func (a *csatAPI) rate(c *gin.Context) error {
	var req rateReq
	if err := bindBody(c, &req); err != nil {
		return err
	}
	comment := strings.TrimSpace(req.Comment)
	switch {
	case req.Rating < 1 || req.Rating > 5:
		return apierr.Invalid("the rating is 1 to 5")
	case utf8.RuneCountInString(comment) > 2000 || !utf8.ValidString(comment):
		return apierr.Invalid("the comment is at most 2000 characters")
	}
	p, _, ok := a.visitor(c, req.Token)
	if !ok {
		return nil // answered
	}
	ctx := c.Request.Context()
	err := a.store(ctx, p.WorkspaceID, req.Conversation, p.ID, req.Rating, comment, time.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such ended conversation")
	}
	if err != nil {
		return apierr.Unavailable("cannot store your rating right now; retry", err)
	}
	a.changed(ctx, p.WorkspaceID, req.Conversation)
	a.emit(ctx, conversation.Event{Type: conversation.EventCSATReceived, WorkspaceID: p.WorkspaceID, Conversation: req.Conversation,
		Detail: map[string]any{"rating": req.Rating, "comment": comment}})
	c.JSON(http.StatusOK, gin.H{"rating": req.Rating})
	return nil
}
