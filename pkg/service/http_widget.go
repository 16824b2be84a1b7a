package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/routing"
	"github.com/parleychat/parley/pkg/store"
)

// The widget's API (/api/widget/...): a visitor session (the token the
// widget's socket opens with), whether anyone can chat now, the offline
// form and the pre-chat choice. Its look is the sites resource's
// (http_sites.go); its files are served by http_static.go.

// widgetStore is what the widget API needs of one workspace's store.
type widgetStore interface {
	Site(ctx context.Context, id string) (store.Site, error)
	VisitorByUser(ctx context.Context, siteID, userID string) (store.Visitor, error)
	CreateVisitor(ctx context.Context, v store.Visitor) (store.Visitor, error)
	SetVisitorEmail(ctx context.Context, id, email string) error
	SetVisitorPage(ctx context.Context, id, pageURL string) error
	SetVisitorProfile(ctx context.Context, id string, p store.VisitorProfile) error
	SetVisitorDevice(ctx context.Context, id string, d store.VisitorDevice) error
}

// widgetRouter is what the widget API asks of routing.
type widgetRouter interface {
	Availability(ctx context.Context, ws, siteID string) (conversation.Availability, error)
	Prechat(ctx context.Context, p conversation.Participant, label, skill, team string) error
}

// widgetAPI serves the widget's API.
type widgetAPI struct {
	store func(workspaceID string) widgetStore
	// site finds a site by its public id, in whatever workspace.
	site       func(ctx context.Context, id string) (store.Site, error)
	siteOrigin func(r *http.Request, site store.Site) bool
	// visitor authenticates a request by its visitor token (visitorOf);
	// restore finds the visitor an anonymous widget comes back as, and
	// token signs a visitor token (visitor_token.go).
	visitor func(c *gin.Context, token string) (conversation.Participant, store.Visitor, error)
	restore func(ctx context.Context, site store.Site, token, refresh string, now time.Time) (store.Visitor, string, error)
	token   func(site store.Site, v store.Visitor, now time.Time) (string, time.Time)
	// device is what a session request tells of the visitor's browser
	// and place.
	device func(r *http.Request) store.VisitorDevice
	// newVisitorLimit and offlineLimit are the rate limits of new
	// visitors (per address and per site) and of the offline form.
	newVisitorLimit func(c *gin.Context, site store.Site) error
	offlineLimit    func(c *gin.Context) error
	router          widgetRouter
	leaveMessage    func(ctx context.Context, p conversation.Participant, clientID, name, email, body string) (protocol.ConversationInfo, error)
	// assistantNow says whether the site's assistant answers a new
	// visitor now (assistant.go).
	assistantNow func(ctx context.Context, ws, siteID string, online bool) bool
	// linkContact makes a visitor who became known a contact
	// (http_contacts.go).
	linkContact func(ctx context.Context, ws, visitorID string, facts store.ContactFacts)
	log         *slog.Logger
}

func (s *Server) widgetAPI() *widgetAPI {
	return &widgetAPI{
		store:      func(ws string) widgetStore { return s.store.Workspace(ws) },
		site:       s.store.SiteByID,
		siteOrigin: s.siteOrigin,
		visitor:    s.visitorOf,
		restore: func(ctx context.Context, site store.Site, token, refresh string, now time.Time) (store.Visitor, string, error) {
			return s.restoreVisitor(ctx, s.store.Workspace(site.WorkspaceID), site, token, refresh, now)
		},
		token: s.visitorToken,
		device: func(r *http.Request) store.VisitorDevice {
			d := store.VisitorDevice{UserAgent: store.Truncate(r.UserAgent(), 512)}
			if s.places != nil {
				if p, ok := s.places.Locate(s.clientAddr(r)); ok {
					d.CountryCode, d.Country, d.Region, d.City = p.CountryCode, p.Country, p.Region, p.City
				}
			}
			return d
		},
		newVisitorLimit: func(c *gin.Context, site store.Site) error {
			if err := s.limit(c, s.rules.VisitorSessionPerIP, s.clientKey(c.Request)); err != nil {
				return err
			}
			return s.limit(c, s.rules.VisitorSessionPerSite, site.ID)
		},
		offlineLimit: func(c *gin.Context) error { return s.limit(c, s.rules.OfflineFormPerIP, s.clientKey(c.Request)) },
		router:       s.conv.Router(),
		leaveMessage: s.conv.LeaveMessage,
		assistantNow: s.assistant.answersNow,
		linkContact:  s.linkContact,
		log:          s.log,
	}
}

