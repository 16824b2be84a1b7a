package service

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/store"
)

// An agent's notification preferences (/api/me/notifications): desktop
// notifications and a sound, for a newly assigned conversation, a mention
// and a visitor's message while the dashboard is hidden. The agent app
// reads them on start and decides, per event, whether to notify; the
// server only keeps them, so they follow the agent between browsers.

// notifyStore is what the preferences API needs of one workspace's store.
type notifyStore interface {
	NotifyPrefsOf(ctx context.Context, agentID string) (store.NotifyPrefs, error)
	SetNotifyPrefs(ctx context.Context, p store.NotifyPrefs) error
}

// notifyAPI serves an agent's own notification preferences.
type notifyAPI struct {
	store func(workspaceID string) notifyStore
}

func (s *Server) notifyAPI() *notifyAPI {
	return &notifyAPI{store: func(ws string) notifyStore { return s.store.Workspace(ws) }}
}

type notifyJSON struct {
	Desktop  bool `json:"desktop"`
	Sound    bool `json:"sound"`
	Assigned bool `json:"assigned"`
	Mentions bool `json:"mentions"`
	Messages bool `json:"messages"`
}

func (a *notifyAPI) get(c *gin.Context) error {
	me := agentOf(c)
	p, err := a.store(me.WorkspaceID).NotifyPrefsOf(c.Request.Context(), me.ID)
	if err != nil {
		return apierr.Unavailable("cannot read your notification settings right now; retry", err)
	}
	c.JSON(http.StatusOK, gin.H{"notifications": notifyJSON{p.Desktop, p.Sound, p.Assigned, p.Mentions, p.Messages}})
	return nil
}

// put replaces the preferences; every field is required, so an old client
// cannot silently turn one off by leaving it out.
func (a *notifyAPI) put(c *gin.Context) error {
	me := agentOf(c)
	var req struct {
		Desktop, Sound, Assigned, Mentions, Messages *bool
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	for _, f := range []*bool{req.Desktop, req.Sound, req.Assigned, req.Mentions, req.Messages} {
		if f == nil {
			return apierr.Invalid("desktop, sound, assigned, mentions and messages are all required (true or false)")
		}
	}
	p := store.NotifyPrefs{AgentID: me.ID, Desktop: *req.Desktop, Sound: *req.Sound, Assigned: *req.Assigned, Mentions: *req.Mentions, Messages: *req.Messages}
	if err := a.store(me.WorkspaceID).SetNotifyPrefs(c.Request.Context(), p); err != nil {
		return apierr.Unavailable("cannot save your notification settings right now; retry", err)
	}
	c.JSON(http.StatusOK, gin.H{"notifications": notifyJSON{p.Desktop, p.Sound, p.Assigned, p.Mentions, p.Messages}})
	return nil
}
