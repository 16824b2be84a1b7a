package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store"
)

// Visitor activity (issue 16): what the widget reports of a visitor beyond
// chat — the page trail, tracked events, custom attributes and proactive
// triggers shown — and what agents read of it. The widget authenticates
// with its visitor token; agents with their session, in their workspace.
// Site admins set the page trail and the triggers (/api/sites/:id/proactive).

// activityStore is what the activity API needs of one workspace's store.
type activityStore interface {
	Site(ctx context.Context, id string) (store.Site, error)
	Agent(ctx context.Context, id string) (store.Agent, error)
	Visitor(ctx context.Context, id string) (store.Visitor, error)
	Proactive(ctx context.Context, siteID string) (store.SiteProactive, error)
	SetProactive(ctx context.Context, p store.SiteProactive, triggers []store.Trigger, now time.Time) error
	RecordPages(ctx context.Context, visitorID, siteID string, views []store.VisitorPage) error
	VisitorPages(ctx context.Context, visitorID string, limit int) ([]store.VisitorPage, error)
	AddVisitorEvent(ctx context.Context, e store.VisitorEvent) error
	AttributeConversion(ctx context.Context, siteID, visitorID string, value float64, currency string, at time.Time, window time.Duration) (store.Conversion, bool, error)
	VisitorEvents(ctx context.Context, visitorID string, limit int) ([]store.VisitorEvent, error)
	VisitorAttributesOf(ctx context.Context, visitorID string) (map[string]store.Attribute, error)
	MergeVisitorAttributes(ctx context.Context, visitorID string, set map[string]*store.Attribute, max int, now time.Time) (map[string]store.Attribute, error)
	FireTrigger(ctx context.Context, visitorID, triggerID string, limit int, now time.Time) (bool, error)
}

// activityAPI serves visitor activity.
type activityAPI struct {
	store func(workspaceID string) activityStore
	site  func(ctx context.Context, id string) (store.Site, error)
	// visitor authenticates a widget request by its token; on false it
	// has answered the error.
	visitor func(c *gin.Context, token string) (conversation.Participant, store.Visitor, bool)
	// allow applies a rate limit; on false it has answered 429.
	allow func(c *gin.Context, rule ratelimit.Rule, subject string) bool
	rule  ratelimit.Rule // per visitor, for every report
	audit func(c *gin.Context, workspaceID, action, target, detail string)
	now   func() time.Time
}

func (s *Server) activityAPI() *activityAPI {
	return &activityAPI{
		store:   func(ws string) activityStore { return s.store.Workspace(ws) },
		site:    s.store.SiteByID,
		visitor: s.visitorFromToken,
		allow:   s.allowHTTP,
		rule:    s.rules.VisitorActivityPerVisitor,
		audit:   s.audit,
		now:     func() time.Time { return time.Now().UTC() },
	}
}

// Limits of what the widget may report.
const (
	maxViewsPerReport  = 20
	maxTriggers        = 20
	maxTriggerLimit    = 20
	maxAttributes      = 50
	maxAttributeString = 500
	maxEventProps      = 2048
	pagesShown         = 100
	eventsShown        = 100
	// currentFor is how long a page not reported left counts as the one
	// the visitor is on, when their widget's connection says nothing.
	currentFor = 2 * time.Minute
)

