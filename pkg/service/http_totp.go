package service

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Two-factor sign-in (TOTP, RFC 6238) for agents: the two-factor resource
// (/api/me/totp, an admin's reset, the workspace's requirement) and the
// checks sign-in and every agent request go through.
//
// Enrolment: POST /api/me/totp makes a secret and answers it once with its
// otpauth:// URI; POST /api/me/totp/confirm with a code from the app turns
// it on and answers 10 one-time recovery codes, shown once (only their
// hashes are kept). POST /api/me/totp/disable needs a current code, a
// recovery code or the password.
//
// Sign-in: a right password of an agent with 2FA answers 401 totp_required
// and no session; the form sends the same request again with "totp" (or
// "recovery_code"). Every attempt goes through the sign-in rate limits, and
// codes also through SecondFactorPerAccount, counted on the account from
// any address; a code's step is recorded and not accepted twice.
//
// A workspace with require_2fa_for_admins (PATCH /api/workspace): an admin
// without 2FA still signs in (so they can enrol without another admin's
// help), but that session reaches only enrolmentRoutes; everything else
// answers 403 totp_enrolment_required, the dashboard's cue to show the
// enrolment screen. Sessions are not told apart: turning 2FA on lifts the
// restriction at the next request.

const (
	codeTOTPRequired           = "totp_required"
	codeTOTPInvalid            = "totp_invalid"
	codeTOTPEnabled            = "totp_enabled"
	codeTOTPEnrolmentRequired  = "totp_enrolment_required"
	recoveryCodeCount          = 10
	totpIssuer                 = "Parley"
	totpEnrolmentRequiredError = "your workspace requires two-factor sign-in for admins: set it up first"
)

// enrolmentRoutes are what an admin who must enrol may still reach.
var enrolmentRoutes = map[string]bool{
	"GET /api/me":               true,
	"POST /api/me/totp":         true,
	"POST /api/me/totp/confirm": true,
	"POST /api/auth/logout":     true,
}

// mustEnrol says whether the agent is an admin of a workspace that requires
// 2FA for admins and has not turned it on. Only such admins cost a
// workspace read.
func (s *Server) mustEnrol(c *gin.Context, a store.Agent) (bool, error) {
	if a.Role != "admin" || a.TOTPEnabledAt != nil {
		return false, nil
	}
	w, err := s.store.Workspace(a.WorkspaceID).Workspace(c.Request.Context())
	return w.Require2FAForAdmins, err
}

// enforceEnrolment stops an admin who must enrol at any route but
// enrolmentRoutes (see above).
func (s *Server) enforceEnrolment(c *gin.Context, a store.Agent) error {
	must, err := s.mustEnrol(c, a)
	if err != nil {
		return apierr.Unavailable("cannot check your session right now", err)
	}
	if must && !enrolmentRoutes[c.Request.Method+" "+c.FullPath()] {
		return apierr.New(http.StatusForbidden, codeTOTPEnrolmentRequired, totpEnrolmentRequiredError)
	}
	return nil
}

// checkSecondFactor is sign-in's second step for an agent with 2FA: nil
// when code (or recoveryCode) is right and unused; otherwise 401
// totp_required (none given) or failStatus totp_invalid.
func (s *Server) checkSecondFactor(c *gin.Context, a store.Agent, code, recoveryCode string, failStatus int) error {
	ctx := c.Request.Context()
	sc := s.store.Workspace(a.WorkspaceID)
	unavailable := func(err error) error { return apierr.Unavailable("cannot sign in right now", err) }
	if strings.TrimSpace(code) == "" && strings.TrimSpace(recoveryCode) == "" {
		return apierr.New(http.StatusUnauthorized, codeTOTPRequired, "enter the code from your authenticator app")
	}
	if err := s.limit(c, s.rules.SecondFactorPerAccount, a.ID); err != nil {
		return err
	}
	if strings.TrimSpace(code) != "" {
		secret, err := sc.TOTPSecret(ctx, a.ID)
		if err != nil {
			return unavailable(err)
		}
		step, ok := auth.CheckTOTP(secret, code, s.now())
		if !ok {
			s.audit(c, a.WorkspaceID, "sign_in_failed", a.Email, "wrong two-factor code")
			return apierr.New(failStatus, codeTOTPInvalid, "wrong code: check your authenticator app and try again")
		}
		fresh, err := sc.UseTOTPStep(ctx, a.ID, step)
		if err != nil {
			return unavailable(err)
		}
		if !fresh {
			s.audit(c, a.WorkspaceID, "sign_in_failed", a.Email, "two-factor code used already")
			return apierr.New(failStatus, codeTOTPInvalid, "this code was used already: wait for the next one")
		}
		return nil
	}
	ok, err := sc.UseRecoveryCode(ctx, a.ID, recoveryHash(a.ID, recoveryCode))
	if err != nil {
		return unavailable(err)
	}
	if !ok {
		s.audit(c, a.WorkspaceID, "sign_in_failed", a.Email, "wrong or used recovery code")
		return apierr.New(failStatus, codeTOTPInvalid, "wrong or already used recovery code")
	}
	s.audit(c, a.WorkspaceID, "recovery_code_used", a.Email, "")
	return nil
}

