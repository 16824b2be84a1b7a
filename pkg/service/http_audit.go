package service

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/store"
)

// The audit log: sign-ins, sessions revoked, invites, and changes admins
// make to agents, sites and routing, readable by the workspace's admins
// (the audit resource, /api/audit). Entries say which fields changed, never
// the value of a secret.

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

// auditStore is what the audit API needs of one workspace's store.
type auditStore interface {
	AuditEntries(ctx context.Context, before int64, limit int) ([]store.AuditEntry, error)
}

// auditAPI serves the audit resource.
type auditAPI struct {
	store func(workspaceID string) auditStore
}

func (s *Server) auditAPI() *auditAPI {
	return &auditAPI{store: func(ws string) auditStore { return s.store.Workspace(ws) }}
}

// list answers GET /api/audit?before=ID&limit=N: entries newest first;
// next_before (absent on the last page) fetches the next page.
func (a *auditAPI) list(c *gin.Context) error {
	before, err := strconv.ParseInt(c.DefaultQuery("before", "0"), 10, 64)
	if err != nil || before < 0 {
		return apierr.Invalid("before must be an entry id")
	}
	limit, err := strconv.Atoi(c.DefaultQuery("limit", "50"))
	if err != nil || limit < 1 || limit > 200 {
		return apierr.Invalid("limit must be 1..200")
	}
	// One more than asked tells whether there is a next page.
	list, err := a.store(agentOf(c).WorkspaceID).AuditEntries(c.Request.Context(), before, limit+1)
	if err != nil {
		return apierr.Unavailable("cannot read the audit log right now", err)
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
	return nil
}
