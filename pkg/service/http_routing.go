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

// conversationRouting shows agents why a conversation went where it went:
// the routing decisions, newest first, with what it needs.
func (s *Server) conversationRouting(c *gin.Context) {
	me := agentOf(c)
	conv, err := s.store.Workspace(me.WorkspaceID).Conversation(c.Request.Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		apiError(c, http.StatusNotFound, protocol.CodeNotFound, "no such conversation")
		return
	}
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot read the conversation right now")
		return
	}
	history := []string{}
	for _, l := range strings.Split(conv.RoutingReason, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			history = append(history, l)
		}
	}
	c.JSON(http.StatusOK, gin.H{"routing": gin.H{"language": conv.Language, "skill": conv.Skill, "team": conv.Team,
		"priority": conv.Priority, "reasons": history, "transfer_note": conv.TransferNote}})
}

// queueEntryJSON is one waiting conversation on the dashboard.
type queueEntryJSON struct {
	Conversation         string `json:"conversation"`
	Position             int    `json:"position"`
	EstimatedWaitSeconds int    `json:"estimated_wait_seconds"`
	WaitingSeconds       int    `json:"waiting_seconds"`
	Language             string `json:"language,omitempty"`
	Skill                string `json:"skill,omitempty"`
	Team                 string `json:"team,omitempty"`
	Priority             int    `json:"priority"`
	Level                string `json:"level"`
	OfferedTo            string `json:"offered_to,omitempty"`
}

func (s *Server) routingQueue(c *gin.Context) {
	me := agentOf(c)
	snap, err := s.conv.Router().Snapshot(c.Request.Context(), me.WorkspaceID)
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot read the queue right now")
		return
	}
	now := time.Now()
	out := make([]queueEntryJSON, 0, len(snap.Queue))
	for _, w := range snap.Queue {
		e := queueEntryJSON{Conversation: w.ConversationID, Position: w.Position.Position, EstimatedWaitSeconds: -1,
			WaitingSeconds: int(now.Sub(w.EnqueuedAt).Seconds()), Language: w.Language, Skill: w.Skill, Team: w.Team,
			Priority: w.Priority, Level: w.Level.String(), OfferedTo: w.OfferedTo}
		if w.Position.Wait != routing.UnknownWait {
			e.EstimatedWaitSeconds = int(w.Position.Wait.Seconds())
		}
		out = append(out, e)
	}
	c.JSON(http.StatusOK, gin.H{"queue": out})
}

// routingError answers a router error.
func routingError(c *gin.Context, err error) {
	switch {
	case errors.Is(err, conversation.ErrNoAgentAvailable):
		apiError(c, http.StatusConflict, "no_agent", err.Error())
	case errors.Is(err, conversation.ErrNoOffer):
		apiError(c, http.StatusConflict, "no_offer", "this offer is over (expired, declined or taken)")
	case errors.Is(err, conversation.ErrInvalid):
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, err.Error())
	default:
		code, name := httpStatus(err)
		msg := "cannot do this right now"
		if code != http.StatusServiceUnavailable {
			msg = err.Error()
		}
		apiError(c, code, name, msg)
	}
}

func (s *Server) transferConversation(c *gin.Context) {
	me := agentOf(c)
	var req struct {
		ToAgent string `json:"to_agent"`
		ToTeam  string `json:"to_team"`
		Note    string `json:"note"`
	}
	if !bindJSON(c, &req) {
		return
	}
	if (req.ToAgent == "") == (req.ToTeam == "") {
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "give exactly one of to_agent and to_team")
		return
	}
	if utf8.RuneCountInString(req.Note) > 500 {
		apiError(c, http.StatusBadRequest, protocol.CodeTooBig, "the note is at most 500 characters")
		return
	}
	ctx := c.Request.Context()
	conv, err := s.store.Workspace(me.WorkspaceID).Conversation(ctx, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		apiError(c, http.StatusNotFound, protocol.CodeNotFound, "no such conversation")
		return
	}
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot read the conversation right now")
		return
	}
	from := me.ID
	if conv.AgentID == nil || *conv.AgentID != me.ID {
		if !isSupervisor(me) {
			apiError(c, http.StatusForbidden, protocol.CodeForbidden, "only the conversation's agent, a supervisor or an admin may transfer it")
			return
		}
		from = "" // a supervisor's reassignment
	}
	if err := s.conv.Router().Transfer(ctx, me.WorkspaceID, conv.ID, from, req.ToAgent, req.ToTeam, strings.TrimSpace(req.Note)); err != nil {
		routingError(c, err)
		return
	}
	s.log.Info("conversation transferred", "conversation", conv.ID, "by", me.ID, "to_agent", req.ToAgent, "to_team", req.ToTeam)
	s.conversationAnswer(c, me.WorkspaceID, conv.ID)
}

