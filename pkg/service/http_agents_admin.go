package service

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Admins manage agents: change their role (PATCH /api/agents/:id, which
// goes through changeRole), disable and enable them.
//
// Disabling is the way to take someone off a workspace: the agent's row
// stays, so every message keeps its author and the audit log its actor;
// its sessions end, its sockets close on every node (revoke.go), it cannot
// sign in, and routing hands its conversations to other agents as when an
// agent goes offline (its chosen status becomes offline; AgentChanged
// re-reads it on every node). There is no delete.
//
// A workspace always keeps an enabled admin (store.ErrLastAdmin).

const codeLastAdmin = "last_admin"

// adminError answers a failed agent administration change.
func adminError(c *gin.Context, err error, what string) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		apiError(c, http.StatusNotFound, protocol.CodeNotFound, "no such agent")
	case errors.Is(err, store.ErrLastAdmin):
		apiError(c, http.StatusConflict, codeLastAdmin, "this is the workspace's last admin: make another agent admin first")
	default:
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot "+what+" right now")
	}
}

// changeRole sets an agent's role, keeping an enabled admin in the
// workspace. It answers the error itself and returns false on failure.
func (s *Server) changeRole(c *gin.Context, ws, id, role string) bool {
	if _, err := s.store.Workspace(ws).SetAgentRole(c.Request.Context(), id, role); err != nil {
		adminError(c, err, "change the role")
		return false
	}
	return true
}

func (s *Server) disableAgent(c *gin.Context) {
	me := agentOf(c)
	id := c.Param("id")
	if id == me.ID {
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "you cannot disable yourself; ask another admin")
		return
	}
	ctx := c.Request.Context()
	a, ended, err := s.store.Workspace(me.WorkspaceID).DisableAgent(ctx, id, time.Now().UTC())
	if err != nil {
		adminError(c, err, "disable the agent")
		return
	}
	s.revokeAgent(ctx, agentControl{Workspace: me.WorkspaceID, Agent: a.ID, Reason: revokeDisabled})
	// The stored status is offline now: routing requeues the agent's
	// conversations, here and (announced) on the other nodes.
	if err := s.conv.Router().AgentChanged(ctx, me.WorkspaceID, a.ID); err != nil {
		s.log.Warn("disabled agent not taken out of routing", "agent", a.ID, "err", err)
	}
	s.log.Info("agent disabled", "agent", a.ID, "by", me.ID)
	s.audit(c, me.WorkspaceID, "agent_disabled", a.Email, strconv.FormatInt(ended, 10)+" sessions ended")
	c.JSON(http.StatusOK, gin.H{"agent": profileJSON(a, s.routingAgents(c, me.WorkspaceID)), "sessions_ended": ended})
}

func (s *Server) enableAgent(c *gin.Context) {
	me := agentOf(c)
	ctx := c.Request.Context()
	a, err := s.store.Workspace(me.WorkspaceID).EnableAgent(ctx, c.Param("id"))
	if err != nil {
		adminError(c, err, "enable the agent")
		return
	}
	if err := s.conv.Router().AgentChanged(ctx, me.WorkspaceID, a.ID); err != nil {
		s.log.Warn("enabled agent not routable", "agent", a.ID, "err", err)
	}
	s.log.Info("agent enabled", "agent", a.ID, "by", me.ID)
	s.audit(c, me.WorkspaceID, "agent_enabled", a.Email, "")
	c.JSON(http.StatusOK, gin.H{"agent": profileJSON(a, s.routingAgents(c, me.WorkspaceID))})
}