var (
	attributeKey = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	eventName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:\- ]{0,99}$`)
	viewID       = regexp.MustCompile(`^[A-Za-z0-9-]{8,36}$`)
)

// triggerJSON is a trigger as admins set it and the widget reads it (with
// From, the name it shows, for the widget).
type triggerJSON struct {
	store.Trigger
	From string `json:"from,omitempty"`
}

// proactiveJSON is a site's page trail and trigger settings.
type proactiveJSON struct {
	PageTrail    bool          `json:"page_trail"`
	RespectDNT   bool          `json:"respect_dnt"`
	TriggerLimit int           `json:"trigger_limit"`
	Triggers     []triggerJSON `json:"triggers"`
}

// fromName is who a trigger's message is from, as the widget shows it.
func fromName(ctx context.Context, sc activityStore, t store.Trigger) string {
	if t.AgentID == "" {
		return "Assistant"
	}
	if a, err := sc.Agent(ctx, t.AgentID); err == nil {
		return a.Name
	}
	return "Assistant" // the agent was deleted since
}

func (a *activityAPI) proactiveJSON(ctx context.Context, sc activityStore, p store.SiteProactive) proactiveJSON {
	out := proactiveJSON{PageTrail: p.PageTrail, RespectDNT: p.RespectDNT, TriggerLimit: p.TriggerLimit, Triggers: []triggerJSON{}}
	for _, t := range p.ParseTriggers() {
		out.Triggers = append(out.Triggers, triggerJSON{Trigger: t, From: fromName(ctx, sc, t)})
	}
	return out
}

func activityErr(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such " + what)
	}
	return apierr.Unavailable("cannot read or change the "+what+" right now; retry", err)
}

// getProactive answers GET /api/sites/:id/proactive.
func (a *activityAPI) getProactive(c *gin.Context) error {
	me := agentOf(c)
	sc := a.store(me.WorkspaceID)
	p, err := sc.Proactive(c.Request.Context(), c.Param("id"))
	if err != nil {
		return activityErr(err, "site")
	}
	c.JSON(http.StatusOK, gin.H{"proactive": a.proactiveJSON(c.Request.Context(), sc, p)})
	return nil
}

// putProactive answers PUT /api/sites/:id/proactive: the whole setting.
func (a *activityAPI) putProactive(c *gin.Context) error {
	var req struct {
		PageTrail    bool            `json:"page_trail"`
		RespectDNT   *bool           `json:"respect_dnt"`
		TriggerLimit *int            `json:"trigger_limit"`
		Triggers     []store.Trigger `json:"triggers"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	me := agentOf(c)
	ctx := c.Request.Context()
	sc := a.store(me.WorkspaceID)
	site, err := sc.Site(ctx, c.Param("id"))
	if err != nil {
		return activityErr(err, "site")
	}
	p := store.DefaultProactive(site.ID)
	p.PageTrail = req.PageTrail
	if req.RespectDNT != nil {
		p.RespectDNT = *req.RespectDNT
	}
	if req.TriggerLimit != nil {
		if *req.TriggerLimit < 0 || *req.TriggerLimit > maxTriggerLimit {
			return apierr.Invalid(fmt.Sprintf("trigger_limit is 0 to %d proactive messages per visitor", maxTriggerLimit))
		}
		p.TriggerLimit = *req.TriggerLimit
	}
	if len(req.Triggers) > maxTriggers {
		return apierr.Invalid(fmt.Sprintf("at most %d triggers per site", maxTriggers))
	}
	triggers := make([]store.Trigger, 0, len(req.Triggers))
	for i, t := range req.Triggers {
		t, err := checkTrigger(ctx, sc, t)
		if err != nil {
			return apierr.Invalid(fmt.Sprintf("trigger %d: %s", i+1, err.Error()))
		}
		triggers = append(triggers, t)
	}
	if err := sc.SetProactive(ctx, p, triggers, a.now()); err != nil {
		return activityErr(err, "site")
	}
	a.audit(c, me.WorkspaceID, "site_proactive_updated", site.Name,
		fmt.Sprintf("page_trail=%t respect_dnt=%t trigger_limit=%d triggers=%d", p.PageTrail, p.RespectDNT, p.TriggerLimit, len(triggers)))
	if p, err = sc.Proactive(ctx, site.ID); err != nil {
		return activityErr(err, "site")
	}
	c.JSON(http.StatusOK, gin.H{"proactive": a.proactiveJSON(ctx, sc, p)})
	return nil
}

// checkTrigger validates one trigger and gives it an id when new.
func checkTrigger(ctx context.Context, sc activityStore, t store.Trigger) (store.Trigger, error) {
	if t.ID == "" {
		t.ID = uuid.NewString()
	} else if !viewID.MatchString(t.ID) {
		return t, errors.New("id is 8 to 36 letters, digits or dashes")
	}
	switch t.Kind {
	case "time":
		if t.Seconds < 1 || t.Seconds > 3600 {
			return t, errors.New("a time trigger waits 1 to 3600 seconds")
		}
	case "scroll":
		if t.ScrollPercent < 1 || t.ScrollPercent > 100 {
			return t, errors.New("a scroll trigger needs a depth of 1 to 100 percent")
		}
	case "url", "exit", "returning":
	default:
		return t, errors.New(`kind is "time", "url", "scroll", "exit" or "returning"`)
	}
	if t.Kind != "time" {
		t.Seconds = 0
	}
	if t.Kind != "scroll" {
		t.ScrollPercent = 0
	}
	t.URLContains = strings.TrimSpace(t.URLContains)
	if t.Kind == "url" && t.URLContains == "" {
		return t, errors.New("a URL trigger needs the text the page's URL contains")
	}
	if utf8.RuneCountInString(t.URLContains) > 200 {
		return t, errors.New("the URL text is at most 200 characters")
	}
	t.Message = strings.TrimSpace(t.Message)
	if t.Message == "" || utf8.RuneCountInString(t.Message) > 500 {
		return t, errors.New("the message is 1 to 500 characters")
	}
	if t.AgentID != "" {
		if _, err := sc.Agent(ctx, t.AgentID); err != nil {
			return t, errors.New("no such agent in this workspace")
		}
	}
	return t, nil
}

