package service

import (
	"errors"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Agent invites and sign out everywhere.
//
// An admin invites a person by email and role; the person opens the link
// /agent/invite/<token> once, chooses a name and password, and is signed
// in. Only the token's SHA-256 is stored; the link works once and for
// inviteTTL.

const (
	inviteTTL        = 7 * 24 * time.Hour
	invitePathPrefix = "/agent/invite/"
	codeInviteUsed   = "invite_used"
	codeInviteOld    = "invite_expired"
)

type inviteJSON struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	ExpiresAt string `json:"expires_at"`
	CreatedAt string `json:"created_at"`
}

func toInviteJSON(inv store.Invite) inviteJSON {
	return inviteJSON{ID: inv.ID, Email: inv.Email, Role: inv.Role,
		ExpiresAt: inv.ExpiresAt.UTC().Format(time.RFC3339), CreatedAt: inv.CreatedAt.UTC().Format(time.RFC3339)}
}

func (s *Server) createInvite(c *gin.Context) {
	me := agentOf(c)
	var req struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	if !bindJSON(c, &req) {
		return
	}
	req.Email = strings.TrimSpace(req.Email)
	if a, err := mail.ParseAddress(req.Email); err != nil || a.Address != req.Email || len(req.Email) > 320 {
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "email is not a valid address")
		return
	}
	if !slices.Contains([]string{"admin", "supervisor", "agent"}, req.Role) {
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "role must be admin, supervisor or agent")
		return
	}
	token, now := randomToken(), time.Now().UTC()
	inv, err := s.store.Workspace(me.WorkspaceID).CreateInvite(c.Request.Context(), store.Invite{
		ID: uuid.NewString(), Email: req.Email, Role: req.Role, TokenHash: hashToken(token), CreatedBy: me.ID,
		ExpiresAt: now.Add(inviteTTL), CreatedAt: now,
	})
	if errors.Is(err, store.ErrConflict) {
		apiError(c, http.StatusConflict, "conflict", "an agent with this email exists")
		return
	}
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot create the invite right now")
		return
	}
	s.audit(c, me.WorkspaceID, "invite_created", inv.Email, "role "+inv.Role)
	// The link is shown once, to the admin who sends it; it is not stored.
	c.JSON(http.StatusCreated, gin.H{"invite": toInviteJSON(inv), "link": s.cfg.PublicURL + invitePathPrefix + token})
}

func (s *Server) listInvites(c *gin.Context) {
	list, err := s.store.Workspace(agentOf(c).WorkspaceID).PendingInvites(c.Request.Context(), time.Now().UTC())
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot list invites right now")
		return
	}
	out := make([]inviteJSON, len(list))
	for i, inv := range list {
		out[i] = toInviteJSON(inv)
	}
	c.JSON(http.StatusOK, gin.H{"invites": out})
}

func (s *Server) revokeInvite(c *gin.Context) {
	me := agentOf(c)
	inv, err := s.store.Workspace(me.WorkspaceID).RevokeInvite(c.Request.Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		apiError(c, http.StatusNotFound, protocol.CodeNotFound, "no such pending invite")
		return
	}
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot revoke the invite right now")
		return
	}
	s.audit(c, me.WorkspaceID, "invite_revoked", inv.Email, "")
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

// invitePage serves the agent app, which shows the accept form for the
// token in its path. The token must not leak to other sites: no Referer.
func (s *Server) invitePage(c *gin.Context) {
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("Cache-Control", "no-store")
	s.agentApp(c)
}

// inviteError answers for an invite that cannot be used.
func inviteError(c *gin.Context, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		apiError(c, http.StatusNotFound, protocol.CodeNotFound, "this invite link is not valid; ask your admin for a new one")
	case errors.Is(err, store.ErrInviteUsed):
		apiError(c, http.StatusGone, codeInviteUsed, "this invite link has already been used; sign in, or ask your admin for a new one")
	case errors.Is(err, store.ErrInviteExpired):
		apiError(c, http.StatusGone, codeInviteOld, "this invite link has expired; ask your admin for a new one")
	case errors.Is(err, store.ErrConflict):
		apiError(c, http.StatusConflict, "conflict", "an agent with this email exists; sign in instead")
	default:
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot use the invite right now; try again")
	}
}

