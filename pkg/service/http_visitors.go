package service

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/blob"
	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Data rights (issue 19 item 7): an admin exports everything stored about
// a visitor as one JSON document, or deletes the visitor with all of it.
// Both are audited with the visitor's id only: the audit log must not keep
// the personal data a deletion removed.

// visitorStore is what the visitors API needs of one workspace's store.
type visitorStore interface {
	Visitor(ctx context.Context, id string) (store.Visitor, error)
	ExportVisitor(ctx context.Context, id string) (store.VisitorExport, error)
	DeleteVisitor(ctx context.Context, id string) (store.Deleted, error)
	AttachmentKeysOfVisitor(ctx context.Context, visitorID string) ([]string, error)
}

// visitorsAPI serves the visitors resource.
type visitorsAPI struct {
	store func(workspaceID string) visitorStore
	// publish reaches the site's open widgets (bus.SiteTopic).
	publish func(ctx context.Context, topic string, payload []byte) error
	site    func(ctx context.Context, id string) (store.Site, error)
	audit   func(c *gin.Context, workspaceID, action, target, detail string)
	now     func() time.Time
	log     *slog.Logger
	blobs   blob.Store // the visitor's files go with them
}

func (s *Server) visitorsAPI() *visitorsAPI {
	return &visitorsAPI{
		store:   func(ws string) visitorStore { return s.store.Workspace(ws) },
		publish: s.bus.Publish,
		site:    s.store.SiteByID,
		audit:   s.audit,
		now:     time.Now,
		log:     s.log,
		blobs:   s.blobs,
	}
}

// The export's JSON: snake_case, every opened field, no secrets of the
// server's own (refresh hashes).
type (
	exportJSON struct {
		ExportedAt    time.Time                  `json:"exported_at"`
		Visitor       exportVisitorJSON          `json:"visitor"`
		Attributes    map[string]store.Attribute `json:"attributes"`
		PageViews     []exportPageJSON           `json:"page_views"`
		Events        []exportEventJSON          `json:"events"`
		TriggersShown []string                   `json:"triggers_shown"`
		Conversations []exportConversationJSON   `json:"conversations"`
	}
	exportVisitorJSON struct {
		ID         string    `json:"id"`
		SiteID     string    `json:"site_id"`
		UserID     string    `json:"user_id,omitempty"`
		Name       string    `json:"name"`
		Email      string    `json:"email,omitempty"`
		Locale     string    `json:"locale,omitempty"`
		PageURL    string    `json:"page_url,omitempty"`
		CreatedAt  time.Time `json:"created_at"`
		LastSeenAt time.Time `json:"last_seen_at"`
	}
	exportPageJSON struct {
		URL       string            `json:"url"`
		Title     string            `json:"title"`
		Referrer  string            `json:"referrer,omitempty"`
		UTM       map[string]string `json:"utm,omitempty"`
		StartedAt time.Time         `json:"started_at"`
		Seconds   int               `json:"seconds"`
	}
	exportEventJSON struct {
		Name      string          `json:"name"`
		Props     json.RawMessage `json:"props,omitempty"`
		CreatedAt time.Time       `json:"created_at"`
	}
	exportConversationJSON struct {
		ID           string              `json:"id"`
		SiteID       string              `json:"site_id"`
		Status       string              `json:"status"`
		Language     string              `json:"language,omitempty"`
		ContactName  string              `json:"contact_name,omitempty"`
		ContactEmail string              `json:"contact_email,omitempty"`
		CreatedAt    time.Time           `json:"created_at"`
		ClosedAt     *time.Time          `json:"closed_at,omitempty"`
		CSAT         *exportCSATJSON     `json:"csat,omitempty"`
		Tags         []string            `json:"tags"`
		Messages     []exportMessageJSON `json:"messages"`
		Notes        []exportNoteJSON    `json:"notes"`
		Mails        []exportMailJSON    `json:"mails"`
		// Attachments: the files of the conversation (the bytes are
		// downloaded from it by id).
		Attachments []protocol.Attachment `json:"attachments"`
	}
	exportCSATJSON struct {
		Rating  int        `json:"rating"`
		Comment string     `json:"comment,omitempty"`
		At      *time.Time `json:"at,omitempty"`
	}
	exportMessageJSON struct {
		Seq        int64     `json:"seq"`
		AuthorKind string    `json:"author_kind"`
		AuthorName string    `json:"author_name"`
		Body       string    `json:"body"`
		CreatedAt  time.Time `json:"created_at"`
		// Translations: the message as auto-translated, by language.
		Translations map[string]string `json:"translations,omitempty"`
	}
	exportNoteJSON struct {
		AuthorID  string    `json:"author_id"`
		Body      string    `json:"body"`
		Mentions  []string  `json:"mentions,omitempty"`
		CreatedAt time.Time `json:"created_at"`
	}
	exportMailJSON struct {
		Kind      string     `json:"kind"`
		To        string     `json:"to"`
		Subject   string     `json:"subject"`
		Body      string     `json:"body"`
		CreatedAt time.Time  `json:"created_at"`
		SentAt    *time.Time `json:"sent_at,omitempty"`
	}
)

