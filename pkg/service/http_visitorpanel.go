package service

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/device"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// The visitor resource as the conversation view's visitor panel reads it
// (GET /api/visitors/:id): who the visitor is and their past conversations.
// The page trail, events and custom attributes are the activity
// resource's (http_activity.go); exporting and deleting one the data-rights part (http_visitors.go).

// panelStore is what the visitors API needs of one workspace's store.
type panelStore interface {
	Visitor(ctx context.Context, id string) (store.Visitor, error)
	ConversationsOfVisitor(ctx context.Context, visitorID string, limit int) ([]store.Conversation, error)
}

// visitorPanelAPI serves the visitor resource.
type visitorPanelAPI struct {
	store func(workspaceID string) panelStore
	infos func(ctx context.Context, workspaceID string, cs []store.Conversation) ([]protocol.ConversationInfo, error)
}

func (s *Server) visitorPanelAPI() *visitorPanelAPI {
	return &visitorPanelAPI{store: func(ws string) panelStore { return s.store.Workspace(ws) }, infos: s.conv.Infos}
}

type panelVisitorJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
	// Verified: the site's backend vouched for who this is (identity
	// verification); Name and Email then come from it.
	Verified   bool      `json:"verified"`
	Locale     string    `json:"locale,omitempty"`
	Presence   string    `json:"presence,omitempty"`
	LastSeenAt time.Time `json:"last_seen_at"`
	CreatedAt  time.Time `json:"created_at"`
	// Device is read from the User-Agent of the visitor's latest session,
	// Place from their address when a GeoIP database is configured.
	Device device.Info   `json:"device"`
	Place  *device.Place `json:"place,omitempty"`
}

// get answers GET /api/visitors/:id: the visitor and their latest
// conversations (at most store.VisitorRecent), newest first.
func (a *visitorPanelAPI) get(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	sc := a.store(me.WorkspaceID)
	v, err := sc.Visitor(ctx, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such visitor")
	}
	if err != nil {
		return apierr.Unavailable("cannot read the visitor right now; retry", err)
	}
	cs, err := sc.ConversationsOfVisitor(ctx, v.ID, store.VisitorRecent)
	if err != nil {
		return apierr.Unavailable("cannot read the visitor right now; retry", err)
	}
	infos, err := a.infos(ctx, me.WorkspaceID, cs)
	if err != nil {
		return apierr.Unavailable("cannot read the visitor right now; retry", err)
	}
	c.JSON(http.StatusOK, gin.H{
		"visitor": panelVisitorJSON{ID: v.ID, Name: v.Name, Email: v.Email, Verified: v.UserID != "", Locale: v.Locale,
			Presence: v.Presence, LastSeenAt: v.LastSeenAt.UTC(), CreatedAt: v.CreatedAt.UTC(),
			Device: device.Parse(v.UserAgent), Place: placeOf(v)},
		"conversations": infos,
	})
	return nil
}

// placeOf is the visitor's recorded place, nil when none is known.
func placeOf(v store.Visitor) *device.Place {
	if v.CountryCode == "" {
		return nil
	}
	return &device.Place{CountryCode: v.CountryCode, Country: v.Country, Region: v.Region, City: v.City}
}
