package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"mime"
	"net/http"
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
	// codeDisabled answers a disabled agent (http_agents_admin.go).
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
}

func toAgentJSON(a store.Agent) agentJSON {
	out := agentJSON{ID: a.ID, Name: a.Name, Email: a.Email, Role: a.Role, Status: a.Status, Disabled: a.DisabledAt != nil,
		TwoFactor: a.TOTPEnabledAt != nil}
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

// requireAgent authenticates the session cookie and puts the agent and the
// session in the context.
func (s *Server) requireAgent(c *gin.Context) {
	ck, err := c.Cookie(sessionCookie)
	if err != nil || len(ck) != 64 {
		apiError(c, http.StatusUnauthorized, codeUnauthorized, "sign in first")
		return
	}
	sess, err := s.store.SessionByTokenHash(c.Request.Context(), hashToken(ck), time.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		apiError(c, http.StatusUnauthorized, codeUnauthorized, "your session has ended; sign in again")
		return
	}
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, "unavailable", "cannot check your session right now")
		return
	}
	a, err := s.store.Workspace(sess.WorkspaceID).Agent(c.Request.Context(), sess.AgentID)
	if err != nil {
		apiError(c, http.StatusUnauthorized, codeUnauthorized, "sign in first")
		return
	}
	// Disabling ends the sessions; this refuses one started in a race with it.
	if a.DisabledAt != nil {
		apiError(c, http.StatusUnauthorized, codeDisabled, "your account is disabled; ask an admin of your workspace to enable it")
		return
	}
	c.Set("session", sess)
	c.Set("agent", a)
	if err := s.enforceEnrolment(c, a); err != nil { // http_totp.go
		writeError(c, nil, err)
		return
	}
	c.Next()
}

// requireOwnPage lets through only requests the agent app's own pages
// send: the Origin is the public URL's (sameOrigin), or, from a browser
// that sends no Origin, Sec-Fetch-Site says same-origin; and a body is
// application/json. Another site can post a form or text/plain (no
// preflight) with the victim's cookies, or to sign the victim into the
// attacker's account (login CSRF); it cannot do either with this Origin
// and content type. Sign-in, accepting an invite and every
// cookie-authenticated write (requireCSRF) go through it.
func (s *Server) requireOwnPage(c *gin.Context) {
	if s.fromOwnPage(c) {
		c.Next()
	}
}

// fromOwnPage is requireOwnPage's check; it answers the refusal itself.
func (s *Server) fromOwnPage(c *gin.Context) bool {
	r := c.Request
	if !s.sameOrigin(r) && (r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != "same-origin") {
		apiError(c, http.StatusForbidden, codeOrigin, "this request is accepted only from the agent app's own pages ("+s.cfg.PublicOrigin()+")")
		return false
	}
	if r.ContentLength != 0 { // -1: a body of unknown length
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			apiError(c, http.StatusUnsupportedMediaType, codeMediaType, "send the request body as Content-Type: application/json")
			return false
		}
	}
	return true
}

// requireCSRF checks that a cookie-authenticated write comes from the agent
// app's own pages (requireOwnPage) and carries the double-submit token.
func (s *Server) requireCSRF(c *gin.Context) {
	if !s.fromOwnPage(c) {
		return
	}
	sess := c.MustGet("session").(store.Session)
	got := c.GetHeader(csrfHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) != 1 {
		apiError(c, http.StatusForbidden, codeCSRF, "missing or wrong "+csrfHeader+" header")
		return
	}
	c.Next()
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