func (s *Server) conversationAnswer(c *gin.Context, ws, id string) {
	infos, err := s.conv.Visible(c.Request.Context(), agentParticipant(agentOf(c)))
	if err == nil {
		for _, info := range infos {
			if info.ID == id {
				c.JSON(http.StatusOK, gin.H{"conversation": info})
				return
			}
		}
	}
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

func (s *Server) acceptOffer(c *gin.Context) {
	me := agentOf(c)
	if !s.conversationInWorkspace(c, me.WorkspaceID, c.Param("id")) {
		return
	}
	if err := s.conv.Router().Accept(c.Request.Context(), me.WorkspaceID, c.Param("id"), me.ID); err != nil {
		routingError(c, err)
		return
	}
	s.conversationAnswer(c, me.WorkspaceID, c.Param("id"))
}

func (s *Server) declineOffer(c *gin.Context) {
	me := agentOf(c)
	if !s.conversationInWorkspace(c, me.WorkspaceID, c.Param("id")) {
		return
	}
	if err := s.conv.Router().Decline(c.Request.Context(), me.WorkspaceID, c.Param("id"), me.ID); err != nil {
		routingError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

func (s *Server) updateConversationRouting(c *gin.Context) {
	me := agentOf(c)
	var req struct {
		Language *string `json:"language"`
		Skill    *string `json:"skill"`
		Team     *string `json:"team"`
		Priority *int    `json:"priority"`
	}
	if !bindJSON(c, &req) {
		return
	}
	if req.Priority != nil && (*req.Priority < 0 || *req.Priority > 100) {
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "priority must be 0..100")
		return
	}
	if req.Language != nil && *req.Language != "" && !isLanguageTag(*req.Language) {
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "language must be a BCP 47 tag such as fr")
		return
	}
	for _, v := range []*string{req.Skill, req.Team} {
		if v != nil && len(*v) > 60 {
			apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "skill and team are at most 60 characters")
			return
		}
	}
	ctx := c.Request.Context()
	up := store.ConversationRouting{Language: req.Language, Skill: req.Skill, Team: req.Team, Priority: req.Priority}
	if !isSupervisor(me) {
		// Who may act in a conversation (conversation.Participant.owns).
		up.Agent = me.ID
	}
	err := s.store.Workspace(me.WorkspaceID).UpdateConversationRouting(ctx, c.Param("id"), up)
	if errors.Is(err, store.ErrNotFound) {
		apiError(c, http.StatusNotFound, protocol.CodeNotFound, "no such conversation")
		return
	}
	if errors.Is(err, store.ErrNotOwner) {
		apiError(c, http.StatusForbidden, protocol.CodeForbidden, "another agent handles this conversation now; only they (or a supervisor) may change it")
		return
	}
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot update the conversation right now")
		return
	}
	if err := s.conv.Router().ConversationChanged(ctx, me.WorkspaceID, c.Param("id")); err != nil {
		s.log.Warn("conversation routing not applied", "conversation", c.Param("id"), "err", err)
	}
	s.conv.Changed(ctx, me.WorkspaceID, c.Param("id"))
	s.conversationAnswer(c, me.WorkspaceID, c.Param("id"))
}

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
		code, name := httpStatus(err)
		msg := "cannot store your message right now; please try again"
		if code < 500 {
			msg = err.Error()
		}
		apiError(c, code, name, msg)
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
		code, name := httpStatus(err)
		apiError(c, code, name, "cannot do this right now")
		return
	}
	c.JSON(http.StatusOK, gin.H{"choice": chosen.Label, "team": chosen.Team})
}
