package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/text/language"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// The sites resource: admins create, change and delete the websites that
// embed the widget (/api/sites), and the widget reads its look
// (/api/widget/look). Routing settings have their own endpoints
// (/api/sites/:id/routing, http_site_routing.go).

// siteStore is what the sites API needs of one workspace's store.
type siteStore interface {
	Sites(ctx context.Context) ([]store.Site, error)
	Site(ctx context.Context, id string) (store.Site, error)
	CreateSite(ctx context.Context, site store.Site) error
	UpdateSiteSettings(ctx context.Context, id string, st store.SiteSettings) error
	DeleteSite(ctx context.Context, id string) error
	SetSiteSecret(ctx context.Context, id, secret string) error
}

// sitesAPI serves the sites resource.
type sitesAPI struct {
	// store scopes the store to a workspace; site finds a site by its
	// public id (the widget's data-site), in whatever workspace.
	store func(workspaceID string) siteStore
	site  func(ctx context.Context, id string) (store.Site, error)
	// publish reaches the site's open widgets (bus.SiteTopic).
	publish func(ctx context.Context, topic string, payload []byte) error
	// siteChanged tells routing that a site's rules are new.
	siteChanged func(ctx context.Context, ws, siteID string) error
	audit       func(c *gin.Context, workspaceID, action, target, detail string)
	origin      string // the server's public origin, for the embed code
	log         *slog.Logger
}

func (s *Server) sitesAPI() *sitesAPI {
	return &sitesAPI{
		store:       func(ws string) siteStore { return s.store.Workspace(ws) },
		site:        s.store.SiteByID,
		publish:     s.bus.Publish,
		siteChanged: s.conv.Router().SiteChanged,
		audit:       s.audit,
		origin:      s.cfg.PublicOrigin(),
		log:         s.log,
	}
}

type siteJSON struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	AllowedOrigins   []string `json:"allowed_origins"`
	IdentityRequired bool     `json:"identity_required"`
	// IdentitySecret is what the site's backend signs identities with.
	// Only admins see it.
	IdentitySecret string `json:"identity_secret"`
	EmbedCode      string `json:"embed_code"`
	// VisitorCalls: the site's visitors may start voice calls.
	VisitorCalls bool     `json:"visitor_calls"`
	Look         lookJSON `json:"look"`
	// PrechatFields: what the widget asks before a chat (and in the
	// offline form).
	PrechatFields []protocol.PrechatField `json:"prechat_fields"`
	// Attachments: the files visitors and agents may send (defaults
	// filled in: http_attachments.go).
	Attachments protocol.AttachmentLimits `json:"attachments"`
	// ConversionWindowHours: a purchase the page tracks counts for the
	// visitor's conversation started at most this long before it.
	ConversionWindowHours int `json:"conversion_window_hours"`
}

// prechatFields reads a site's stored pre-chat fields (checked when saved).
func prechatFields(site store.Site) []protocol.PrechatField {
	out := []protocol.PrechatField{}
	if site.PrechatFields != "" {
		_ = json.Unmarshal([]byte(site.PrechatFields), &out)
	}
	return out
}

// checkPrechatFields checks the fields an admin set: known kinds, each
// built-in one once, custom ones labelled, at most eight.
func checkPrechatFields(fields []protocol.PrechatField) error {
	if len(fields) > 8 {
		return apierr.Invalid("at most 8 pre-chat fields")
	}
	seen := map[string]bool{}
	for i, f := range fields {
		f.Label = strings.TrimSpace(f.Label)
		switch f.Kind {
		case "name", "email", "phone":
			f.Label = ""
		case "custom":
			if f.Label == "" || utf8.RuneCountInString(f.Label) > 60 {
				return apierr.Invalid("a custom pre-chat field needs a label of at most 60 characters")
			}
		default:
			return apierr.Invalid(`a pre-chat field is "name", "email", "phone" or "custom", got ` + store.Truncate(f.Kind, 20))
		}
		key := f.Kind + ":" + strings.ToLower(f.Label)
		if seen[key] {
			return apierr.Invalid("a pre-chat field is asked twice: " + store.Truncate(f.Kind+" "+f.Label, 80))
		}
		seen[key] = true
		fields[i] = f
	}
	return nil
}