// checkInvite tells the accept form whom the invite is for. The token goes
// in the body (POST), never in a URL that could be logged.
func (s *Server) checkInvite(c *gin.Context) {
	var req struct {
		Token string `json:"token"`
	}
	if !s.invitePost(c, &req) {
		return
	}
	inv, err := s.store.InviteByTokenHash(c.Request.Context(), hashToken(req.Token), time.Now().UTC())
	if err != nil {
		inviteError(c, err)
		return
	}
	ws := gin.H{"id": inv.WorkspaceID}
	if w, err := s.store.Workspace(inv.WorkspaceID).Workspace(c.Request.Context()); err == nil {
		ws["name"] = w.Name
	}
	c.JSON(http.StatusOK, gin.H{"invite": toInviteJSON(inv), "workspace": ws})
}

// acceptInvite creates the invited agent with the chosen name and password
// and signs them in.
func (s *Server) acceptInvite(c *gin.Context) {
	var req struct {
		Token    string `json:"token"`
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if !s.invitePost(c, &req) {
		return
	}
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "name must be 1..200 characters")
		return
	}
	ctx, now, hash := c.Request.Context(), time.Now().UTC(), hashToken(req.Token)
	// Check before hashing the password: bcrypt's cost is not spent on a
	// dead link.
	inv, err := s.store.InviteByTokenHash(ctx, hash, now)
	if err != nil {
		inviteError(c, err)
		return
	}
	pw, err := auth.HashPassword(req.Password, inv.Email, name, s.workspaceName(ctx, inv.WorkspaceID))
	if err != nil {
		writeError(c, nil, passwordErr(err))
		return
	}
	a, inv, err := s.store.AcceptInvite(ctx, hash, store.Agent{
		ID: uuid.NewString(), Name: name, PasswordHash: pw, Status: protocol.StatusOnline, Capacity: 5, CreatedAt: now,
	}, now)
	if err != nil {
		inviteError(c, err)
		return
	}
	if err := s.conv.Router().AgentChanged(ctx, a.WorkspaceID, a.ID); err != nil {
		s.log.Warn("new agent not routable", "agent", a.ID, "err", err)
	}
	c.Set("agent", a) // the new agent is the actor of what follows
	s.audit(c, a.WorkspaceID, "invite_accepted", inv.Email, "role "+inv.Role)
	if !s.startSession(c, a) {
		return
	}
	c.JSON(http.StatusCreated, gin.H{"agent": toAgentJSON(a)})
}

// revokeSessions signs an agent out everywhere: every session ends and the
// agent's live sockets close, on every node. Anyone may do it for themselves
// ("me"); admins also for another agent of the workspace.
func (s *Server) revokeSessions(c *gin.Context) {
	me := agentOf(c)
	id := c.Param("id")
	if id == "me" {
		id = me.ID
	}
	if id != me.ID && me.Role != "admin" {
		apiError(c, http.StatusForbidden, protocol.CodeForbidden, "only admin may sign out another agent")
		return
	}
	ctx := c.Request.Context()
	sc := s.store.Workspace(me.WorkspaceID)
	target, err := sc.Agent(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		apiError(c, http.StatusNotFound, protocol.CodeNotFound, "no such agent")
		return
	}
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot sign out right now")
		return
	}
	n, err := sc.DeleteAgentSessions(ctx, target.ID)
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot sign out right now")
		return
	}
	s.revokeAgent(ctx, agentControl{Workspace: me.WorkspaceID, Agent: target.ID, Reason: revokeSignedOut}) // revoke.go
	s.audit(c, me.WorkspaceID, "sessions_revoked", target.Email, "")
	if target.ID == me.ID {
		s.setCookie(c, sessionCookie, "", true, -time.Second)
		s.setCookie(c, csrfCookie, "", false, -time.Second)
	}
	c.JSON(http.StatusOK, gin.H{"sessions_ended": n})
}

// invitePost reads an invite request (its routes go through
// requireOwnPage: no cross-site form can sign a browser into someone's
// invite) within the sign-in rate limit per address (tokens cannot be
// guessed, but tries cost).
func (s *Server) invitePost(c *gin.Context, req any) bool {
	return bindJSON(c, req) && s.allowHTTP(c, s.rules.SignInPerIP, s.clientKey(c.Request))
}
