package service

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/store"
)

// The workspace's retention periods (data rights): admins say how many
// days closed conversations and page views are kept (0: forever); the
// purge job (purge.go) deletes what is older.

// retentionStore is what the retention API needs of one workspace's store.
type retentionStore interface {
	Workspace(ctx context.Context) (store.Workspace, error)
	SetRetention(ctx context.Context, messagesDays, pageViewsDays int) error
}

// retentionAPI serves /api/workspace/retention.
type retentionAPI struct {
	store func(workspaceID string) retentionStore
	audit func(c *gin.Context, workspaceID, action, target, detail string)
}

func (s *Server) retentionAPI() *retentionAPI {
	return &retentionAPI{store: func(ws string) retentionStore { return s.store.Workspace(ws) }, audit: s.audit}
}

type retentionJSON struct {
	MessagesDays  int `json:"messages_days"`
	PageViewsDays int `json:"page_views_days"`
}

// maxRetentionDays bounds a period (a hundred years: "forever" is 0).
const maxRetentionDays = 36500

// get answers GET /api/workspace/retention.
func (a *retentionAPI) get(c *gin.Context) error {
	w, err := a.store(agentOf(c).WorkspaceID).Workspace(c.Request.Context())
	if err != nil {
		return apierr.Unavailable("cannot read the workspace right now; retry", err)
	}
	c.JSON(http.StatusOK, gin.H{"retention": retentionJSON{MessagesDays: w.RetainMessagesDays, PageViewsDays: w.RetainPageViewsDays}})
	return nil
}

// put answers PUT /api/workspace/retention {messages_days, page_views_days}.
func (a *retentionAPI) put(c *gin.Context) error {
	var r retentionJSON
	if err := c.ShouldBindJSON(&r); err != nil {
		return apierr.Invalid("the body must be {messages_days, page_views_days}")
	}
	if r.MessagesDays < 0 || r.MessagesDays > maxRetentionDays || r.PageViewsDays < 0 || r.PageViewsDays > maxRetentionDays {
		return apierr.Invalid(fmt.Sprintf("retention is 0 (keep forever) to %d days", maxRetentionDays))
	}
	me := agentOf(c)
	if err := a.store(me.WorkspaceID).SetRetention(c.Request.Context(), r.MessagesDays, r.PageViewsDays); err != nil {
		return apierr.Unavailable("cannot save the retention right now; retry", err)
	}
	a.audit(c, me.WorkspaceID, "retention_changed", "", fmt.Sprintf("messages_days=%d page_views_days=%d", r.MessagesDays, r.PageViewsDays))
	c.JSON(http.StatusOK, gin.H{"retention": r})
	return nil
}
