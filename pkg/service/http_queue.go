package service

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/routing"
)

// The routing queue (/api/routing/queue): the conversations waiting for an
// agent, with their place, estimated wait and what they need, for the
// dashboard.

// queueAPI serves the routing queue.
type queueAPI struct {
	snapshot func(ctx context.Context, ws string) (routing.Snapshot, error)
}

func (s *Server) queueAPI() *queueAPI { return &queueAPI{snapshot: s.conv.Router().Snapshot} }

// queueEntryJSON is one waiting conversation on the dashboard.
type queueEntryJSON struct {
	Conversation         string `json:"conversation"`
	Position             int    `json:"position"`
	EstimatedWaitSeconds int    `json:"estimated_wait_seconds"`
	WaitingSeconds       int    `json:"waiting_seconds"`
	Language             string `json:"language,omitempty"`
	Skill                string `json:"skill,omitempty"`
	Team                 string `json:"team,omitempty"`
	Priority             int    `json:"priority"`
	Level                string `json:"level"`
	OfferedTo            string `json:"offered_to,omitempty"`
}

// list answers GET /api/routing/queue: the workspace's waiting
// conversations in routing's order.
func (a *queueAPI) list(c *gin.Context) error {
	me := agentOf(c)
	snap, err := a.snapshot(c.Request.Context(), me.WorkspaceID)
	if err != nil {
		return apierr.Unavailable("cannot read the queue right now", err)
	}
	now := time.Now()
	out := make([]queueEntryJSON, 0, len(snap.Queue))
	for _, w := range snap.Queue {
		e := queueEntryJSON{Conversation: w.ConversationID, Position: w.Position.Position, EstimatedWaitSeconds: -1,
			WaitingSeconds: int(now.Sub(w.EnqueuedAt).Seconds()), Language: w.Language, Skill: w.Skill, Team: w.Team,
			Priority: w.Priority, Level: w.Level.String(), OfferedTo: w.OfferedTo}
		if w.Position.Wait != routing.UnknownWait {
			e.EstimatedWaitSeconds = int(w.Position.Wait.Seconds())
		}
		out = append(out, e)
	}
	c.JSON(http.StatusOK, gin.H{"queue": out})
	return nil
}