// sameOrigin reports whether a browser request comes from this server's own
// pages: its Origin is the public URL's (config.IsOwnOrigin). A request
// without Origin (not a browser page) is not.
func (s *Server) sameOrigin(r *http.Request) bool {
	return s.cfg.IsOwnOrigin(r.Header.Get("Origin"))
}

// siteOrigin reports whether a visitor request may act for the site: from
// the widget frame (this server's origin) or from one of the site's pages.
func (s *Server) siteOrigin(r *http.Request, site store.Site) bool {
	if s.sameOrigin(r) {
		return true
	}
	if r.Header.Get("Origin") == "" && r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return true // the frame's own GET (a file download) carries no Origin
	}
	o := r.Header.Get("Origin")
	for _, allowed := range strings.Fields(site.AllowedOrigins) {
		if o == allowed {
			return true
		}
	}
	return false
}

type widgetSessionReq struct {
	SiteID string `json:"site_id"`
	Token  string `json:"token"`
	Locale string `json:"locale"`
	// Page is the URL of the page the widget is on (for the site's page
	// rules).
	Page string `json:"page"`
	// Identity verification (either form): the customer's backend computed
	// UserHash = hex(HMAC-SHA256(site secret, UserID)), or signed an HS256
	// JWT (IdentityToken) with the site secret.
	UserID        string `json:"user_id"`
	UserHash      string `json:"user_hash"`
	IdentityToken string `json:"identity_token"`
	// Refresh is the visitor's refresh secret: with an expired Token it
	// gets the visitor back (see visitor_token.go).
	Refresh string `json:"refresh"`
}