// recoveryHash is what is kept of a recovery code: salted with the agent
// so one hash cannot be tried against every agent at once.
func recoveryHash(agentID, code string) string {
	return hashToken(agentID + ":" + auth.NormalizeRecoveryCode(code))
}

// totpStore is what the two-factor API needs of one workspace's store.
type totpStore interface {
	Agent(ctx context.Context, id string) (store.Agent, error)
	StartTOTP(ctx context.Context, agentID, secret string) error
	TOTPSecret(ctx context.Context, agentID string) (string, error)
	EnableTOTP(ctx context.Context, agentID string, step int64, hashes []string, now time.Time) error
	DisableTOTP(ctx context.Context, agentID string) error
	SetRequire2FAForAdmins(ctx context.Context, on bool) error
}

// totpAPI serves the two-factor resource.
type totpAPI struct {
	store func(workspaceID string) totpStore
	now   func() time.Time
	// secondFactor checks a code or a recovery code (checkSecondFactor);
	// signInLimit is the sign-in limit of the agent's account from the
	// request's address.
	secondFactor func(c *gin.Context, a store.Agent, code, recoveryCode string, failStatus int) error
	signInLimit  func(c *gin.Context, a store.Agent) error
	// me answers as GET /api/me does.
	me    gin.HandlerFunc
	audit func(c *gin.Context, workspaceID, action, target, detail string)
}

func (s *Server) totpAPI() *totpAPI {
	return &totpAPI{
		store:        func(ws string) totpStore { return s.store.Workspace(ws) },
		now:          func() time.Time { return s.now() }, // tests move s.now after New
		secondFactor: s.checkSecondFactor,
		signInLimit: func(c *gin.Context, a store.Agent) error {
			return s.limit(c, s.rules.SignInPerAccount, a.Email+" "+s.clientKey(c.Request))
		},
		me:    s.me,
		audit: s.audit,
	}
}

// start makes a new secret for the signed-in agent and answers it once.
func (t *totpAPI) start(c *gin.Context) error {
	a := agentOf(c)
	secret := auth.NewTOTPSecret()
	err := t.store(a.WorkspaceID).StartTOTP(c.Request.Context(), a.ID, secret)
	if errors.Is(err, store.ErrTOTPEnabled) {
		return apierr.New(http.StatusConflict, codeTOTPEnabled, "two-factor sign-in is already on; turn it off first to set up a new app")
	}
	if err != nil {
		return apierr.Unavailable("cannot set up two-factor sign-in right now", err)
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"secret": secret, "uri": auth.TOTPURI(secret, totpIssuer, a.Email)})
	return nil
}