func toExportJSON(ex store.VisitorExport, now time.Time) exportJSON {
	v := ex.Visitor
	out := exportJSON{ExportedAt: now.UTC(), Attributes: ex.Attributes, TriggersShown: nonNil(ex.TriggersFired),
		Visitor: exportVisitorJSON{ID: v.ID, SiteID: v.SiteID, UserID: v.UserID, Name: v.Name, Email: v.Email, Locale: v.Locale,
			PageURL: v.PageURL, CreatedAt: v.CreatedAt, LastSeenAt: v.LastSeenAt},
		PageViews: []exportPageJSON{}, Events: []exportEventJSON{}, Conversations: []exportConversationJSON{}}
	for _, p := range ex.Pages {
		utm := map[string]string{}
		for k, val := range map[string]string{"source": p.UTMSource, "medium": p.UTMMedium, "campaign": p.UTMCampaign, "term": p.UTMTerm, "content": p.UTMContent} {
			if val != "" {
				utm[k] = val
			}
		}
		out.PageViews = append(out.PageViews, exportPageJSON{URL: p.URL, Title: p.Title, Referrer: p.Referrer, UTM: utm, StartedAt: p.StartedAt, Seconds: p.Seconds})
	}
	for _, e := range ex.Events {
		ev := exportEventJSON{Name: e.Name, CreatedAt: e.CreatedAt}
		if json.Valid([]byte(e.Props)) {
			ev.Props = json.RawMessage(e.Props)
		}
		out.Events = append(out.Events, ev)
	}
	for _, ce := range ex.Conversations {
		c := ce.Conversation
		cj := exportConversationJSON{ID: c.ID, SiteID: c.SiteID, Status: c.Status, Language: c.Language, ContactName: c.ContactName,
			ContactEmail: c.ContactEmail, CreatedAt: c.CreatedAt, ClosedAt: c.ClosedAt,
			Tags: []string{}, Messages: []exportMessageJSON{}, Notes: []exportNoteJSON{}, Mails: []exportMailJSON{},
			Attachments: []protocol.Attachment{}}
		if c.CsatRating > 0 {
			cj.CSAT = &exportCSATJSON{Rating: c.CsatRating, Comment: c.CsatComment, At: c.CsatAt}
		}
		for _, t := range ce.Tags {
			cj.Tags = append(cj.Tags, t.Name)
		}
		translated := map[int64]map[string]string{}
		for _, t := range ce.Translations {
			if translated[t.Seq] == nil {
				translated[t.Seq] = map[string]string{}
			}
			translated[t.Seq][t.Language] = t.Text
		}
		for _, m := range ce.Messages {
			cj.Messages = append(cj.Messages, exportMessageJSON{Seq: m.Seq, AuthorKind: m.AuthorKind, AuthorName: m.AuthorName, Body: m.Body, CreatedAt: m.CreatedAt,
				Translations: translated[m.Seq]})
		}
		for _, n := range ce.Notes {
			cj.Notes = append(cj.Notes, exportNoteJSON{AuthorID: n.AuthorID, Body: n.Body, Mentions: ce.Mentions[n.ID], CreatedAt: n.CreatedAt})
		}
		for _, at := range ce.Attachments {
			cj.Attachments = append(cj.Attachments, attachmentInfo(at))
		}
		for _, m := range ce.Mails {
			cj.Mails = append(cj.Mails, exportMailJSON{Kind: m.Kind, To: m.ToAddress, Subject: m.Subject, Body: m.Body, CreatedAt: m.CreatedAt, SentAt: m.SentAt})
		}
		out.Conversations = append(out.Conversations, cj)
	}
	return out
}