// widgetSession gives the widget a visitor token: the same visitor again for
// a valid token of the same site, else a new visitor.
func (a *widgetAPI) session(c *gin.Context) error {
	var req widgetSessionReq
	if err := bindBody(c, &req); err != nil {
		return err
	}
	if req.Locale != "" && !isLanguageTag(req.Locale) {
		return apierr.Invalid("locale must be a language tag such as en-US (letters, digits and dashes, at most 35)")
	}
	ctx := c.Request.Context()
	unavailable := func(err error) error { return apierr.Unavailable("cannot start a chat right now", err) }
	site, err := a.site(ctx, req.SiteID)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("unknown site")
	}
	if err != nil {
		return unavailable(err)
	}
	if !a.siteOrigin(c.Request, site) {
		return errOrigin
	}
	sc := a.store(site.WorkspaceID)
	now := time.Now().UTC()
	ident, err := verifyIdentity(site, req, now)
	if err != nil {
		return apierr.New(http.StatusForbidden, codeIdentity, err.Error())
	}
	if site.IdentityRequired && ident == nil {
		return apierr.New(http.StatusForbidden, codeIdentity, "this site requires identity verification (user_id + user_hash, or identity_token)")
	}
	var (
		v       store.Visitor
		refresh string // a new refresh secret for the widget to keep
	)
	if ident != nil {
		// A verified user is the same visitor on every device.
		v, err = sc.VisitorByUser(ctx, site.ID, ident.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return unavailable(err)
		}
	} else if req.Token != "" {
		// An anonymous visitor keeps their visitor.
		if v, refresh, err = a.restore(ctx, site, req.Token, req.Refresh, now); err != nil {
			return unavailable(err)
		}
	}
	if v.ID == "" {
		if err := a.newVisitorLimit(c, site); err != nil {
			return err
		}
		nv := store.Visitor{
			ID: uuid.NewString(), SiteID: site.ID, Name: fmt.Sprintf("Visitor %04d", rand.IntN(10000)),
			Locale: req.Locale, CreatedAt: now, LastSeenAt: now,
		}
		if ident != nil {
			nv.UserID, nv.Email = ident.UserID, store.Truncate(ident.Email, 320)
			if ident.Name != "" {
				nv.Name = store.Truncate(ident.Name, 200)
			}
		} else {
			refresh, nv.RefreshHash = newRefresh()
			nv.RefreshedAt = &now
		}
		v, err = sc.CreateVisitor(ctx, nv)
		if err != nil {
			return unavailable(err)
		}
	}
	if ident != nil && ident.Email != "" && ident.Email != v.Email {
		// The customer's backend vouches for this email now: kept (sealed) for agents.
		if err := sc.SetVisitorEmail(ctx, v.ID, ident.Email); err != nil {
			a.log.Warn("cannot record the verified visitor's email", "visitor", v.ID, "err", err)
		}
	}
	if ident != nil && (v.ContactID == "" || !strings.EqualFold(ident.Email, v.Email)) {
		// A verified user is a contact, matched by their user id.
		a.linkContact(ctx, site.WorkspaceID, v.ID, store.ContactFacts{Name: ident.Name, Email: ident.Email})
	}
	if page := pageURL(req.Page); page != v.PageURL && page != "" {
		if err := sc.SetVisitorPage(ctx, v.ID, page); err != nil {
			a.log.Warn("cannot record the visitor's page", "visitor", v.ID, "err", err)
		}
	}
	if d := a.device(c.Request); d != deviceOf(v) {
		if err := sc.SetVisitorDevice(ctx, v.ID, d); err != nil {
			a.log.Warn("cannot record the visitor's device", "visitor", v.ID, "err", err)
		}
	}
	token, exp := a.token(site, v, now)
	out := gin.H{
		"token":      token,
		"visitor":    gin.H{"id": v.ID, "name": v.Name, "verified": v.UserID != ""},
		"expires_at": exp.Format(time.RFC3339),
	}
	if refresh != "" {
		out["refresh"] = refresh
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// verifyIdentity checks the identity proof of a widget session request, if
// any. A request that claims a user without valid proof is refused.
func verifyIdentity(site store.Site, req widgetSessionReq, now time.Time) (*auth.Identity, error) {
	secret := []byte(site.Secret)
	switch {
	case req.IdentityToken != "":
		id, err := auth.VerifyIdentityJWT(secret, req.IdentityToken, now)
		if err != nil {
			return nil, fmt.Errorf("identity token refused: %w", err)
		}
		return &id, nil
	case req.UserID != "" || req.UserHash != "":
		if err := auth.VerifyUserHash(secret, req.UserID, req.UserHash); err != nil {
			return nil, fmt.Errorf("user hash refused: %w", err)
		}
		return &auth.Identity{UserID: req.UserID}, nil
	}
	return nil, nil
}

// pageURL is the page the widget is on, as kept for page rules and shown
// to agents: without query, fragment or credentials, which may carry
// secrets (reset links, tokens) and which page rules do not read.
func pageURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return store.Truncate(u.String(), 1000)
}

func (s *Server) visitorSocket(c *gin.Context) {
	token := c.Query("token")
	p, v, ok := s.visitorFromToken(c, token)
	if !ok {
		return
	}
	claims, _ := s.tokens.Verify(token, time.Now().UTC()) // verified just now
	s.upgrade(c, p, v.Locale, &claims)
}

// errOrigin refuses a visitor request from a page the site does not allow.
var errOrigin = apierr.New(http.StatusForbidden, codeOrigin, "this site does not allow chats from this origin")

