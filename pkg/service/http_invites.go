package service

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// The invites resource (/api/invites).
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

// inviteStore is what the invites API needs of one workspace's store.
type inviteStore interface {
	CreateInvite(ctx context.Context, inv store.Invite) (store.Invite, error)
	PendingInvites(ctx context.Context, now time.Time) ([]store.Invite, error)
	RevokeInvite(ctx context.Context, id string) (store.Invite, error)
	Workspace(ctx context.Context) (store.Workspace, error)
}

// invitesAPI serves the invites resource and the invite link's page.
type invitesAPI struct {
	store func(workspaceID string) inviteStore
	// byToken finds a usable invite by its token's hash, in whatever
	// workspace; accept turns it into the agent, once.
	byToken       func(ctx context.Context, hash string, now time.Time) (store.Invite, error)
	redeem        func(ctx context.Context, hash string, a store.Agent, now time.Time) (store.Agent, store.Invite, error)
	workspaceName func(ctx context.Context, id string) string
	agentChanged  func(ctx context.Context, ws, agentID string) error
	startSession  func(c *gin.Context, a store.Agent) error
	// limit is the sign-in rate limit of the request's address: tokens
	// cannot be guessed, but tries cost.
	limit func(c *gin.Context) error
	app   gin.HandlerFunc // the agent app, which shows the accept form
	audit func(c *gin.Context, workspaceID, action, target, detail string)
	link  string // an invite link without its token
	// mailInvite sends the link to the invitee when the workspace has mail
	// on (pkg/mailer); sent is false when it has not.
	mailInvite func(ctx context.Context, ws, to, workspace, inviter, role, link string) (sent bool, err error)
	log        *slog.Logger
}

func (s *Server) invitesAPI() *invitesAPI {
	return &invitesAPI{
		store:         func(ws string) inviteStore { return s.store.Workspace(ws) },
		byToken:       s.store.InviteByTokenHash,
		redeem:        s.store.AcceptInvite,
		workspaceName: s.workspaceName,
		agentChanged:  s.conv.Router().AgentChanged,
		startSession:  s.startSession,
		limit:         func(c *gin.Context) error { return s.limit(c, s.rules.SignInPerIP, s.clientKey(c.Request)) },
		app:           s.agentApp,
		audit:         s.audit,
		link:          s.cfg.PublicURL + invitePathPrefix,
		mailInvite:    s.mail.SendInvite,
		log:           s.log,
	}
}

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

func (a *invitesAPI) create(c *gin.Context) error {
	me := agentOf(c)
	var req struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	req.Email = strings.TrimSpace(req.Email)
	if ad, err := mail.ParseAddress(req.Email); err != nil || ad.Address != req.Email || len(req.Email) > 320 {
		return apierr.Invalid("email is not a valid address")
	}
	if !slices.Contains([]string{"admin", "supervisor", "agent"}, req.Role) {
		return apierr.Invalid("role must be admin, supervisor or agent")
	}
	token, now := randomToken(), time.Now().UTC()
	inv, err := a.store(me.WorkspaceID).CreateInvite(c.Request.Context(), store.Invite{
		ID: uuid.NewString(), Email: req.Email, Role: req.Role, TokenHash: hashToken(token), CreatedBy: me.ID,
		ExpiresAt: now.Add(inviteTTL), CreatedAt: now,
	})
	if errors.Is(err, store.ErrConflict) {
		return apierr.Conflict("an agent with this email exists")
	}
	if err != nil {
		return apierr.Unavailable("cannot create the invite right now", err)
	}
	a.audit(c, me.WorkspaceID, "invite_created", inv.Email, "role "+inv.Role)
	// The link is shown once, to the admin who sends it, and mailed to the
	// invitee when the workspace has mail on; it is not stored.
	out := gin.H{"invite": toInviteJSON(inv), "link": a.link + token, "emailed": false}
	ctx := c.Request.Context()
	sent, err := a.mailInvite(ctx, me.WorkspaceID, inv.Email, a.workspaceName(ctx, me.WorkspaceID), me.Name, inv.Role, a.link+token)
	if err != nil {
		out["email_error"] = err.Error()
	}
	out["emailed"] = sent
	c.JSON(http.StatusCreated, out)
	return nil
}