// confirm turns 2FA on with a code of the secret start gave, and answers
// the recovery codes once.
func (t *totpAPI) confirm(c *gin.Context) error {
	var req struct {
		Code string `json:"code"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	a := agentOf(c)
	ctx := c.Request.Context()
	sc := t.store(a.WorkspaceID)
	if a.TOTPEnabledAt != nil {
		return apierr.New(http.StatusConflict, codeTOTPEnabled, "two-factor sign-in is already on")
	}
	secret, err := sc.TOTPSecret(ctx, a.ID)
	if err != nil {
		return apierr.Unavailable("cannot set up two-factor sign-in right now", err)
	}
	if secret == "" {
		return apierr.New(http.StatusConflict, protocol.CodeInvalid, "start setting up two-factor sign-in first")
	}
	step, ok := auth.CheckTOTP(secret, req.Code, t.now())
	if !ok {
		return apierr.New(http.StatusBadRequest, codeTOTPInvalid, "wrong code: check the app's clock and that you added the new key")
	}
	codes := make([]string, recoveryCodeCount)
	hashes := make([]string, recoveryCodeCount)
	for i := range codes {
		codes[i] = auth.NewRecoveryCode()
		hashes[i] = recoveryHash(a.ID, codes[i])
	}
	// The confirming code's step counts as used: it cannot sign in too.
	err = sc.EnableTOTP(ctx, a.ID, step, hashes, t.now().UTC())
	if errors.Is(err, store.ErrTOTPEnabled) {
		return apierr.New(http.StatusConflict, codeTOTPEnabled, "two-factor sign-in is already on")
	}
	if err != nil {
		return apierr.Unavailable("cannot set up two-factor sign-in right now", err)
	}
	t.audit(c, a.WorkspaceID, "two_factor_on", a.Email, "")
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"recovery_codes": codes})
	return nil
}

// disable turns the agent's 2FA off, given a current code, a recovery code
// or the password: a session left open on a shared computer is not
// enough. Attempts count against the sign-in limit of the account.
func (t *totpAPI) disable(c *gin.Context) error {
	var req struct {
		Code         string `json:"code"`
		RecoveryCode string `json:"recovery_code"`
		Password     string `json:"password"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	a := agentOf(c)
	if err := t.signInLimit(c, a); err != nil {
		return err
	}
	if a.TOTPEnabledAt == nil {
		return apierr.New(http.StatusConflict, protocol.CodeInvalid, "two-factor sign-in is not on")
	}
	if req.Password != "" {
		if !auth.CheckPassword(a.PasswordHash, req.Password) {
			t.audit(c, a.WorkspaceID, "two_factor_off_refused", a.Email, "wrong password")
			return apierr.New(http.StatusForbidden, codeTOTPInvalid, "wrong password")
		}
	} else if req.Code == "" && req.RecoveryCode == "" {
		return apierr.Invalid("give a code from your app, a recovery code or your password")
	} else if err := t.secondFactor(c, a, req.Code, req.RecoveryCode, http.StatusForbidden); err != nil {
		// 403, not 401, which the dashboard reads as "signed out".
		return err
	}
	if err := t.store(a.WorkspaceID).DisableTOTP(c.Request.Context(), a.ID); err != nil {
		return apierr.Unavailable("cannot turn two-factor sign-in off right now", err)
	}
	t.audit(c, a.WorkspaceID, "two_factor_off", a.Email, "")
	c.JSON(http.StatusOK, gin.H{"ok": true})
	return nil
}

// reset turns another agent's 2FA off, for one who lost both their phone
// and their recovery codes; they sign in with the password and may set it
// up again. Not for oneself: that needs a proof (disable), so a stolen
// admin session cannot shed its owner's second factor.
func (t *totpAPI) reset(c *gin.Context) error {
	me := agentOf(c)
	id := c.Param("id")
	if id == me.ID || id == "me" {
		return apierr.Invalid("turn your own two-factor sign-in off with a code or your password")
	}
	sc := t.store(me.WorkspaceID)
	ctx := c.Request.Context()
	a, err := sc.Agent(ctx, id)
	if err == nil {
		err = sc.DisableTOTP(ctx, a.ID)
	}
	if err != nil {
		return agentErr(err, "reset two-factor sign-in")
	}
	t.audit(c, me.WorkspaceID, "two_factor_reset", a.Email, "")
	c.JSON(http.StatusOK, gin.H{"ok": true})
	return nil
}

// updateWorkspace changes workspace settings: require_2fa_for_admins. An
// admin turning it on must have 2FA already, or they would shut
// themselves out of everything but enrolment.
func (t *totpAPI) updateWorkspace(c *gin.Context) error {
	var req struct {
		Require2FAForAdmins *bool `json:"require_2fa_for_admins"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	a := agentOf(c)
	if req.Require2FAForAdmins != nil {
		on := *req.Require2FAForAdmins
		if on && a.TOTPEnabledAt == nil {
			return apierr.New(http.StatusConflict, codeTOTPEnrolmentRequired, "turn on two-factor sign-in for yourself first")
		}
		if err := t.store(a.WorkspaceID).SetRequire2FAForAdmins(c.Request.Context(), on); err != nil {
			return apierr.Unavailable("cannot change the workspace right now", err)
		}
		detail := "off"
		if on {
			detail = "on"
		}
		t.audit(c, a.WorkspaceID, "require_2fa_for_admins", a.WorkspaceID, detail)
	}
	t.me(c)
	return nil
}