// visitorOf authenticates a widget request by its visitor token: a valid
// token, a known site of the token's workspace, an allowed origin and a
// known visitor.
func (s *Server) visitorOf(c *gin.Context, token string) (conversation.Participant, store.Visitor, error) {
	claims, err := s.tokens.Verify(token, time.Now().UTC())
	if err != nil {
		return conversation.Participant{}, store.Visitor{}, apierr.New(http.StatusUnauthorized, codeUnauthorized, "visitor token is missing, invalid or expired; start a new session")
	}
	ctx := c.Request.Context()
	site, err := s.store.SiteByID(ctx, claims.Site)
	if err != nil || site.WorkspaceID != claims.Workspace {
		return conversation.Participant{}, store.Visitor{}, apierr.New(http.StatusUnauthorized, codeUnauthorized, "unknown site")
	}
	if !s.siteOrigin(c.Request, site) {
		return conversation.Participant{}, store.Visitor{}, errOrigin
	}
	v, err := s.store.Workspace(site.WorkspaceID).Visitor(ctx, claims.Visitor)
	if err != nil {
		return conversation.Participant{}, store.Visitor{}, apierr.New(http.StatusUnauthorized, codeUnauthorized, "unknown visitor; start a new session")
	}
	if why := proofLost(site, v, claims.Proof); why != "" {
		return conversation.Participant{}, store.Visitor{}, apierr.New(http.StatusUnauthorized, codeIdentity, why)
	}
	return conversation.Participant{Kind: protocol.AuthorVisitor, ID: v.ID, Name: v.Name, WorkspaceID: site.WorkspaceID, SiteID: site.ID}, v, nil
}

// visitorFromToken is visitorOf for handlers that answer themselves: it
// answers the error and returns false.
func (s *Server) visitorFromToken(c *gin.Context, token string) (conversation.Participant, store.Visitor, bool) {
	p, v, err := s.visitorOf(c, token)
	if err != nil {
		writeError(c, nil, err)
		return p, v, false
	}
	return p, v, true
}

