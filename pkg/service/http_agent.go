package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

const (
	sessionCookie = "parley_session"
	csrfCookie    = "parley_csrf"
	csrfHeader    = "X-CSRF-Token"
	sessionTTL    = 14 * 24 * time.Hour
	// codeDisabled answers a disabled agent (http_agents.go).
	codeDisabled = "account_disabled"
)

type agentJSON struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Role   string `json:"role"`
	Status string `json:"status"`
	// Disabled: an admin disabled the agent; it cannot sign in.
	Disabled bool `json:"disabled"`
	// TwoFactor: the agent signs in with a TOTP code too (http_totp.go).
	TwoFactor bool `json:"two_factor"`
	// LastSeenAt is when the agent last signed in or connected (absent:
	// never).
	LastSeenAt string `json:"last_seen_at,omitempty"`
	// Locale is the dashboard language the agent chose (absent: the
	// browser's).
	Locale string `json:"locale,omitempty"`
}

func toAgentJSON(a store.Agent) agentJSON {
	out := agentJSON{ID: a.ID, Name: a.Name, Email: a.Email, Role: a.Role, Status: a.Status, Disabled: a.DisabledAt != nil,
		TwoFactor: a.TOTPEnabledAt != nil, Locale: a.Locale}
	if a.LastSeenAt != nil {
		out.LastSeenAt = a.LastSeenAt.UTC().Format(time.RFC3339)
	}
	return out
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// login signs an agent in. One address may be an agent of several
// workspaces: the password is checked against each of its accounts, and
// when it opens more than one the answer is 409 workspace_required with
// those workspaces (id and name) for the sign-in form to ask which; the
// form sends the choice back as "workspace". Who does not know the password
// learns nothing of the address's workspaces.
func (s *Server) login(c *gin.Context) {
	var req struct {
		Email     string `json:"email"`
		Password  string `json:"password"`
		Workspace string `json:"workspace"`
		// The second step of two-factor sign-in (http_totp.go).
		TOTP         string `json:"totp"`
		RecoveryCode string `json:"recovery_code"`
	}
	if !bindJSON(c, &req) {
		return
	}
	client := s.clientKey(c.Request)
	if !s.allowHTTP(c, s.rules.SignInPerIP, client) ||
		!s.allowHTTP(c, s.rules.SignInPerAccount, strings.ToLower(strings.TrimSpace(req.Email))+" "+client) {
		return
	}
	ctx := c.Request.Context()
	accounts, err := s.store.AgentsByEmail(ctx, req.Email)
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, "unavailable", "cannot sign in right now")
		return
	}
	if req.Workspace != "" {
		accounts = slices.DeleteFunc(accounts, func(a store.Agent) bool { return a.WorkspaceID != req.Workspace })
	}
	if len(accounts) == 0 {
		auth.BurnPasswordCheck(req.Password) // same time as a wrong password
		apiError(c, http.StatusUnauthorized, codeUnauthorized, "wrong email or password")
		return
	}
	var opened []store.Agent
	for _, a := range accounts {
		if auth.CheckPassword(a.PasswordHash, req.Password) {
			opened = append(opened, a)
		}
	}
	if len(opened) == 0 {
		// Only known accounts are audited: an unknown email has no workspace.
		for _, a := range accounts {
			s.audit(c, a.WorkspaceID, "sign_in_failed", a.Email, "wrong password")
		}
		apiError(c, http.StatusUnauthorized, codeUnauthorized, "wrong email or password")
		return
	}
	if len(opened) > 1 {
		type choice struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		choices := make([]choice, 0, len(opened))
		for _, a := range opened {
			w, err := s.store.Workspace(a.WorkspaceID).Workspace(ctx)
			if err != nil {
				apiError(c, http.StatusServiceUnavailable, "unavailable", "cannot sign in right now")
				return
			}
			choices = append(choices, choice{ID: w.ID, Name: w.Name})
		}
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{"code": codeWorkspaceRequired,
			"error": "this email belongs to several workspaces: choose one", "workspaces": choices})
		return
	}
	a := opened[0]
	c.Set("agent", a)
	// Told only to whoever knows the password: the account exists but is
	// off.
	if a.DisabledAt != nil {
		s.audit(c, a.WorkspaceID, "sign_in_refused", a.Email, "disabled")
		apiError(c, http.StatusForbidden, codeDisabled, "your account is disabled; ask an admin of your workspace to enable it")
		return
	}
	if a.TOTPEnabledAt != nil {
		if err := s.checkSecondFactor(c, a, req.TOTP, req.RecoveryCode, http.StatusUnauthorized); err != nil {
			writeError(c, nil, err)
			return
		}
	}
	mustEnrol, err := s.mustEnrol(c, a)
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, "unavailable", "cannot sign in right now")
		return
	}
	if err := s.startSession(c, a); err != nil {
		writeError(c, nil, err)
		return
	}
	s.audit(c, a.WorkspaceID, "sign_in", a.Email, "")
	c.JSON(http.StatusOK, gin.H{"agent": toAgentJSON(a), "totp_enrolment_required": mustEnrol})
}