// widgetProactive answers GET /api/widget/proactive?site=ID: what the
// widget on the customer's page watches for. Any page may read it, like
// the look: every visitor of the site sees these messages anyway.
func (a *activityAPI) widgetProactive(c *gin.Context) error {
	c.Header("Access-Control-Allow-Origin", "*")
	ctx := c.Request.Context()
	site, err := a.site(ctx, c.Query("site"))
	if err != nil {
		return activityErr(err, "site")
	}
	sc := a.store(site.WorkspaceID)
	p, err := sc.Proactive(ctx, site.ID)
	if err != nil {
		return activityErr(err, "site")
	}
	out := a.proactiveJSON(ctx, sc, p)
	for i := range out.Triggers {
		out.Triggers[i].AgentID = "" // the widget needs the name only
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// widgetVisitor authenticates a widget report and applies the per-visitor
// limit; on false it has answered.
func (a *activityAPI) widgetVisitor(c *gin.Context, token string) (conversation.Participant, bool) {
	p, _, ok := a.visitor(c, token)
	if !ok || !a.allow(c, a.rule, p.ID) {
		return p, false
	}
	return p, true
}

// pageViewReq is one page view as the widget reports it.
type pageViewReq struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Title     string    `json:"title"`
	Referrer  string    `json:"referrer"`
	StartedAt time.Time `json:"started_at"`
	Seconds   int       `json:"seconds"`
	Ended     bool      `json:"ended"`
}

// trailURL keeps a page's address for the trail without its query and
// fragment (reset links and tokens live there), and the UTM parameters
// the query carried.
func trailURL(raw string) (string, url.Values) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", nil
	}
	q := u.Query()
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return store.Truncate(u.String(), 2000), q
}

