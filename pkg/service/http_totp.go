package service

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Two-factor sign-in (TOTP, RFC 6238) for agents.
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
// enrolmentRoutes (see above); false when it answered.
func (s *Server) enforceEnrolment(c *gin.Context, a store.Agent) bool {
	must, err := s.mustEnrol(c, a)
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot check your session right now")
		return false
	}
	if must && !enrolmentRoutes[c.Request.Method+" "+c.FullPath()] {
		apiError(c, http.StatusForbidden, codeTOTPEnrolmentRequired, totpEnrolmentRequiredError)
		return false
	}
	return true
}

// checkSecondFactor is sign-in's second step for an agent with 2FA: true
// when code (or recoveryCode) is right and unused; otherwise it answered
// 401 totp_required (none given) or failStatus totp_invalid.
func (s *Server) checkSecondFactor(c *gin.Context, a store.Agent, code, recoveryCode string, failStatus int) bool {
	ctx := c.Request.Context()
	sc := s.store.Workspace(a.WorkspaceID)
	switch {
	case strings.TrimSpace(code) == "" && strings.TrimSpace(recoveryCode) == "":
		apiError(c, http.StatusUnauthorized, codeTOTPRequired, "enter the code from your authenticator app")
		return false
	case !s.allowHTTP(c, s.rules.SecondFactorPerAccount, a.ID):
		return false
	case strings.TrimSpace(code) != "":
		secret, err := sc.TOTPSecret(ctx, a.ID)
		if err != nil {
			apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot sign in right now")
			return false
		}
		step, ok := auth.CheckTOTP(secret, code, s.now())
		if !ok {
			s.audit(c, a.WorkspaceID, "sign_in_failed", a.Email, "wrong two-factor code")
			apiError(c, failStatus, codeTOTPInvalid, "wrong code: check your authenticator app and try again")
			return false
		}
		fresh, err := sc.UseTOTPStep(ctx, a.ID, step)
		if err != nil {
			apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot sign in right now")
			return false
		}
		if !fresh {
			s.audit(c, a.WorkspaceID, "sign_in_failed", a.Email, "two-factor code used already")
			apiError(c, failStatus, codeTOTPInvalid, "this code was used already: wait for the next one")
			return false
		}
		return true
	default:
		ok, err := sc.UseRecoveryCode(ctx, a.ID, recoveryHash(a.ID, recoveryCode))
		if err != nil {
			apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot sign in right now")
			return false
		}
		if !ok {
			s.audit(c, a.WorkspaceID, "sign_in_failed", a.Email, "wrong or used recovery code")
			apiError(c, failStatus, codeTOTPInvalid, "wrong or already used recovery code")
			return false
		}
		s.audit(c, a.WorkspaceID, "recovery_code_used", a.Email, "")
		return true
	}
}

// recoveryHash is what is kept of a recovery code: salted with the agent
// so one hash cannot be tried against every agent at once.
func recoveryHash(agentID, code string) string {
	return hashToken(agentID + ":" + auth.NormalizeRecoveryCode(code))
}

// startTOTP makes a new secret for the signed-in agent and answers it once.
func (s *Server) startTOTP(c *gin.Context) {
	a := agentOf(c)
	secret := auth.NewTOTPSecret()
	err := s.store.Workspace(a.WorkspaceID).StartTOTP(c.Request.Context(), a.ID, secret)
	if errors.Is(err, store.ErrTOTPEnabled) {
		apiError(c, http.StatusConflict, codeTOTPEnabled, "two-factor sign-in is already on; turn it off first to set up a new app")
		return
	}
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot set up two-factor sign-in right now")
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"secret": secret, "uri": auth.TOTPURI(secret, totpIssuer, a.Email)})
}

// confirmTOTP turns 2FA on with a code of the secret startTOTP gave, and
// answers the recovery codes once.
func (s *Server) confirmTOTP(c *gin.Context) {
	var req struct {
		Code string `json:"code"`
	}
	if !bindJSON(c, &req) {
		return
	}
	a := agentOf(c)
	ctx := c.Request.Context()
	sc := s.store.Workspace(a.WorkspaceID)
	if a.TOTPEnabledAt != nil {
		apiError(c, http.StatusConflict, codeTOTPEnabled, "two-factor sign-in is already on")
		return
	}
	secret, err := sc.TOTPSecret(ctx, a.ID)
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot set up two-factor sign-in right now")
		return
	}
	if secret == "" {
		apiError(c, http.StatusConflict, protocol.CodeInvalid, "start setting up two-factor sign-in first")
		return
	}
	step, ok := auth.CheckTOTP(secret, req.Code, s.now())
	if !ok {
		apiError(c, http.StatusBadRequest, codeTOTPInvalid, "wrong code: check the app's clock and that you added the new key")
		return
	}
	codes := make([]string, recoveryCodeCount)
	hashes := make([]string, recoveryCodeCount)
	for i := range codes {
		codes[i] = auth.NewRecoveryCode()
		hashes[i] = recoveryHash(a.ID, codes[i])
	}
	// The confirming code's step counts as used: it cannot sign in too.
	err = sc.EnableTOTP(ctx, a.ID, step, hashes, s.now().UTC())
	if errors.Is(err, store.ErrTOTPEnabled) {
		apiError(c, http.StatusConflict, codeTOTPEnabled, "two-factor sign-in is already on")
		return
	}
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot set up two-factor sign-in right now")
		return
	}
	s.audit(c, a.WorkspaceID, "two_factor_on", a.Email, "")
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"recovery_codes": codes})
}

