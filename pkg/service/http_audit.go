package service

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// The audit log: sign-ins, sessions revoked, invites, and changes admins
// make to agents, sites and routing, readable by the workspace's admins.
// Entries say which fields changed, never the value of a secret.

// audit appends an entry for the signed-in agent (if any) of the request.
// A failure to write is logged, not shown: the action itself succeeded.
func (s *Server) audit(c *gin.Context, workspaceID, action, target, detail string) {
	e := store.AuditEntry{Action: action, Target: target, Detail: detail, CreatedAt: time.Now().UTC()}
	if ip := s.clientAddr(c.Request); ip.IsValid() {
		e.IP = ip.String()
	}
	if v, ok := c.Get("agent"); ok {
		a := v.(store.Agent)
		e.ActorID, e.ActorName = a.ID, a.Name
	}
	if err := s.store.Workspace(workspaceID).Audit(c.Request.Context(), e); err != nil {
		s.log.Warn("audit entry not stored", "action", action, "workspace", workspaceID, "err", err)
	}
}

type auditJSON struct {
	ID        int64  `json:"id"`
	ActorID   string `json:"actor_id"`
	ActorName string `json:"actor_name"`
	Action    string `json:"action"`
	Target    string `json:"target"`
	Detail    string `json:"detail"`
	IP        string `json:"ip"`
	At        string `json:"at"`
}

// listAudit answers GET /api/audit?before=ID&limit=N: entries newest
// first; next_before (absent on the last page) fetches the next page.
func (s *Server) listAudit(c *gin.Context) {
	before, err := strconv.ParseInt(c.DefaultQuery("before", "0"), 10, 64)
	if err != nil || before < 0 {
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "before must be an entry id")
		return
	}
	limit, err := strconv.Atoi(c.DefaultQuery("limit", "50"))
	if err != nil || limit < 1 || limit > 200 {
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "limit must be 1..200")
		return
	}
	// One more than asked tells whether there is a next page.
	list, err := s.store.Workspace(agentOf(c).WorkspaceID).AuditEntries(c.Request.Context(), before, limit+1)
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot read the audit log right now")
		return
	}
	out := gin.H{}
	if len(list) > limit {
		list = list[:limit]
		out["next_before"] = list[limit-1].ID
	}
	entries := make([]auditJSON, len(list))
	for i, e := range list {
		entries[i] = auditJSON{ID: e.ID, ActorID: e.ActorID, ActorName: e.ActorName, Action: e.Action, Target: e.Target,
			Detail: e.Detail, IP: e.IP, At: e.CreatedAt.UTC().Format(time.RFC3339)}
	}
	out["entries"] = entries
	c.JSON(http.StatusOK, out)
}