// widgetPages answers POST /api/widget/pages: a batch of the visitor's
// page views (new ones, and the time on page of earlier ones). A site
// without page trail, or a browser asking not to be tracked on a site that
// respects it, stores nothing.
func (a *activityAPI) widgetPages(c *gin.Context) error {
	var req struct {
		Token string        `json:"token"`
		Views []pageViewReq `json:"views"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	p, ok := a.widgetVisitor(c, req.Token)
	if !ok {
		return nil
	}
	if len(req.Views) > maxViewsPerReport {
		return apierr.Invalid(fmt.Sprintf("at most %d page views per report", maxViewsPerReport))
	}
	ctx := c.Request.Context()
	sc := a.store(p.WorkspaceID)
	settings, err := sc.Proactive(ctx, p.SiteID)
	if err != nil {
		return activityErr(err, "site")
	}
	if !settings.PageTrail || (settings.RespectDNT && c.GetHeader("DNT") == "1") {
		c.JSON(http.StatusOK, gin.H{"stored": 0})
		return nil
	}
	now := a.now()
	views := make([]store.VisitorPage, 0, len(req.Views))
	for i, v := range req.Views {
		if !viewID.MatchString(v.ID) {
			return apierr.Invalid(fmt.Sprintf("view %d: id is 8 to 36 letters, digits or dashes", i+1))
		}
		page, q := trailURL(v.URL)
		if page == "" {
			return apierr.Invalid(fmt.Sprintf("view %d: url is an http(s) address", i+1))
		}
		ref, _ := trailURL(v.Referrer) // another site's address, or none
		started := v.StartedAt.UTC()
		// The browser's clock may be off; a view is never in the future
		// nor older than a day.
		if started.After(now) || started.Before(now.Add(-24*time.Hour)) {
			started = now
		}
		utm := func(k string) string { return store.Truncate(strings.TrimSpace(q.Get("utm_"+k)), 200) }
		views = append(views, store.VisitorPage{
			ID: v.ID, URL: page, Title: store.Truncate(strings.TrimSpace(v.Title), 300), Referrer: ref,
			UTMSource: utm("source"), UTMMedium: utm("medium"), UTMCampaign: utm("campaign"), UTMTerm: utm("term"), UTMContent: utm("content"),
			StartedAt: started, Seconds: min(max(v.Seconds, 0), 24*3600), Ended: v.Ended, UpdatedAt: now,
		})
	}
	if err := sc.RecordPages(ctx, p.ID, p.SiteID, views); err != nil {
		return activityErr(err, "visitor")
	}
	c.JSON(http.StatusOK, gin.H{"stored": len(views)})
	return nil
}

// widgetEvent answers POST /api/widget/events: an event the host page
// tracked (Parley('track', name, props)).
func (a *activityAPI) widgetEvent(c *gin.Context) error {
	var req struct {
		Token string          `json:"token"`
		Name  string          `json:"name"`
		Props json.RawMessage `json:"props"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	p, ok := a.widgetVisitor(c, req.Token)
	if !ok {
		return nil
	}
	if !eventName.MatchString(req.Name) {
		return apierr.Invalid("an event name is 1 to 100 letters, digits, spaces or _ . : -, starting with a letter or digit")
	}
	props := "{}"
	var obj map[string]any
	if len(req.Props) > 0 && string(req.Props) != "null" {
		if err := json.Unmarshal(req.Props, &obj); err != nil {
			return apierr.Invalid("props is an object")
		}
		b, _ := json.Marshal(obj)
		if len(b) > maxEventProps {
			return apierr.TooBig(fmt.Sprintf("props is at most %d bytes of JSON", maxEventProps))
		}
		props = string(b)
	}
	var purchase *purchaseProps
	if req.Name == purchaseEvent {
		pp, err := readPurchase(obj)
		if err != nil {
			return err
		}
		purchase = &pp
	}
	ctx := c.Request.Context()
	e := store.VisitorEvent{SiteID: p.SiteID, VisitorID: p.ID, Name: req.Name, Props: props, CreatedAt: a.now()}
	st := a.store(p.WorkspaceID)
	if err := st.AddVisitorEvent(ctx, e); err != nil {
		return activityErr(err, "visitor")
	}
	if purchase != nil {
		site, err := st.Site(ctx, p.SiteID)
		if err != nil {
			return activityErr(err, "site")
		}
		window := time.Duration(site.ConversionWindowHours) * time.Hour
		if _, _, err := st.AttributeConversion(ctx, p.SiteID, p.ID, purchase.Value, purchase.Currency, e.CreatedAt, window); err != nil {
			return activityErr(err, "visitor")
		}
	}
	c.Status(http.StatusNoContent)
	return nil
}

// purchaseEvent is the tracked event that counts as a conversion
// (pkg/store/conversions.go): Parley('track', 'purchase', {value, currency}).
const purchaseEvent = "purchase"

type purchaseProps struct {
	Value    float64
	Currency string
}

var currencyCode = regexp.MustCompile(`^[A-Za-z]{3}$`)

// readPurchase reads a purchase's value (a number, 0 or more; absent: 0)
// and currency (an ISO 4217 code; absent: none).
func readPurchase(props map[string]any) (purchaseProps, error) {
	var p purchaseProps
	if v, ok := props["value"]; ok {
		f, ok := v.(float64)
		if !ok || f < 0 || math.IsInf(f, 0) || f > 1e12 {
			return p, apierr.Invalid("a purchase's value is a number from 0")
		}
		p.Value = f
	}
	if v, ok := props["currency"]; ok {
		s, ok := v.(string)
		if !ok || !currencyCode.MatchString(s) {
			return p, apierr.Invalid("a purchase's currency is a three-letter code such as EUR")
		}
		p.Currency = strings.ToUpper(s)
	}
	return p, nil
}

// checkAttribute validates one typed attribute value.
func checkAttribute(k string, v store.Attribute) (store.Attribute, error) {
	bad := func(why string) (store.Attribute, error) { return v, fmt.Errorf("attribute %q: %s", k, why) }
	switch v.Type {
	case "string":
		s, ok := v.Value.(string)
		if !ok {
			return bad("a string attribute's value is a string")
		}
		if utf8.RuneCountInString(s) > maxAttributeString {
			return bad(fmt.Sprintf("a string is at most %d characters", maxAttributeString))
		}
	case "number":
		f, ok := v.Value.(float64)
		if !ok || math.IsInf(f, 0) || math.IsNaN(f) {
			return bad("a number attribute's value is a finite number")
		}
	case "boolean":
		if _, ok := v.Value.(bool); !ok {
			return bad("a boolean attribute's value is true or false")
		}
	case "date":
		s, _ := v.Value.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return bad("a date attribute's value is an RFC 3339 time such as 2026-12-07T14:00:00Z")
		}
		v.Value = t.UTC().Format(time.RFC3339)
	default:
		return bad(`type is "string", "number", "boolean" or "date"`)
	}
	return v, nil
}