// disableTOTP turns the agent's 2FA off, given a current code, a recovery
// code or the password: a session left open on a shared computer is not
// enough. Attempts count against the sign-in limit of the account.
func (s *Server) disableTOTP(c *gin.Context) {
	var req struct {
		Code         string `json:"code"`
		RecoveryCode string `json:"recovery_code"`
		Password     string `json:"password"`
	}
	if !bindJSON(c, &req) {
		return
	}
	a := agentOf(c)
	if !s.allowHTTP(c, s.rules.SignInPerAccount, a.Email+" "+s.clientKey(c.Request)) {
		return
	}
	if a.TOTPEnabledAt == nil {
		apiError(c, http.StatusConflict, protocol.CodeInvalid, "two-factor sign-in is not on")
		return
	}
	if req.Password != "" {
		if !auth.CheckPassword(a.PasswordHash, req.Password) {
			s.audit(c, a.WorkspaceID, "two_factor_off_refused", a.Email, "wrong password")
			apiError(c, http.StatusForbidden, codeTOTPInvalid, "wrong password")
			return
		}
	} else if req.Code == "" && req.RecoveryCode == "" {
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "give a code from your app, a recovery code or your password")
		return
	} else if !s.checkSecondFactor(c, a, req.Code, req.RecoveryCode, http.StatusForbidden) {
		// 403, not 401, which the dashboard reads as "signed out".
		return
	}
	if err := s.store.Workspace(a.WorkspaceID).DisableTOTP(c.Request.Context(), a.ID); err != nil {
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot turn two-factor sign-in off right now")
		return
	}
	s.audit(c, a.WorkspaceID, "two_factor_off", a.Email, "")
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

// resetTOTP turns another agent's 2FA off, for one who lost both their
// phone and their recovery codes; they sign in with the password and may
// set it up again. Not for oneself: that needs a proof (disableTOTP), so a
// stolen admin session cannot shed its owner's second factor.
func (s *Server) resetTOTP(c *gin.Context) {
	me := agentOf(c)
	id := c.Param("id")
	if id == me.ID || id == "me" {
		apiError(c, http.StatusBadRequest, protocol.CodeInvalid, "turn your own two-factor sign-in off with a code or your password")
		return
	}
	sc := s.store.Workspace(me.WorkspaceID)
	ctx := c.Request.Context()
	a, err := sc.Agent(ctx, id)
	if err == nil {
		err = sc.DisableTOTP(ctx, a.ID)
	}
	if err != nil {
		writeError(c, nil, agentErr(err, "reset two-factor sign-in"))
		return
	}
	s.audit(c, me.WorkspaceID, "two_factor_reset", a.Email, "")
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

// updateWorkspace changes workspace settings: require_2fa_for_admins. An
// admin turning it on must have 2FA already, or they would shut
// themselves out of everything but enrolment.
func (s *Server) updateWorkspace(c *gin.Context) {
	var req struct {
		Require2FAForAdmins *bool `json:"require_2fa_for_admins"`
	}
	if !bindJSON(c, &req) {
		return
	}
	a := agentOf(c)
	if req.Require2FAForAdmins != nil {
		on := *req.Require2FAForAdmins
		if on && a.TOTPEnabledAt == nil {
			apiError(c, http.StatusConflict, codeTOTPEnrolmentRequired, "turn on two-factor sign-in for yourself first")
			return
		}
		if err := s.store.Workspace(a.WorkspaceID).SetRequire2FAForAdmins(c.Request.Context(), on); err != nil {
			apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot change the workspace right now")
			return
		}
		detail := "off"
		if on {
			detail = "on"
		}
		s.audit(c, a.WorkspaceID, "require_2fa_for_admins", a.WorkspaceID, detail)
	}
	s.me(c)
}
