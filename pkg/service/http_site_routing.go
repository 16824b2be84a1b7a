package service

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/routing"
	"github.com/parleychat/parley/pkg/store"
)

// A site's routing settings (/api/sites/:id/routing: mode, offer timeout,
// relaxation, business hours, page rules and pre-chat choices), which
// admins and supervisors change, and whether its visitors may start voice
// calls (/api/sites/:id/calls), which admins do. The rest of a site is the
// sites resource (http_sites.go).

// siteRoutingStore is what the site routing API needs of one workspace's
// store.
type siteRoutingStore interface {
	Site(ctx context.Context, id string) (store.Site, error)
	UpdateSiteRouting(ctx context.Context, id string, r store.SiteRouting) error
	UpdateSiteEntry(ctx context.Context, id string, e store.SiteEntry) error
	SetSiteVisitorCalls(ctx context.Context, id string, allowed bool) error
}

// siteRoutingAPI serves a site's routing and calls settings.
type siteRoutingAPI struct {
	store func(workspaceID string) siteRoutingStore
	// siteChanged tells routing that a site's rules are new.
	siteChanged func(ctx context.Context, ws, siteID string) error
	audit       func(c *gin.Context, workspaceID, action, target, detail string)
	log         *slog.Logger
}

func (s *Server) siteRoutingAPI() *siteRoutingAPI {
	return &siteRoutingAPI{
		store:       func(ws string) siteRoutingStore { return s.store.Workspace(ws) },
		siteChanged: s.conv.Router().SiteChanged,
		audit:       s.audit,
		log:         s.log,
	}
}

// siteRoutingJSON is a site's routing settings.
type siteRoutingJSON struct {
	Mode                string              `json:"mode"`
	OfferTimeoutSeconds int                 `json:"offer_timeout_seconds"`
	MaxMisses           int                 `json:"max_misses"`
	RelaxAfterSeconds   []int               `json:"relax_after_seconds"`
	BusinessHours       map[string][]string `json:"business_hours"`
	TimeZone            string              `json:"time_zone"`
	// Entry rules; absent in a PATCH: unchanged.
	PageRules      *[]routing.PageRule `json:"page_rules,omitempty"`
	PrechatChoices *[]routing.Choice   `json:"prechat_choices,omitempty"`
}

func routingJSON(site store.Site) siteRoutingJSON {
	out := siteRoutingJSON{Mode: site.RoutingMode, OfferTimeoutSeconds: site.OfferTimeoutSeconds, MaxMisses: site.MaxMisses,
		RelaxAfterSeconds: []int{}, BusinessHours: map[string][]string{}, TimeZone: site.TimeZone}
	if out.Mode == "" {
		out.Mode = string(routing.ModeAuto)
	}
	for _, p := range store.SplitList(site.RelaxAfter) {
		if n, err := strconv.Atoi(p); err == nil {
			out.RelaxAfterSeconds = append(out.RelaxAfterSeconds, n)
		}
	}
	if site.BusinessHours != "" {
		json.Unmarshal([]byte(site.BusinessHours), &out.BusinessHours)
	}
	// Stored rules were checked when saved; unreadable ones show as none.
	rules, _ := conversation.PageRulesOf(site)
	choices, _ := conversation.ChoicesOf(site)
	rules, choices = nonNil(rules), nonNil(choices)
	out.PageRules, out.PrechatChoices = &rules, &choices
	return out
}

// routingSiteErr maps a store error of the routing endpoints to the API's.
func routingSiteErr(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such site")
	}
	return apierr.Unavailable("cannot "+what+" right now", err)
}

func (a *siteRoutingAPI) get(c *gin.Context) error {
	site, err := a.store(agentOf(c).WorkspaceID).Site(c.Request.Context(), c.Param("id"))
	if err != nil {
		return routingSiteErr(err, "read the site")
	}
	c.JSON(http.StatusOK, gin.H{"routing": routingJSON(site)})
	return nil
}

