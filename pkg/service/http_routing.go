package service

import (
	"errors"
	"math"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/routing"
	"github.com/parleychat/parley/pkg/store"
)

// Routing's HTTP surface: agent profiles, site routing settings, the queue,
// transfers, offers, and the widget's availability check and offline form.

// widgetAvailability tells the widget whether anyone can chat now, so it
// can show its offline form at once.
func (s *Server) widgetAvailability(c *gin.Context) {
	site, err := s.store.SiteByID(c.Request.Context(), c.Query("site"))
	if errors.Is(err, store.ErrNotFound) {
		apiError(c, http.StatusNotFound, protocol.CodeNotFound, "unknown site")
		return
	}
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot check right now")
		return
	}
	// No origin check: browsers send no Origin on a same-origin GET (the
	// widget frame), and whether anyone is online is no secret.
	av, err := s.conv.Router().Availability(c.Request.Context(), site.WorkspaceID, site.ID)
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot check right now")
		return
	}
	// Only what an admin offered: a team an agent belongs to is no choice
	// for visitors until a pre-chat choice names it.
	choices, _ := conversation.ChoicesOf(site) // checked when saved
	labels := make([]string, len(choices))
	for i, ch := range choices {
		labels[i] = ch.Label
	}
	out := gin.H{"online": av.Online, "choices": labels, "visitor_calls": site.VisitorCalls}
	if !av.Online {
		out["reason"] = av.Reason
		if !av.Reopens.IsZero() {
			out["reopens_at"] = av.Reopens.UTC().Format(time.RFC3339)
		}
	}
	c.JSON(http.StatusOK, out)
}

// widgetOffline takes the offline form: a message with a name and an email
// to answer, stored as (or in) the visitor's conversation for agents to read
// later. Rate limited per client address.
func (s *Server) widgetOffline(c *gin.Context) {
	var req struct {
		Token    string `json:"token"`
		ClientID string `json:"client_id"`
		Name     string `json:"name"`
		Email    string `json:"email"`
		Message  string `json:"message"`
	}
	if !bindJSON(c, &req) {
		return
	}
	p, _, ok := s.visitorFromToken(c, req.Token)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	name, email, body := strings.TrimSpace(req.Name), strings.TrimSpace(req.Email), strings.TrimSpace(req.Message)
	switch {
	case name == "" || utf8.RuneCountInString(name) > 200:
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "please give your name (at most 200 characters)")
		return
	case len(email) > 320 || !validEmail(email):
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "please give an email address we can answer to")
		return
	case body == "":
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "please write a message")
		return
	case len(body) > protocol.MaxBodyBytes || !utf8.ValidString(body):
		apiError(c, http.StatusBadRequest, protocol.CodeTooBig, "the message is too long")
		return
	}
	if req.ClientID == "" || len(req.ClientID) > protocol.MaxClientIDLen {
		req.ClientID = "offline:" + uuid.NewString()[:20]
	}
	if !s.allowHTTP(c, s.rules.OfflineFormPerIP, s.clientKey(c.Request)) {
		return
	}
	info, err := s.conv.LeaveMessage(ctx, p, req.ClientID, name, email, body)
	var limited *conversation.RateLimitedError
	if errors.As(err, &limited) {
		secs := max(int(math.Ceil(limited.RetryAfter.Seconds())), 1)
		c.Header("Retry-After", strconv.Itoa(secs))
		apiError(c, http.StatusTooManyRequests, protocol.CodeRateLimited, limited.Error())
		return
	}
	if err != nil {
		writeError(c, nil, serviceErrSays(err, "cannot store your message right now; please try again"))
		return
	}
	s.log.Info("offline message left", "conversation", info.ID, "site", p.SiteID)
	c.JSON(http.StatusOK, gin.H{"conversation": info})
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s[strings.LastIndex(s, "@")+1:], ".")
}

// widgetPrechat records what the visitor chose before writing (the
// widget's pre-chat form): one of the site's pre-chat choices by label
// (which may name a skill or a team), or none ("anything").
func (s *Server) widgetPrechat(c *gin.Context) {
	var req struct {
		Token  string `json:"token"`
		Choice string `json:"choice"`
	}
	if !bindJSON(c, &req) {
		return
	}
	p, _, ok := s.visitorFromToken(c, req.Token)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	unavailable := func() {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot do this right now")
	}
	site, err := s.store.Workspace(p.WorkspaceID).Site(ctx, p.SiteID)
	if err != nil {
		unavailable()
		return
	}
	choices, _ := conversation.ChoicesOf(site) // checked when saved
	chosen := routing.Choice{Label: req.Choice}
	switch {
	case req.Choice != "":
		i := slices.IndexFunc(choices, func(ch routing.Choice) bool { return ch.Label == req.Choice })
		if i < 0 {
			apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "no such choice on this site")
			return
		}
		chosen = choices[i]
	default:
		chosen.Label = "anything"
	}
	if err := s.conv.Router().Prechat(ctx, p, chosen.Label, chosen.Skill, chosen.Team); err != nil {
		writeError(c, nil, serviceErr(err, "cannot do this right now"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"choice": chosen.Label, "team": chosen.Team})
}