func (a *invitesAPI) list(c *gin.Context) error {
	list, err := a.store(agentOf(c).WorkspaceID).PendingInvites(c.Request.Context(), time.Now().UTC())
	if err != nil {
		return apierr.Unavailable("cannot list invites right now", err)
	}
	out := make([]inviteJSON, len(list))
	for i, inv := range list {
		out[i] = toInviteJSON(inv)
	}
	c.JSON(http.StatusOK, gin.H{"invites": out})
	return nil
}

func (a *invitesAPI) revoke(c *gin.Context) error {
	me := agentOf(c)
	inv, err := a.store(me.WorkspaceID).RevokeInvite(c.Request.Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such pending invite")
	}
	if err != nil {
		return apierr.Unavailable("cannot revoke the invite right now", err)
	}
	a.audit(c, me.WorkspaceID, "invite_revoked", inv.Email, "")
	c.JSON(http.StatusOK, gin.H{"ok": true})
	return nil
}

// page serves the agent app, which shows the accept form for the token in
// its path. The token must not leak to other sites: no Referer.
func (a *invitesAPI) page(c *gin.Context) {
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("Cache-Control", "no-store")
	a.app(c)
}

// inviteErr is the error for an invite that cannot be used.
func inviteErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierr.NotFound("this invite link is not valid; ask your admin for a new one")
	case errors.Is(err, store.ErrInviteUsed):
		return apierr.New(http.StatusGone, codeInviteUsed, "this invite link has already been used; sign in, or ask your admin for a new one")
	case errors.Is(err, store.ErrInviteExpired):
		return apierr.New(http.StatusGone, codeInviteOld, "this invite link has expired; ask your admin for a new one")
	case errors.Is(err, store.ErrConflict):
		return apierr.Conflict("an agent with this email exists; sign in instead")
	}
	return apierr.Unavailable("cannot use the invite right now; try again", err)
}

// check tells the accept form whom the invite is for. The token goes in
// the body (POST), never in a URL that could be logged.
func (a *invitesAPI) check(c *gin.Context) error {
	var req struct {
		Token string `json:"token"`
	}
	if err := a.read(c, &req); err != nil {
		return err
	}
	inv, err := a.byToken(c.Request.Context(), hashToken(req.Token), time.Now().UTC())
	if err != nil {
		return inviteErr(err)
	}
	ws := gin.H{"id": inv.WorkspaceID}
	if w, err := a.store(inv.WorkspaceID).Workspace(c.Request.Context()); err == nil {
		ws["name"] = w.Name
	}
	c.JSON(http.StatusOK, gin.H{"invite": toInviteJSON(inv), "workspace": ws})
	return nil
}

// accept creates the invited agent with the chosen name and password and
// signs them in.
func (a *invitesAPI) accept(c *gin.Context) error {
	var req struct {
		Token    string `json:"token"`
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := a.read(c, &req); err != nil {
		return err
	}
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return apierr.Invalid("name must be 1..200 characters")
	}
	ctx, now, hash := c.Request.Context(), time.Now().UTC(), hashToken(req.Token)
	// Check before hashing the password: bcrypt's cost is not spent on a
	// dead link.
	inv, err := a.byToken(ctx, hash, now)
	if err != nil {
		return inviteErr(err)
	}
	pw, err := auth.HashPassword(req.Password, inv.Email, name, a.workspaceName(ctx, inv.WorkspaceID))
	if err != nil {
		return passwordErr(err)
	}
	ag, inv, err := a.redeem(ctx, hash, store.Agent{
		ID: uuid.NewString(), Name: name, PasswordHash: pw, Status: protocol.StatusOnline, Capacity: 5, CreatedAt: now,
	}, now)
	if err != nil {
		return inviteErr(err)
	}
	if err := a.agentChanged(ctx, ag.WorkspaceID, ag.ID); err != nil {
		a.log.Warn("new agent not routable", "agent", ag.ID, "err", err)
	}
	c.Set("agent", ag) // the new agent is the actor of what follows
	a.audit(c, ag.WorkspaceID, "invite_accepted", inv.Email, "role "+inv.Role)
	if err := a.startSession(c, ag); err != nil {
		return err
	}
	c.JSON(http.StatusCreated, gin.H{"agent": toAgentJSON(ag)})
	return nil
}

// read reads an invite request (its routes go through requireOwnPage: no
// cross-site form can sign a browser into someone's invite) within the
// sign-in rate limit per address.
func (a *invitesAPI) read(c *gin.Context, req any) error {
	if err := bindBody(c, req); err != nil {
		return err
	}
	return a.limit(c)
}