// lookJSON is the widget's look as admins set it.
type lookJSON struct {
	Title            string `json:"title"`
	Greeting         string `json:"greeting"`
	AccentColor      string `json:"accent_color"`
	LauncherPosition string `json:"launcher_position"`
	ShowAvatars      bool   `json:"show_avatars"`
	// Language is the widget's language, "" for the visitor's.
	Language string `json:"language"`
}

func (a *sitesAPI) siteJSON(site store.Site) siteJSON {
	return siteJSON{
		ID: site.ID, Name: site.Name, AllowedOrigins: nonNil(strings.Fields(site.AllowedOrigins)),
		IdentityRequired: site.IdentityRequired, IdentitySecret: site.Secret, VisitorCalls: site.VisitorCalls,
		EmbedCode: embedCode(a.origin, site.ID),
		Look: lookJSON{Title: site.WidgetTitle, Greeting: site.WidgetGreeting, AccentColor: site.AccentColor,
			LauncherPosition: launcherPosition(site.LauncherPosition), ShowAvatars: site.ShowAvatars, Language: site.Language},
		PrechatFields:         prechatFields(site),
		Attachments:           attachLimits(site),
		ConversionWindowHours: site.ConversionWindowHours,
	}
}

func launcherPosition(p string) string {
	if p == "left" {
		return "left"
	}
	return "right"
}

// widgetLook is what a site's widget shows (the look endpoint and the
// site frame).
func widgetLook(site store.Site) protocol.WidgetLook {
	return protocol.WidgetLook{Title: site.WidgetTitle, Greeting: site.WidgetGreeting, AccentColor: site.AccentColor,
		LauncherPosition: launcherPosition(site.LauncherPosition), ShowAvatars: site.ShowAvatars, VisitorCalls: site.VisitorCalls,
		Language: site.Language, PrechatFields: prechatFields(site), Attachments: attachLimits(site)}
}

// siteErr maps a store error of a site lookup to the API's.
func siteErr(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierr.NotFound("no such site")
	case errors.Is(err, store.ErrConflict):
		return apierr.Conflict("a workspace keeps at least one site; create another before deleting this one")
	}
	return apierr.Unavailable("cannot "+what+" right now; retry", err)
}

func (a *sitesAPI) list(c *gin.Context) error {
	me := agentOf(c)
	sites, err := a.store(me.WorkspaceID).Sites(c.Request.Context())
	if err != nil {
		return siteErr(err, "list sites")
	}
	// Supervisors list sites to change their routing; the identity
	// secret stays with admins.
	out := make([]siteJSON, len(sites))
	for i, site := range sites {
		out[i] = a.siteJSON(site)
		if me.Role != "admin" {
			out[i].IdentitySecret = ""
		}
	}
	c.JSON(http.StatusOK, gin.H{"sites": out})
	return nil
}

func (a *sitesAPI) get(c *gin.Context) error {
	me := agentOf(c)
	site, err := a.store(me.WorkspaceID).Site(c.Request.Context(), c.Param("id"))
	if err != nil {
		return siteErr(err, "read the site")
	}
	out := a.siteJSON(site)
	if me.Role != "admin" {
		out.IdentitySecret = ""
	}
	c.JSON(http.StatusOK, gin.H{"site": out})
	return nil
}

// siteReq is the body of POST and PATCH /api/sites: what a PATCH leaves
// out stays as it is.
type siteReq struct {
	Name             *string                  `json:"name"`
	AllowedOrigins   *[]string                `json:"allowed_origins"`
	IdentityRequired *bool                    `json:"identity_required"`
	VisitorCalls     *bool                    `json:"visitor_calls"`
	PrechatFields    *[]protocol.PrechatField `json:"prechat_fields"`
	// Attachments: max_bytes (0: the default) and types (empty: the
	// default list).
	Attachments *struct {
		MaxBytes *int64    `json:"max_bytes"`
		Types    *[]string `json:"types"`
	} `json:"attachments"`
	ConversionWindow *int `json:"conversion_window_hours"`
	Look             *struct {
		Title            *string `json:"title"`
		Greeting         *string `json:"greeting"`
		AccentColor      *string `json:"accent_color"`
		LauncherPosition *string `json:"launcher_position"`
		ShowAvatars      *bool   `json:"show_avatars"`
		Language         *string `json:"language"`
	} `json:"look"`
}

