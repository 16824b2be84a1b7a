package service

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// The supervision resource, for supervisors and admins: one view of every
// open conversation, the queue, and each agent's load and status
// (GET /api/supervision, read again by the dashboard every few seconds),
// and an agent's status history (GET /api/agents/:id/status-history).
// Opening, joining and reassigning a conversation are the existing
// conversation view (a supervisor may step in) and transfer
// (POST /api/conversations/:id/transfer, a supervisor's reassignment).

// supervisionStore is what the supervision API needs of one workspace's
// store.
type supervisionStore interface {
	Agents(ctx context.Context) ([]store.Agent, error)
	OpenLoads(ctx context.Context) (map[string]int, error)
	Queued(ctx context.Context) ([]store.Conversation, error)
	InboxPage(ctx context.Context, q store.InboxQuery, after *store.InboxCursor, limit int) ([]store.Conversation, *store.InboxCursor, error)
	StatusHistory(ctx context.Context, agentID string, limit int) ([]store.AgentStatusChange, error)
}

type supervisionAPI struct {
	store func(workspaceID string) supervisionStore
	infos func(ctx context.Context, workspaceID string, cs []store.Conversation) ([]protocol.ConversationInfo, error)
}

func (s *Server) supervisionAPI() *supervisionAPI {
	return &supervisionAPI{store: func(ws string) supervisionStore { return s.store.Workspace(ws) }, infos: s.conv.Infos}
}

// supervisedOpen bounds the open conversations one view lists (latest
// activity first).
const supervisedOpen = 500

type supervisedAgentJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Status   string `json:"status"`
	Capacity int    `json:"capacity"`
	Load     int    `json:"load"` // open conversations
	// StatusSince is when the status last changed, when that was stored.
	StatusSince *time.Time `json:"status_since,omitempty"`
	Disabled    bool       `json:"disabled,omitempty"`
}

type statusChangeJSON struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
}

func (a *supervisionAPI) unavailable(err error) error {
	return apierr.Unavailable("cannot read the team's state right now; retry", err)
}

// view answers GET /api/supervision.
func (a *supervisionAPI) view(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	sc := a.store(me.WorkspaceID)
	agents, err := sc.Agents(ctx)
	if err != nil {
		return a.unavailable(err)
	}
	loads, err := sc.OpenLoads(ctx)
	if err != nil {
		return a.unavailable(err)
	}
	out := make([]supervisedAgentJSON, 0, len(agents))
	for _, ag := range agents {
		j := supervisedAgentJSON{ID: ag.ID, Name: ag.Name, Role: ag.Role, Status: ag.Status, Capacity: ag.Capacity, Load: loads[ag.ID],
			Disabled: ag.DisabledAt != nil}
		last, err := sc.StatusHistory(ctx, ag.ID, 1)
		if err != nil {
			return a.unavailable(err)
		}
		if len(last) == 1 {
			at := last[0].At.UTC()
			j.StatusSince = &at
		}
		out = append(out, j)
	}
	queued, err := sc.Queued(ctx)
	if err != nil {
		return a.unavailable(err)
	}
	open, _, err := sc.InboxPage(ctx, store.InboxQuery{View: store.ViewAll, Agent: me.ID, Status: store.FilterOpen}, nil, supervisedOpen)
	if err != nil {
		return a.unavailable(err)
	}
	queueInfos, err := a.infos(ctx, me.WorkspaceID, queued)
	if err != nil {
		return a.unavailable(err)
	}
	openInfos, err := a.infos(ctx, me.WorkspaceID, open)
	if err != nil {
		return a.unavailable(err)
	}
	c.JSON(http.StatusOK, gin.H{"agents": out, "queue": nonNil(queueInfos), "open": nonNil(openInfos)})
	return nil
}

// statusHistory answers GET /api/agents/:id/status-history: the agent's
// latest status changes, newest first.
func (a *supervisionAPI) statusHistory(c *gin.Context) error {
	me := agentOf(c)
	hs, err := a.store(me.WorkspaceID).StatusHistory(c.Request.Context(), c.Param("id"), store.StatusHistoryLimit)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such agent")
	}
	if err != nil {
		return a.unavailable(err)
	}
	out := make([]statusChangeJSON, len(hs))
	for i, h := range hs {
		out[i] = statusChangeJSON{Status: h.Status, At: h.At.UTC()}
	}
	c.JSON(http.StatusOK, gin.H{"changes": out})
	return nil
}
