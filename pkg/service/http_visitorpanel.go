package service

import (
	"context"
	"errors"
	"net/http"
	"strings"
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
	SetVisitorContact(ctx context.Context, id string, c store.VisitorContact) error
	ContactOfVisitor(ctx context.Context, visitorID string) (store.Contact, error)
	ConversionsOfVisitor(ctx context.Context, visitorID string) (store.VisitorConversions, error)
}

// visitorPanelAPI serves the visitor resource.
type visitorPanelAPI struct {
	store func(workspaceID string) panelStore
	infos func(ctx context.Context, workspaceID string, cs []store.Conversation) ([]protocol.ConversationInfo, error)
	audit func(c *gin.Context, workspaceID, action, target, detail string)
	// linkContact: an agent who adds an email or phone makes the visitor
	// known, a contact (http_contacts.go).
	linkContact func(ctx context.Context, ws, visitorID string, facts store.ContactFacts)
}

func (s *Server) visitorPanelAPI() *visitorPanelAPI {
	return &visitorPanelAPI{store: func(ws string) panelStore { return s.store.Workspace(ws) }, infos: s.conv.Infos, audit: s.audit,
		linkContact: s.linkContact}
}

type panelVisitorJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	// Custom are the site's own pre-chat fields the visitor filled in.
	Custom map[string]string `json:"custom,omitempty"`
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
	v, err := a.visitor(c, sc)
	if err != nil {
		return err
	}
	cs, err := sc.ConversationsOfVisitor(ctx, v.ID, store.VisitorRecent)
	if err != nil {
		return apierr.Unavailable("cannot read the visitor right now; retry", err)
	}
	infos, err := a.infos(ctx, me.WorkspaceID, cs)
	if err != nil {
		return apierr.Unavailable("cannot read the visitor right now; retry", err)
	}
	// The lead this visitor is (null when not a contact) and what they
	// bought after chatting (conversions.go).
	var contact *v1Contact
	if ct, err := sc.ContactOfVisitor(ctx, v.ID); err == nil {
		j := v1ContactOf(ct)
		contact = &j
	} else if !errors.Is(err, store.ErrNotFound) {
		return apierr.Unavailable("cannot read the visitor right now; retry", err)
	}
	conv, err := sc.ConversionsOfVisitor(ctx, v.ID)
	if err != nil {
		return apierr.Unavailable("cannot read the visitor right now; retry", err)
	}
	c.JSON(http.StatusOK, gin.H{
		"contact":     contact,
		"conversions": conversionsJSONOf(conv),
		"visitor": panelVisitorJSON{ID: v.ID, Name: v.Name, Email: v.Email, Phone: v.Phone, Custom: v.Custom(), Verified: v.UserID != "", Locale: v.Locale,
			Presence: v.Presence, LastSeenAt: v.LastSeenAt.UTC(), CreatedAt: v.CreatedAt.UTC(),
			Device: device.Parse(v.UserAgent), Place: placeOf(v)},
		"conversations": infos,
	})
	return nil
}

// visitor reads the visitor named in the path, its errors already API
// errors.
func (a *visitorPanelAPI) visitor(c *gin.Context, sc panelStore) (store.Visitor, error) {
	v, err := sc.Visitor(c.Request.Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return v, apierr.NotFound("no such visitor")
	}
	if err != nil {
		return v, apierr.Unavailable("cannot read the visitor right now; retry", err)
	}
	return v, nil
}

// placeOf is the visitor's recorded place, nil when none is known.
func placeOf(v store.Visitor) *device.Place {
	if v.CountryCode == "" {
		return nil
	}
	return &device.Place{CountryCode: v.CountryCode, Country: v.Country, Region: v.Region, City: v.City}
}

// visitorEdit is PATCH /api/visitors/:id: the fields given are set, an
// empty one cleared.
type visitorEdit struct {
	Name  *string `json:"name"`
	Email *string `json:"email"`
	Phone *string `json:"phone"`
}

// update answers PATCH /api/visitors/:id: an agent corrects or completes
// the visitor's contact details. A verified visitor's name and email are
// the site's backend's to say, not an agent's.
func (a *visitorPanelAPI) update(c *gin.Context) error {
	var req visitorEdit
	if err := bindBody(c, &req); err != nil {
		return err
	}
	var changed []string
	for _, f := range []struct {
		name string
		v    **string
	}{{"name", &req.Name}, {"email", &req.Email}, {"phone", &req.Phone}} {
		if *f.v != nil {
			t := strings.TrimSpace(**f.v)
			*f.v = &t
			changed = append(changed, f.name)
		}
	}
	if len(changed) == 0 {
		return apierr.Invalid("give name, email or phone")
	}
	if req.Name != nil && *req.Name == "" {
		return apierr.Invalid("the name cannot be empty")
	}
	if err := checkContact(deref(req.Name), deref(req.Email), deref(req.Phone)); err != nil {
		return apierr.Invalid(err.Error())
	}
	me := agentOf(c)
	sc := a.store(me.WorkspaceID)
	v, err := a.visitor(c, sc)
	if err != nil {
		return err
	}
	if v.UserID != "" && (req.Name != nil || req.Email != nil) {
		return apierr.New(http.StatusConflict, codeIdentity, "this visitor's name and email come from the site's sign-in (verified identity); change them there")
	}
	if err := sc.SetVisitorContact(c.Request.Context(), v.ID, store.VisitorContact{Name: req.Name, Email: req.Email, Phone: req.Phone}); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apierr.NotFound("no such visitor")
		}
		return apierr.Unavailable("cannot save the visitor right now; retry", err)
	}
	// The audit names the fields, not their values (personal data).
	a.audit(c, me.WorkspaceID, "visitor_updated", v.ID, strings.Join(changed, ", "))
	if deref(req.Email) != "" || deref(req.Phone) != "" {
		a.linkContact(c.Request.Context(), me.WorkspaceID, v.ID, store.ContactFacts{Name: deref(req.Name), Email: deref(req.Email), Phone: deref(req.Phone)})
	}
	return a.get(c)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