// maxConversionWindow is the longest conversion window: 90 days.
const maxConversionWindow = 90 * 24

// widgetLanguages are the languages the widget speaks (widget/src/i18n.ts).
var widgetLanguages = []string{"en", "es", "fr", "de", "pt", "ar"}

var accentColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// apply checks the request and writes it over st.
func (r siteReq) apply(st *store.SiteSettings) error {
	text := func(v *string, dst *string, field string, max int) error {
		if v == nil {
			return nil
		}
		t := strings.TrimSpace(*v)
		if utf8.RuneCountInString(t) > max || !utf8.ValidString(t) {
			return apierr.Invalid(fmt.Sprintf("%s is at most %d characters", field, max))
		}
		*dst = t
		return nil
	}
	if err := text(r.Name, &st.Name, "name", 200); err != nil {
		return err
	}
	if st.Name == "" {
		return apierr.Invalid("a site needs a name")
	}
	if r.AllowedOrigins != nil {
		if len(*r.AllowedOrigins) > 50 {
			return apierr.Invalid("at most 50 allowed origins")
		}
		origins := make([]string, 0, len(*r.AllowedOrigins))
		for _, o := range *r.AllowedOrigins {
			clean, err := parseOrigin(strings.TrimSpace(o)) // origins.go
			if err != nil {
				return apierr.Invalid(err.Error())
			}
			if !containsString(origins, clean) {
				origins = append(origins, clean)
			}
		}
		st.AllowedOrigins = strings.Join(origins, " ")
	}
	if r.IdentityRequired != nil {
		st.IdentityRequired = *r.IdentityRequired
	}
	if r.VisitorCalls != nil {
		st.VisitorCalls = *r.VisitorCalls
	}
	if r.ConversionWindow != nil {
		if h := *r.ConversionWindow; h < 1 || h > maxConversionWindow {
			return apierr.Invalid(fmt.Sprintf("the conversion window is 1 to %d hours", maxConversionWindow))
		}
		st.ConversionWindowHours = *r.ConversionWindow
	}
	if r.PrechatFields != nil {
		fields := *r.PrechatFields
		if err := checkPrechatFields(fields); err != nil {
			return err
		}
		st.PrechatFields = ""
		if len(fields) > 0 {
			b, _ := json.Marshal(fields)
			st.PrechatFields = string(b)
		}
	}
	if at := r.Attachments; at != nil {
		if at.MaxBytes != nil {
			if *at.MaxBytes < 0 || *at.MaxBytes > maxAttachMaxBytes {
				return apierr.Invalid(fmt.Sprintf("the attachment size limit is 0 (the default, %s) to %s", humanBytes(defaultAttachMaxBytes), humanBytes(maxAttachMaxBytes)))
			}
			st.AttachMaxBytes = *at.MaxBytes
		}
		if at.Types != nil {
			types, err := checkAttachTypes(*at.Types)
			if err != nil {
				return err
			}
			st.AttachTypes = strings.Join(types, " ")
		}
	}
	if l := r.Look; l != nil {
		if err := text(l.Title, &st.WidgetTitle, "the title", 60); err != nil {
			return err
		}
		if err := text(l.Greeting, &st.WidgetGreeting, "the greeting", 300); err != nil {
			return err
		}
		if l.AccentColor != nil {
			c := strings.ToLower(strings.TrimSpace(*l.AccentColor))
			if c != "" && !accentColor.MatchString(c) {
				return apierr.Invalid("the accent colour is #rrggbb, got " + store.Truncate(c, 20))
			}
			st.AccentColor = c
		}
		if l.LauncherPosition != nil {
			if *l.LauncherPosition != "right" && *l.LauncherPosition != "left" {
				return apierr.Invalid(`the launcher position is "right" or "left"`)
			}
			st.LauncherPosition = *l.LauncherPosition
		}
		if l.ShowAvatars != nil {
			st.ShowAvatars = *l.ShowAvatars
		}
		if l.Language != nil {
			if *l.Language != "" && !containsString(widgetLanguages, *l.Language) {
				return apierr.Invalid("the language is one of " + strings.Join(widgetLanguages, ", ") + ", or empty for the visitor's")
			}
			st.Language = *l.Language
		}
	}
	return nil
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// create answers POST /api/sites with the new site (201). Its routing
// starts from the defaults; its identity secret is new.
func (a *sitesAPI) create(c *gin.Context) error {
	var req siteReq
	if err := bindBody(c, &req); err != nil {
		return err
	}
	st := store.SiteSettings{LauncherPosition: "right", ShowAvatars: true, ConversionWindowHours: store.DefaultConversionWindow}
	if err := req.apply(&st); err != nil {
		return err
	}
	me := agentOf(c)
	ctx := c.Request.Context()
	sc := a.store(me.WorkspaceID)
	site := store.Site{ID: uuid.NewString(), Name: st.Name, AllowedOrigins: st.AllowedOrigins, Secret: randomToken(),
		IdentityRequired: st.IdentityRequired, VisitorCalls: st.VisitorCalls, WidgetTitle: st.WidgetTitle,
		WidgetGreeting: st.WidgetGreeting, AccentColor: st.AccentColor, LauncherPosition: st.LauncherPosition, ShowAvatars: st.ShowAvatars,
		Language: st.Language, PrechatFields: st.PrechatFields, AttachMaxBytes: st.AttachMaxBytes, AttachTypes: st.AttachTypes}
	if err := sc.CreateSite(ctx, site); err != nil {
		return siteErr(err, "create the site")
	}
	if err := a.siteChanged(ctx, me.WorkspaceID, site.ID); err != nil {
		a.log.Warn("new site's routing not loaded; it loads on the next change", "site", site.ID, "err", err)
	}
	site, err := sc.Site(ctx, site.ID)
	if err != nil {
		return siteErr(err, "read the site")
	}
	a.log.Info("site created", "site", site.ID, "by", me.ID)
	a.audit(c, me.WorkspaceID, "site_created", site.Name, fmt.Sprintf("allowed_origins=%q", site.AllowedOrigins))
	c.JSON(http.StatusCreated, gin.H{"site": a.siteJSON(site)})
	return nil
}

// update answers PATCH /api/sites/:id, and tells the site's open widgets.
func (a *sitesAPI) update(c *gin.Context) error {
	var req siteReq
	if err := bindBody(c, &req); err != nil {
		return err
	}
	me := agentOf(c)
	ctx := c.Request.Context()
	sc := a.store(me.WorkspaceID)
	site, err := sc.Site(ctx, c.Param("id"))
	if err != nil {
		return siteErr(err, "read the site")
	}
	st := site.Settings()
	if err := req.apply(&st); err != nil {
		return err
	}
	if err := sc.UpdateSiteSettings(ctx, site.ID, st); err != nil {
		return siteErr(err, "update the site")
	}
	before := site
	if site, err = sc.Site(ctx, site.ID); err != nil {
		return siteErr(err, "read the site")
	}
	a.log.Info("site updated", "site", site.ID, "by", me.ID)
	a.audit(c, me.WorkspaceID, "site_updated", site.Name, siteChanges(before, site))
	a.tellWidgets(ctx, site)
	c.JSON(http.StatusOK, gin.H{"site": a.siteJSON(site)})
	return nil
}

// siteChanges says, for the audit log, which settings changed and to what.
func siteChanges(before, after store.Site) string {
	b, a := before.Settings(), after.Settings()
	var out []string
	add := func(field string, was, is any) {
		if was != is {
			out = append(out, fmt.Sprintf("%s=%q", field, fmt.Sprint(is)))
		}
	}
	add("name", b.Name, a.Name)
	add("allowed_origins", b.AllowedOrigins, a.AllowedOrigins)
	add("identity_required", b.IdentityRequired, a.IdentityRequired)
	add("visitor_calls", b.VisitorCalls, a.VisitorCalls)
	add("title", b.WidgetTitle, a.WidgetTitle)
	add("greeting", b.WidgetGreeting, a.WidgetGreeting)
	add("accent_color", b.AccentColor, a.AccentColor)
	add("launcher_position", b.LauncherPosition, a.LauncherPosition)
	add("show_avatars", b.ShowAvatars, a.ShowAvatars)
	add("language", b.Language, a.Language)
	add("prechat_fields", b.PrechatFields, a.PrechatFields)
	add("attach_max_bytes", b.AttachMaxBytes, a.AttachMaxBytes)
	add("attach_types", b.AttachTypes, a.AttachTypes)
	return strings.Join(out, " ")
}

// tellWidgets publishes the site's look to its visitors' connections
// (each subscribes to bus.SiteTopic at hello). A lost publication leaves a
// widget with the old look until it reloads: nothing is lost but looks.
func (a *sitesAPI) tellWidgets(ctx context.Context, site store.Site) {
	b, _ := json.Marshal(protocol.Site{Envelope: protocol.Envelope{Type: protocol.TypeSite}, Look: widgetLook(site)})
	if err := a.publish(context.WithoutCancel(ctx), bus.SiteTopic(site.ID), b); err != nil {
		a.log.Warn("site change not pushed to open widgets", "site", site.ID, "err", err)
	}
}

// remove answers DELETE /api/sites/:id: the site's widget stops working,
// its conversations stay.
func (a *sitesAPI) remove(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	sc := a.store(me.WorkspaceID)
	site, err := sc.Site(ctx, c.Param("id"))
	if err != nil {
		return siteErr(err, "read the site")
	}
	if err := sc.DeleteSite(ctx, site.ID); err != nil {
		return siteErr(err, "delete the site")
	}
	a.log.Info("site deleted", "site", site.ID, "by", me.ID)
	a.audit(c, me.WorkspaceID, "site_deleted", site.Name, "")
	c.Status(http.StatusNoContent)
	return nil
}

// rotateSecret replaces a site's identity secret (after a leak, or on a
// schedule). User hashes and JWTs signed with the old one stop working at
// once, so the customer's backend must switch to the new secret.
func (a *sitesAPI) rotateSecret(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	sc := a.store(me.WorkspaceID)
	if err := sc.SetSiteSecret(ctx, c.Param("id"), randomToken()); err != nil {
		return siteErr(err, "update the site")
	}
	site, err := sc.Site(ctx, c.Param("id"))
	if err != nil {
		return siteErr(err, "read the site")
	}
	a.audit(c, me.WorkspaceID, "site_secret_rotated", site.Name, "") // never the secret itself
	// Its visitors' sockets hear of it and recheck their proofs
	// (conn.recheckProof): those proven with the old secret close.
	a.tellWidgets(ctx, site)
	c.JSON(http.StatusOK, gin.H{"site": a.siteJSON(site)})
	return nil
}

// look answers GET /api/widget/look?site=ID: how the widget looks, for
// the loader's launcher on the customer's page and for the frame. Any page
// may read it (Access-Control-Allow-Origin: *): it is what every visitor
// of the site sees anyway, and it carries no credentials.
//
// Label is the launcher's label in the language the frame will speak, so
// the button on the page is not English until the frame has loaded.
func (a *sitesAPI) look(c *gin.Context) error {
	c.Header("Access-Control-Allow-Origin", "*")
	c.Header("Vary", "Accept-Language")
	site, err := a.site(c.Request.Context(), c.Query("site"))
	if err != nil {
		return siteErr(err, "read the site")
	}
	look := widgetLook(site)
	label := launcherLabel(look.Language, c.Query("locale"), c.GetHeader("Accept-Language"))
	c.JSON(http.StatusOK, gin.H{"look": look, "label": label})
	return nil
}

// launcherLabels is the launcher's label ("Chat with us") in each language
// the widget speaks, as widget/src/locales words it
// (TestLauncherLabelsAreTheWidgetsWords checks they agree).
var launcherLabels = map[string]string{
	"en": "Chat with us",
	"es": "Chatea con nosotros",
	"fr": "Discutez avec nous",
	"de": "Chatten Sie mit uns",
	"pt": "Fale conosco",
	"ar": "تحدّث معنا",
}

// launcherLabel picks the label's language as the frame picks its own
// (widget/src/i18n.ts, choose): the site's setting, then the host page's
// boot option, then the browser's languages in its order; English when
// the widget speaks none of them.
func launcherLabel(site, boot, acceptLanguage string) string {
	tags := []string{site, boot}
	if prefs, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil {
		for _, t := range prefs {
			tags = append(tags, t.String())
		}
	}
	for _, t := range tags {
		base, _, _ := strings.Cut(strings.ToLower(strings.ReplaceAll(t, "_", "-")), "-")
		if l, ok := launcherLabels[base]; ok {
			return l
		}
	}
	return launcherLabels["en"]
}