func visitorErr(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such visitor")
	}
	return apierr.Unavailable("cannot "+what+" right now; retry", err)
}

// export answers GET /api/visitors/:id/export: everything stored about the
// visitor, opened, as a JSON file to download.
func (a *visitorsAPI) export(c *gin.Context) error {
	me := agentOf(c)
	id := c.Param("id")
	ex, err := a.store(me.WorkspaceID).ExportVisitor(c.Request.Context(), id)
	if err != nil {
		return visitorErr(err, "export the visitor")
	}
	a.audit(c, me.WorkspaceID, "visitor_exported", id, "")
	c.Header("Content-Disposition", `attachment; filename="visitor-`+id+`.json"`)
	c.Header("Cache-Control", "no-store")
	c.IndentedJSON(http.StatusOK, toExportJSON(ex, a.now()))
	return nil
}

// remove answers DELETE /api/visitors/:id: the visitor and everything
// keyed by them or their conversations are deleted, and their open
// widgets lose their sockets.
func (a *visitorsAPI) remove(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	sc := a.store(me.WorkspaceID)
	v, err := sc.Visitor(ctx, c.Param("id"))
	if err != nil {
		return visitorErr(err, "read the visitor")
	}
	keys, err := sc.AttachmentKeysOfVisitor(ctx, v.ID)
	if err != nil {
		return visitorErr(err, "list the visitor's files")
	}
	deleted, err := sc.DeleteVisitor(ctx, v.ID)
	if err != nil {
		return visitorErr(err, "delete the visitor")
	}
	a.audit(c, me.WorkspaceID, "visitor_deleted", v.ID, "")
	// The rows are gone, so no one can reach the files any more; their
	// bytes go now. A failure is the admin's to see (and retry by hand):
	// the rows cannot be deleted again.
	for _, k := range keys {
		if err := a.blobs.Delete(ctx, k); err != nil {
			return apierr.Unavailable("the visitor is deleted but some of their files could not be removed from storage", err)
		}
	}
	if len(keys) > 0 {
		deleted["attachment_files"] = int64(len(keys))
	}
	// Its sockets, on whatever node, recheck their visitor when their
	// site's topic speaks (conn.recheckProof) and close, the visitor being
	// gone; other visitors of the site find theirs and chat on. Without
	// the publication (bus down) the socket closes at its next token
	// renewal.
	if site, err := a.site(ctx, v.SiteID); err == nil {
		b, _ := json.Marshal(protocol.Site{Envelope: protocol.Envelope{Type: protocol.TypeSite}, Look: widgetLook(site)})
		if err := a.publish(context.WithoutCancel(ctx), bus.SiteTopic(site.ID), b); err != nil {
			a.log.Warn("deleted visitor's sockets not told", "err", err)
		}
	}
	c.JSON(http.StatusOK, gin.H{"deleted": deleted})
	return nil
}