func (a *siteRoutingAPI) update(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	sc := a.store(me.WorkspaceID)
	current, err := sc.Site(ctx, c.Param("id"))
	if err != nil {
		return routingSiteErr(err, "read the site")
	}
	// A PATCH: what the body leaves out stays as it is. The body is
	// decoded over the current settings; business hours are replaced as a
	// whole (decoding into the current map would merge the days), and the
	// entry rules are left nil so siteEntry keeps them unless sent.
	req := routingJSON(current)
	req.BusinessHours, req.PageRules, req.PrechatChoices = nil, nil, nil
	if err := bindBody(c, &req); err != nil {
		return err
	}
	if req.BusinessHours == nil {
		req.BusinessHours = routingJSON(current).BusinessHours
	}
	if req.Mode == "" {
		req.Mode = string(routing.ModeAuto)
	}
	if req.OfferTimeoutSeconds < 0 || req.OfferTimeoutSeconds > 3600 || req.MaxMisses < 0 || req.MaxMisses > 100 {
		return apierr.Invalid("offer_timeout_seconds must be 0..3600 and max_misses 0..100")
	}
	relax := make([]string, len(req.RelaxAfterSeconds))
	for i, n := range req.RelaxAfterSeconds {
		relax[i] = strconv.Itoa(n)
	}
	hours := ""
	if len(req.BusinessHours) > 0 {
		b, _ := json.Marshal(req.BusinessHours)
		hours = string(b)
	}
	stored := store.SiteRouting{Mode: req.Mode, OfferTimeoutSeconds: req.OfferTimeoutSeconds, MaxMisses: req.MaxMisses,
		RelaxAfter: strings.Join(relax, ","), BusinessHours: hours, TimeZone: strings.TrimSpace(req.TimeZone)}
	// Check the rules as routing will read them before storing anything.
	if _, err := conversation.RulesOf(store.Site{RoutingMode: stored.Mode, OfferTimeoutSeconds: stored.OfferTimeoutSeconds,
		MaxMisses: stored.MaxMisses, RelaxAfter: stored.RelaxAfter, BusinessHours: stored.BusinessHours, TimeZone: stored.TimeZone}); err != nil {
		return apierr.Invalid(strings.TrimPrefix(err.Error(), "invalid: "))
	}
	if stored.BusinessHours == "" && stored.TimeZone != "" {
		if _, err := time.LoadLocation(stored.TimeZone); err != nil {
			return apierr.Invalid("unknown time zone " + strconv.Quote(store.Truncate(stored.TimeZone, 64)))
		}
	}
	entry, err := siteEntry(req)
	if err != nil {
		return err
	}
	site, err := sc.Site(ctx, c.Param("id"))
	if err == nil {
		if entry.PageRules == nil {
			entry.PageRules = &site.PageRules
		}
		if entry.PrechatChoices == nil {
			entry.PrechatChoices = &site.PrechatChoices
		}
		err = sc.UpdateSiteRouting(ctx, site.ID, stored)
	}
	if err == nil {
		err = sc.UpdateSiteEntry(ctx, site.ID, store.SiteEntry{PageRules: *entry.PageRules, PrechatChoices: *entry.PrechatChoices})
	}
	if err != nil {
		return routingSiteErr(err, "update the site")
	}
	if err := a.siteChanged(ctx, me.WorkspaceID, c.Param("id")); err != nil {
		a.log.Warn("site routing not applied", "site", c.Param("id"), "err", err)
	}
	site, err = sc.Site(ctx, c.Param("id"))
	if err != nil {
		return apierr.Unavailable("cannot read the site right now", err)
	}
	a.log.Info("site routing updated", "site", site.ID, "by", me.ID, "mode", site.RoutingMode)
	if b, err := json.Marshal(routingJSON(site)); err == nil {
		a.audit(c, me.WorkspaceID, "site_routing_updated", site.Name, string(b))
	}
	c.JSON(http.StatusOK, gin.H{"routing": routingJSON(site)})
	return nil
}

// storedEntry is a site's entry rules as JSON to store; nil: unchanged.
type storedEntry struct{ PageRules, PrechatChoices *string }

// siteEntry checks the page rules and pre-chat choices of a PATCH.
func siteEntry(req siteRoutingJSON) (storedEntry, error) {
	var out storedEntry
	bad := func(err error) (storedEntry, error) {
		return storedEntry{}, apierr.Invalid(strings.TrimPrefix(err.Error(), routing.ErrInvalidRules.Error()+": "))
	}
	if req.PageRules != nil {
		js, err := entryJSON(*req.PageRules, func(r *routing.PageRule) { r.Pattern = strings.TrimSpace(r.Pattern) }, routing.ValidatePageRules)
		if err != nil {
			return bad(err)
		}
		out.PageRules = &js
	}
	if req.PrechatChoices != nil {
		js, err := entryJSON(*req.PrechatChoices, func(ch *routing.Choice) { ch.Label = strings.TrimSpace(ch.Label) }, routing.ValidateChoices)
		if err != nil {
			return bad(err)
		}
		out.PrechatChoices = &js
	}
	return out, nil
}

// entryJSON trims each item, validates the list and returns it as JSON to
// store; an empty list is stored as "" (no rules).
func entryJSON[T any](items []T, trim func(*T), validate func([]T) error) (string, error) {
	for i := range items {
		trim(&items[i])
	}
	if err := validate(items); err != nil {
		return "", err
	}
	if len(items) == 0 {
		return "", nil
	}
	b, _ := json.Marshal(items)
	return string(b), nil
}

// setCalls sets whether a site's visitors may start voice calls
// (PUT /api/sites/:id/calls {"visitor_calls": bool}).
func (a *siteRoutingAPI) setCalls(c *gin.Context) error {
	var req struct {
		VisitorCalls *bool `json:"visitor_calls"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	if req.VisitorCalls == nil {
		return apierr.Invalid("visitor_calls (true or false) is required")
	}
	ws := agentOf(c).WorkspaceID
	if err := a.store(ws).SetSiteVisitorCalls(c.Request.Context(), c.Param("id"), *req.VisitorCalls); err != nil {
		return siteErr(err, "save the site")
	}
	a.audit(c, ws, "site_calls_updated", c.Param("id"), "visitor_calls="+strconv.FormatBool(*req.VisitorCalls))
	c.JSON(http.StatusOK, gin.H{"visitor_calls": *req.VisitorCalls})
	return nil
}