// availability tells the widget whether anyone can chat now, so it
// can show its offline form at once.
func (a *widgetAPI) availability(c *gin.Context) error {
	site, err := a.site(c.Request.Context(), c.Query("site"))
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("unknown site")
	}
	if err != nil {
		return apierr.Unavailable("cannot check right now", err)
	}
	// No origin check: browsers send no Origin on a same-origin GET (the
	// widget frame), and whether anyone is online is no secret.
	av, err := a.router.Availability(c.Request.Context(), site.WorkspaceID, site.ID)
	if err != nil {
		return apierr.Unavailable("cannot check right now", err)
	}
	// Only what an admin offered: a team an agent belongs to is no choice
	// for visitors until a pre-chat choice names it.
	choices, _ := conversation.ChoicesOf(site) // checked when saved
	labels := make([]string, len(choices))
	for i, ch := range choices {
		labels[i] = ch.Label
	}
	out := gin.H{"online": av.Online, "choices": labels, "visitor_calls": site.VisitorCalls,
		"assistant": a.assistantNow(c.Request.Context(), site.WorkspaceID, site.ID, av.Online)}
	if !av.Online {
		out["reason"] = av.Reason
		if !av.Reopens.IsZero() {
			out["reopens_at"] = av.Reopens.UTC().Format(time.RFC3339)
		}
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// offline takes the offline form: a message with a name and an email
// to answer, stored as (or in) the visitor's conversation for agents to read
// later. Rate limited per client address.
func (a *widgetAPI) offline(c *gin.Context) error {
	var req struct {
		Token    string `json:"token"`
		ClientID string `json:"client_id"`
		Name     string `json:"name"`
		Email    string `json:"email"`
		Message  string `json:"message"`
		// Fields: the site's other pre-chat fields (phone, its own).
		Fields prechatAnswers `json:"fields"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	p, _, err := a.visitor(c, req.Token)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	name, email, body := strings.TrimSpace(req.Name), strings.TrimSpace(req.Email), strings.TrimSpace(req.Message)
	switch {
	case name == "" || utf8.RuneCountInString(name) > 200:
		return apierr.Invalid("please give your name (at most 200 characters)")
	case len(email) > 320 || !validEmail(email):
		return apierr.Invalid("please give an email address we can answer to")
	case body == "":
		return apierr.Invalid("please write a message")
	case len(body) > protocol.MaxBodyBytes || !utf8.ValidString(body):
		return apierr.New(http.StatusBadRequest, protocol.CodeTooBig, "the message is too long")
	}
	if req.ClientID == "" || len(req.ClientID) > protocol.MaxClientIDLen {
		req.ClientID = "offline:" + uuid.NewString()[:20]
	}
	// The site's other pre-chat fields are asked here too; the answers
	// become the visitor's profile once the message is stored.
	req.Fields.Name, req.Fields.Email = name, email
	var profile store.VisitorProfile
	if site, err := a.store(p.WorkspaceID).Site(ctx, p.SiteID); err == nil {
		if profile, err = req.Fields.profile(prechatFields(site)); err != nil {
			return apierr.Invalid(err.Error())
		}
	}
	if err := a.offlineLimit(c); err != nil {
		return err
	}
	info, err := a.leaveMessage(ctx, p, req.ClientID, name, email, body)
	var limited *conversation.RateLimitedError
	if errors.As(err, &limited) {
		secs := max(int(math.Ceil(limited.RetryAfter.Seconds())), 1)
		c.Header("Retry-After", strconv.Itoa(secs))
		return apierr.New(http.StatusTooManyRequests, protocol.CodeRateLimited, limited.Error())
	}
	if err != nil {
		return serviceErrSays(err, "cannot store your message right now; please try again")
	}
	if err := a.store(p.WorkspaceID).SetVisitorProfile(ctx, p.ID, profile); err != nil {
		a.log.Warn("offline form: visitor profile not stored", "visitor", p.ID, "err", err)
	}
	a.linkContact(ctx, p.WorkspaceID, p.ID, store.ContactFacts{Name: name, Email: email, Phone: profile.Phone})
	a.log.Info("offline message left", "conversation", info.ID, "site", p.SiteID)
	c.JSON(http.StatusOK, gin.H{"conversation": info})
	return nil
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s[strings.LastIndex(s, "@")+1:], ".")
}

// prechat records what the visitor chose before writing (the
// widget's pre-chat form): one of the site's pre-chat choices by label
// (which may name a skill or a team), or none ("anything").
func (a *widgetAPI) prechat(c *gin.Context) error {
	var req struct {
		Token  string         `json:"token"`
		Choice string         `json:"choice"`
		Fields prechatAnswers `json:"fields"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	p, _, err := a.visitor(c, req.Token)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	site, err := a.store(p.WorkspaceID).Site(ctx, p.SiteID)
	if err != nil {
		return apierr.Unavailable("cannot do this right now", err)
	}
	// The answers to the site's pre-chat fields become the visitor's
	// profile (prechat_fields.go).
	profile, err := req.Fields.profile(prechatFields(site))
	if err != nil {
		return apierr.Invalid(err.Error())
	}
	if err := a.store(p.WorkspaceID).SetVisitorProfile(ctx, p.ID, profile); err != nil {
		return apierr.Unavailable("cannot do this right now", err)
	}
	if profile.Email != "" || profile.Phone != "" {
		a.linkContact(ctx, p.WorkspaceID, p.ID, store.ContactFacts{Name: profile.Name, Email: profile.Email, Phone: profile.Phone})
	}
	choices, _ := conversation.ChoicesOf(site) // checked when saved
	chosen := routing.Choice{Label: req.Choice}
	switch {
	case req.Choice != "":
		i := slices.IndexFunc(choices, func(ch routing.Choice) bool { return ch.Label == req.Choice })
		if i < 0 {
			return apierr.Invalid("no such choice on this site")
		}
		chosen = choices[i]
	default:
		chosen.Label = "anything"
	}
	if err := a.router.Prechat(ctx, p, chosen.Label, chosen.Skill, chosen.Team); err != nil {
		return serviceErr(err, "cannot do this right now")
	}
	c.JSON(http.StatusOK, gin.H{"choice": chosen.Label, "team": chosen.Team})
	return nil
}

// deviceOf is the device a visitor's record holds, to compare with a new
// request's (a write only when it changed).
func deviceOf(v store.Visitor) store.VisitorDevice {
	return store.VisitorDevice{UserAgent: v.UserAgent, CountryCode: v.CountryCode, Country: v.Country, Region: v.Region, City: v.City}
}