// widgetAttributes answers POST /api/widget/attributes: sets some of the
// visitor's custom attributes (null removes one); answers them all.
func (a *activityAPI) widgetAttributes(c *gin.Context) error {
	var req struct {
		Token      string                      `json:"token"`
		Attributes map[string]*store.Attribute `json:"attributes"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	p, ok := a.widgetVisitor(c, req.Token)
	if !ok {
		return nil
	}
	if len(req.Attributes) == 0 || len(req.Attributes) > maxAttributes {
		return apierr.Invalid(fmt.Sprintf("attributes is an object of 1 to %d attributes", maxAttributes))
	}
	for k, v := range req.Attributes {
		if !attributeKey.MatchString(k) {
			return apierr.Invalid(fmt.Sprintf("attribute name %q: 1 to 40 lower-case letters, digits or _, starting with a letter", store.Truncate(k, 50)))
		}
		if v == nil {
			continue
		}
		checked, err := checkAttribute(k, *v)
		if err != nil {
			return apierr.Invalid(err.Error())
		}
		*v = checked
	}
	all, err := a.store(p.WorkspaceID).MergeVisitorAttributes(c.Request.Context(), p.ID, req.Attributes, maxAttributes, a.now())
	if errors.Is(err, store.ErrConflict) {
		return apierr.Invalid(fmt.Sprintf("a visitor has at most %d attributes", maxAttributes))
	}
	if err != nil {
		return activityErr(err, "visitor")
	}
	c.JSON(http.StatusOK, gin.H{"attributes": all})
	return nil
}

// returningAfter is how long after their first visit a visitor counts as
// returning.
const returningAfter = 30 * time.Minute

// widgetFireTrigger answers POST /api/widget/triggers/fire: the widget saw
// a trigger's condition and asks whether to show its message. It may, once
// per trigger and up to the site's limit per visitor (409 otherwise), and
// a "returning" trigger only for a visitor first seen a while ago.
func (a *activityAPI) widgetFireTrigger(c *gin.Context) error {
	var req struct {
		Token   string `json:"token"`
		Trigger string `json:"trigger"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	p, v, ok := a.visitor(c, req.Token)
	if !ok || !a.allow(c, a.rule, p.ID) {
		return nil
	}
	ctx := c.Request.Context()
	sc := a.store(p.WorkspaceID)
	settings, err := sc.Proactive(ctx, p.SiteID)
	if err != nil {
		return activityErr(err, "site")
	}
	var t *store.Trigger
	for _, x := range settings.ParseTriggers() {
		if x.ID == req.Trigger {
			t = &x
			break
		}
	}
	if t == nil {
		return apierr.NotFound("no such trigger on this site")
	}
	now := a.now()
	if t.Kind == "returning" && v.CreatedAt.After(now.Add(-returningAfter)) {
		return apierr.New(http.StatusConflict, "not_returning", "this visitor is new to the site")
	}
	fired, err := sc.FireTrigger(ctx, p.ID, t.ID, settings.TriggerLimit, now)
	if err != nil {
		return activityErr(err, "visitor")
	}
	if !fired {
		return apierr.New(http.StatusConflict, "trigger_spent", "this visitor was shown this message already, or as many as the site allows")
	}
	c.JSON(http.StatusOK, gin.H{"trigger": triggerJSON{Trigger: store.Trigger{ID: t.ID, Kind: t.Kind, Message: t.Message}, From: fromName(ctx, sc, *t)}})
	return nil
}

// opening is the proactive message a visitor answers by starting a
// conversation (protocol.Start's Trigger): only a trigger the server showed
// this visitor and still among the site's triggers, so a visitor cannot
// put words in an agent's name. None otherwise.
func (s *Server) opening(ctx context.Context, p conversation.Participant, triggerID string) conversation.Opening {
	if triggerID == "" {
		return conversation.Opening{}
	}
	sc := s.store.Workspace(p.WorkspaceID)
	if fired, err := sc.TriggersFired(ctx, p.ID); err != nil || !slices.Contains(fired, triggerID) {
		return conversation.Opening{}
	}
	settings, err := sc.Proactive(ctx, p.SiteID)
	if err != nil {
		return conversation.Opening{}
	}
	for _, t := range settings.ParseTriggers() {
		if t.ID != triggerID {
			continue
		}
		o := conversation.Opening{AuthorName: fromName(ctx, sc, t), Body: t.Message}
		if _, err := sc.Agent(ctx, t.AgentID); t.AgentID != "" && err == nil {
			o.AuthorID = t.AgentID
		}
		return o
	}
	return conversation.Opening{}
}

// pageJSON is one page of a visitor's trail as agents read it.
type pageJSON struct {
	URL       string    `json:"url"`
	Title     string    `json:"title"`
	Referrer  string    `json:"referrer"`
	UTM       utmJSON   `json:"utm"`
	StartedAt time.Time `json:"started_at"`
	Seconds   int       `json:"seconds"`
}

type utmJSON struct {
	Source   string `json:"source"`
	Medium   string `json:"medium"`
	Campaign string `json:"campaign"`
	Term     string `json:"term"`
	Content  string `json:"content"`
}

// visitorPages answers GET /api/visitors/:id/pages: the visitor's page
// trail, newest first, and the page they are on now (current), if any.
func (a *activityAPI) visitorPages(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	sc := a.store(me.WorkspaceID)
	v, err := sc.Visitor(ctx, c.Param("id"))
	if err != nil {
		return activityErr(err, "visitor")
	}
	ps, err := sc.VisitorPages(ctx, v.ID, pagesShown)
	if err != nil {
		return activityErr(err, "visitor")
	}
	out := gin.H{}
	pages := make([]pageJSON, len(ps))
	for i, p := range ps {
		pages[i] = pageJSON{URL: p.URL, Title: p.Title, Referrer: p.Referrer, StartedAt: p.StartedAt.UTC(), Seconds: p.Seconds,
			UTM: utmJSON{Source: p.UTMSource, Medium: p.UTMMedium, Campaign: p.UTMCampaign, Term: p.UTMTerm, Content: p.UTMContent}}
	}
	out["pages"] = pages
	// The newest page is the current one while the visitor has not left
	// it and is still here: connected, or reported lately.
	if len(ps) > 0 && !ps[0].Ended {
		connected := v.Presence == protocol.PresenceOnline || v.Presence == protocol.PresenceAway
		if connected || ps[0].UpdatedAt.After(a.now().Add(-currentFor)) {
			out["current"] = pages[0]
		}
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// visitorEvents answers GET /api/visitors/:id/events: the events the host
// page tracked for the visitor, newest first.
func (a *activityAPI) visitorEvents(c *gin.Context) error {
	me := agentOf(c)
	es, err := a.store(me.WorkspaceID).VisitorEvents(c.Request.Context(), c.Param("id"), eventsShown)
	if err != nil {
		return activityErr(err, "visitor")
	}
	type eventJSON struct {
		Name  string          `json:"name"`
		Props json.RawMessage `json:"props"`
		At    time.Time       `json:"at"`
	}
	out := make([]eventJSON, len(es))
	for i, e := range es {
		out[i] = eventJSON{Name: e.Name, Props: json.RawMessage(e.Props), At: e.CreatedAt.UTC()}
	}
	c.JSON(http.StatusOK, gin.H{"events": out})
	return nil
}

// visitorAttributes answers GET /api/visitors/:id/attributes.
func (a *activityAPI) visitorAttributes(c *gin.Context) error {
	me := agentOf(c)
	attrs, err := a.store(me.WorkspaceID).VisitorAttributesOf(c.Request.Context(), c.Param("id"))
	if err != nil {
		return activityErr(err, "visitor")
	}
	c.JSON(http.StatusOK, gin.H{"attributes": attrs})
	return nil
}