// startSession signs the agent in: a new session (a fresh token, so a
// session id planted before sign-in is never reused) in the cookies.
func (s *Server) startSession(c *gin.Context, a store.Agent) error {
	token, csrf := randomToken(), randomToken()
	now := time.Now().UTC()
	if err := s.store.CreateSession(c.Request.Context(), store.Session{
		TokenHash: hashToken(token), AgentID: a.ID, WorkspaceID: a.WorkspaceID, CSRFToken: csrf,
		ExpiresAt: now.Add(sessionTTL), CreatedAt: now,
	}); err != nil {
		return apierr.Unavailable("cannot sign in right now", err)
	}
	s.setCookie(c, sessionCookie, token, true, sessionTTL)
	s.setCookie(c, csrfCookie, csrf, false, sessionTTL)
	s.seen.note(a.ID)
	s.log.Info("agent signed in", "agent", a.ID, "workspace", a.WorkspaceID)
	return nil
}

func (s *Server) setCookie(c *gin.Context, name, value string, httpOnly bool, ttl time.Duration) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: int(ttl.Seconds()),
		HttpOnly: httpOnly, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// logout ends this session, and the sockets opened with it on every node;
// the agent's other sessions stay signed in and connected.
func (s *Server) logout(c *gin.Context) {
	ctx := c.Request.Context()
	sess, a := c.MustGet("session").(store.Session), agentOf(c)
	if err := s.store.DeleteSession(ctx, sess.TokenHash); err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot sign out right now; try again")
		return
	}
	s.revokeAgent(ctx, agentControl{Workspace: a.WorkspaceID, Agent: a.ID, Reason: revokeSignedOut, Session: sess.TokenHash}) // revoke.go
	s.clearSessionCookies(c)
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

// clearSessionCookies signs the browser out.
func (s *Server) clearSessionCookies(c *gin.Context) {
	s.setCookie(c, sessionCookie, "", true, -time.Second)
	s.setCookie(c, csrfCookie, "", false, -time.Second)
}

func agentOf(c *gin.Context) store.Agent { return c.MustGet("agent").(store.Agent) }

func agentParticipant(a store.Agent) conversation.Participant {
	return conversation.Participant{Kind: protocol.AuthorAgent, ID: a.ID, Name: a.Name, WorkspaceID: a.WorkspaceID, Role: a.Role}
}

// workspaceName is the workspace's name, "" when it cannot be read (a
// password is then checked without it).
func (s *Server) workspaceName(ctx context.Context, id string) string {
	w, err := s.store.Workspace(id).Workspace(ctx)
	if err != nil {
		return ""
	}
	return w.Name
}

func (s *Server) me(c *gin.Context) {
	a := agentOf(c)
	ctx := c.Request.Context()
	ws := gin.H{"id": a.WorkspaceID}
	tf := gin.H{"enabled": a.TOTPEnabledAt != nil}
	if w, err := s.store.Workspace(a.WorkspaceID).Workspace(ctx); err == nil {
		ws["name"] = w.Name
		ws["require_2fa_for_admins"] = w.Require2FAForAdmins
		tf["enrolment_required"] = w.Require2FAForAdmins && a.Role == "admin" && a.TOTPEnabledAt == nil
	}
	if a.TOTPEnabledAt != nil {
		if n, err := s.store.Workspace(a.WorkspaceID).RecoveryCodesLeft(ctx, a.ID); err == nil {
			tf["recovery_codes_left"] = n
		}
	}
	c.JSON(http.StatusOK, gin.H{"agent": toAgentJSON(a), "workspace": ws, "two_factor": tf})
}

// dashboardLocale is a language tag the dashboard speaks: one of the
// widget's six, with an optional region for dates ("pt-BR").
var dashboardLocale = regexp.MustCompile(`^(` + strings.Join(widgetLanguages, "|") + `)(-[A-Z]{2})?$`)

// setLocale stores the dashboard language the agent chose; "" goes back
// to the browser's.
func (s *Server) setLocale(c *gin.Context) error {
	var req struct {
		Locale *string `json:"locale"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	if req.Locale == nil || (*req.Locale != "" && !dashboardLocale.MatchString(*req.Locale)) {
		return apierr.Invalid("locale is one of " + strings.Join(widgetLanguages, ", ") + " (a region may follow: pt-BR), or \"\" for the browser's")
	}
	me := agentOf(c)
	if err := s.store.Workspace(me.WorkspaceID).SetAgentLocale(c.Request.Context(), me.ID, *req.Locale); err != nil {
		return apierr.Unavailable("cannot save your language right now; retry", err)
	}
	c.JSON(http.StatusOK, gin.H{"locale": *req.Locale})
	return nil
}

func (s *Server) agentSocket(c *gin.Context) {
	if !s.sameOrigin(c.Request) {
		apiError(c, http.StatusForbidden, codeOrigin, "the agent app connects only from its own origin")
		return
	}
	a := agentOf(c)
	p := agentParticipant(a)
	p.Session = c.MustGet("session").(store.Session).TokenHash // signing out of it closes the socket (revoke.go)
	// Last seen is written later (seen.go), never on the upgrade.
	s.seen.note(a.ID)
	s.upgrade(c, p, "", nil)
}
