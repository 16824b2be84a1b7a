package service

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// testClock stands in for the server's clock so codes are made for a
// known step.
type testClock struct{ unix atomic.Int64 }

func setClock(ts *testServer, at time.Time) *testClock {
	c := &testClock{}
	c.unix.Store(at.Unix())
	ts.srv.now = func() time.Time { return time.Unix(c.unix.Load(), 0) }
	return c
}

func (c *testClock) now() time.Time            { return time.Unix(c.unix.Load(), 0) }
func (c *testClock) advance(d time.Duration)   { c.unix.Add(int64(d / time.Second)) }
func (c *testClock) code(secret string) string { return auth.TOTPCode(secret, auth.TOTPStep(c.now())) }

// enrol turns two-factor sign-in on for the session's agent; it answers
// the secret and the recovery codes.
func enrol(t *testing.T, s *session, clock *testClock) (string, []string) {
	t.Helper()
	var started struct{ Secret, URI string }
	if code := s.call(t, "POST", "/api/me/totp", nil, &started); code != 200 || started.Secret == "" {
		t.Fatalf("start enrolment: %d %+v", code, started)
	}
	if !strings.HasPrefix(started.URI, "otpauth://totp/Parley:") || !strings.Contains(started.URI, "secret="+started.Secret) {
		t.Fatalf("otpauth URI: %s", started.URI)
	}
	var e apiErr
	wrong := auth.TOTPCode(started.Secret, auth.TOTPStep(clock.now())+5)
	if code := s.call(t, "POST", "/api/me/totp/confirm", map[string]string{"code": wrong}, &e); code != 400 || e.Code != codeTOTPInvalid {
		t.Fatalf("confirm with a wrong code: %d %+v", code, e)
	}
	var confirmed struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if code := s.call(t, "POST", "/api/me/totp/confirm", map[string]string{"code": clock.code(started.Secret)}, &confirmed); code != 200 || len(confirmed.RecoveryCodes) != 10 {
		t.Fatalf("confirm: %d %+v", code, confirmed)
	}
	return started.Secret, confirmed.RecoveryCodes
}

// login posts a sign-in with a fresh cookie jar; it answers the status,
// the error code and the session (usable when 200).
func login(t *testing.T, ts *testServer, body map[string]string) (int, string, *session) {
	t.Helper()
	s := ts.anonymous()
	var e apiErr
	code := s.call(t, "POST", "/api/auth/login", body, &e)
	return code, e.Code, s
}

func TestTwoFactorSignIn(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		clock := setClock(ts, time.Unix(1_900_000_000, 0))
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		al := admin.newAgent(t, "Al", nil)
		email := mustEmail(t, admin, al.id)
		secret, recovery := enrol(t, al, clock)
		pw := map[string]string{"email": email, "password": "a long enough password"}
		with := func(k, v string) map[string]string {
			m := map[string]string{k: v}
			for k, v := range pw {
				m[k] = v
			}
			return m
		}

		var me struct {
			TwoFactor struct {
				Enabled           bool  `json:"enabled"`
				RecoveryCodesLeft int64 `json:"recovery_codes_left"`
			} `json:"two_factor"`
		}
		if code := al.call(t, "GET", "/api/me", nil, &me); code != 200 || !me.TwoFactor.Enabled || me.TwoFactor.RecoveryCodesLeft != 10 {
			t.Fatalf("me after enrolment: %d %+v", code, me)
		}
		var e apiErr
		if code := al.call(t, "POST", "/api/me/totp", nil, &e); code != http.StatusConflict || e.Code != codeTOTPEnabled {
			t.Fatalf("a second enrolment over the first: %d %+v", code, e)
		}

		// The password alone opens no session.
		code, ec, s := login(t, ts, pw)
		if code != 401 || ec != codeTOTPRequired {
			t.Fatalf("password only: %d %s", code, ec)
		}
		if code := s.call(t, "GET", "/api/me", nil, nil); code != 401 {
			t.Fatalf("a session after the password alone: %d", code)
		}
		// The confirming code's step is spent.
		if code, ec, _ := login(t, ts, with("totp", clock.code(secret))); code != 401 || ec != codeTOTPInvalid {
			t.Fatalf("the confirming code again: %d %s", code, ec)
		}
		clock.advance(auth.TOTPPeriod)
		if code, ec, _ := login(t, ts, with("totp", auth.TOTPCode(secret, auth.TOTPStep(clock.now())+7))); code != 401 || ec != codeTOTPInvalid {
			t.Fatalf("a wrong code: %d %s", code, ec)
		}
		now := clock.code(secret)
		code, _, s = login(t, ts, with("totp", now[:3]+" "+now[3:]))
		if code != 200 {
			t.Fatalf("the current code (as the app shows it): %d", code)
		}
		if code := s.call(t, "GET", "/api/me", nil, nil); code != 200 {
			t.Fatalf("the session after the code: %d", code)
		}
		if code, ec, _ := login(t, ts, with("totp", now)); code != 401 || ec != codeTOTPInvalid {
			t.Fatalf("the same code replayed within its step: %d %s", code, ec)
		}
		// The wrong password with a right code is still the wrong password.
		clock.advance(auth.TOTPPeriod)
		if code, ec, _ := login(t, ts, map[string]string{"email": email, "password": "not the password", "totp": clock.code(secret)}); code != 401 || ec != codeUnauthorized {
			t.Fatalf("wrong password, right code: %d %s", code, ec)
		}

		// A recovery code works once, typed in any case.
		if code, _, _ := login(t, ts, with("recovery_code", strings.ToUpper(recovery[3]))); code != 200 {
			t.Fatalf("recovery code: %d", code)
		}
		if code, ec, _ := login(t, ts, with("recovery_code", recovery[3])); code != 401 || ec != codeTOTPInvalid {
			t.Fatalf("recovery code used twice: %d %s", code, ec)
		}
		if code := al.call(t, "GET", "/api/me", nil, &me); code != 200 || me.TwoFactor.RecoveryCodesLeft != 9 {
			t.Fatalf("recovery codes left: %d %+v", code, me)
		}
		// Another agent's recovery code is not one.
		bo := admin.newAgent(t, "Bo", nil)
		_, boCodes := enrol(t, bo, clock)
		if code, ec, _ := login(t, ts, with("recovery_code", boCodes[0])); code != 401 || ec != codeTOTPInvalid {
			t.Fatalf("another agent's recovery code: %d %s", code, ec)
		}

		// Turning it off needs a code, a recovery code or the password.
		if code := al.call(t, "POST", "/api/me/totp/disable", map[string]string{}, &e); code != 400 {
			t.Fatalf("disable with nothing: %d", code)
		}
		if code := al.call(t, "POST", "/api/me/totp/disable", map[string]string{"password": "not the password"}, &e); code != 403 || e.Code != codeTOTPInvalid {
			t.Fatalf("disable with a wrong password: %d %+v", code, e)
		}
		if code := al.call(t, "POST", "/api/me/totp/disable", map[string]string{"password": "a long enough password"}, nil); code != 200 {
			t.Fatalf("disable: %d", code)
		}
		if code, _, _ := login(t, ts, pw); code != 200 {
			t.Fatalf("password only once 2FA is off: %d", code)
		}
	})
}

// An admin of a workspace that requires 2FA for admins, without it, gets a
// session that reaches only enrolment; agents are not concerned.
func TestTwoFactorRequiredForAdmins(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		clock := setClock(ts, time.Unix(1_900_000_000, 0))
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		second := admin.newAgent(t, "Second", map[string]any{"role": "admin"})
		agent := admin.newAgent(t, "Agent", nil)
		on := map[string]bool{"require_2fa_for_admins": true}
		var e apiErr
		if code := admin.call(t, "PATCH", "/api/workspace", on, &e); code != http.StatusConflict || e.Code != codeTOTPEnrolmentRequired {
			t.Fatalf("requiring 2FA without having it: %d %+v", code, e)
		}
		if code := agent.call(t, "PATCH", "/api/workspace", on, nil); code != http.StatusForbidden {
			t.Fatalf("an agent changing the workspace: %d", code)
		}
		enrol(t, admin, clock)
		if code := admin.call(t, "PATCH", "/api/workspace", on, nil); code != 200 {
			t.Fatalf("require 2FA: %d", code)
		}

		// The second admin's open session, and a new one, reach only enrolment.
		if code := second.call(t, "GET", "/api/conversations", nil, &e); code != http.StatusForbidden || e.Code != codeTOTPEnrolmentRequired {
			t.Fatalf("an admin without 2FA: %d %+v", code, e)
		}
		if code := second.call(t, "POST", "/api/invites", map[string]string{"email": "x@example.com", "role": "admin"}, &e); code != http.StatusForbidden || e.Code != codeTOTPEnrolmentRequired {
			t.Fatalf("an admin without 2FA inviting: %d %+v", code, e)
		}
		var me struct {
			TwoFactor struct {
				EnrolmentRequired bool `json:"enrolment_required"`
			} `json:"two_factor"`
		}
		if code := second.call(t, "GET", "/api/me", nil, &me); code != 200 || !me.TwoFactor.EnrolmentRequired {
			t.Fatalf("me of an admin who must enrol: %d %+v", code, me)
		}
		var signedIn struct {
			Required bool `json:"totp_enrolment_required"`
		}
		fresh := ts.anonymous()
		if code := fresh.call(t, "POST", "/api/auth/login", map[string]string{"email": mustEmail(t, admin, second.id), "password": "a long enough password"}, &signedIn); code != 200 || !signedIn.Required {
			t.Fatalf("sign-in of an admin who must enrol: %d %+v", code, signedIn)
		}
		if code := agent.call(t, "GET", "/api/conversations", nil, nil); code != 200 {
			t.Fatalf("an agent without 2FA: %d", code)
		}
		enrol(t, second, clock)
		if code := second.call(t, "GET", "/api/conversations", nil, nil); code != 200 {
			t.Fatalf("the admin once enrolled: %d", code)
		}
	})
}

// Wrong codes spend the sign-in attempts of the account from that address.
func TestTwoFactorCodesCountAgainstSignInLimit(t *testing.T) {
	rules := ratelimit.DefaultRules()
	rules.SignInPerAccount = ratelimit.Rule{Name: "t2fa:acct", Limit: ratelimit.Limit{Rate: 4, Burst: 4, Period: time.Hour}}
	ts := newTestServerWith(t, storetest.SQLite(t), ratelimit.NewMemory(), rules)
	clock := setClock(ts, time.Unix(1_900_000_000, 0))
	admin := ts.signIn(t, "admin@parley.local", adminPassword) // 1
	secret, _ := enrol(t, admin, clock)
	clock.advance(auth.TOTPPeriod)
	body := map[string]string{"email": "admin@parley.local", "password": adminPassword, "totp": auth.TOTPCode(secret, auth.TOTPStep(clock.now())+9)}
	for i := 2; i <= 4; i++ {
		if code, ec, _ := login(t, ts, body); code != 401 || ec != codeTOTPInvalid {
			t.Fatalf("wrong code %d: %d %s", i, code, ec)
		}
	}
	body["totp"] = clock.code(secret)
	if code, _, _ := login(t, ts, body); code != http.StatusTooManyRequests {
		t.Fatalf("the right code past the limit: %d", code)
	}
}

// The TOTP secret is sealed on disk like other secrets.
func TestTOTPSecretIsSealedOnDisk(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	st, err := store.Open(ctx, path, store.WithSealer(storetest.Keyring(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ts := newTestServer(t, st)
	clock := setClock(ts, time.Unix(1_900_000_000, 0))
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	secret, _ := enrol(t, admin, clock)
	var raw []byte
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		raw = append(raw, b...)
	}
	if len(raw) == 0 || bytes.Contains(raw, []byte(secret)) {
		t.Fatalf("the database files (%d bytes) hold the TOTP secret in clear", len(raw))
	}
	if got, err := st.Workspace(ts.site.WorkspaceID).TOTPSecret(ctx, admin.id); err != nil || got != secret {
		t.Fatalf("secret read back: %q %v", got, err)
	}
}

// Codes are limited per account across addresses: someone who has the
// password cannot guess codes from many addresses at once.
func TestTwoFactorGuessesFromManyAddressesAreLimited(t *testing.T) {
	rules := ratelimit.DefaultRules()
	rules.SecondFactorPerAccount = ratelimit.Rule{Name: "t2fa:any", Limit: ratelimit.Limit{Rate: 3, Burst: 3, Period: time.Hour}}
	ts := newTestServerWith(t, storetest.SQLite(t), ratelimit.NewMemory(), rules, "-trusted-proxies", "127.0.0.1")
	clock := setClock(ts, time.Unix(1_900_000_000, 0))
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	secret, _ := enrol(t, admin, clock)
	clock.advance(auth.TOTPPeriod)
	try := func(xff, code string) int {
		body, _ := json.Marshal(map[string]string{"email": "admin@parley.local", "password": adminPassword, "totp": code})
		req := loginRequest(ts.URL, "", "")
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		req.Header.Set("X-Forwarded-For", xff)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	wrong := auth.TOTPCode(secret, auth.TOTPStep(clock.now())+9)
	for i, addr := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
		if code := try(addr, wrong); code != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i+1, code)
		}
	}
	if code := try("203.0.113.4", clock.code(secret)); code != http.StatusTooManyRequests {
		t.Fatalf("a fourth code from a fourth address: %d, want 429", code)
	}
}

// An admin resets the 2FA of an agent who lost their phone and codes, not
// their own, and no one else's outside the workspace.
func TestAdminResetsTwoFactor(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		clock := setClock(ts, time.Unix(1_900_000_000, 0))
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		al := admin.newAgent(t, "Al", nil)
		enrol(t, al, clock)
		enrol(t, admin, clock)
		var listed struct{ Agent agentJSON }
		if code := admin.call(t, "GET", "/api/agents/"+al.id, nil, &listed); code != 200 || !listed.Agent.TwoFactor {
			t.Fatalf("agent shows 2FA: %d %+v", code, listed)
		}
		if code := al.call(t, "POST", "/api/agents/"+al.id+"/totp/reset", nil, nil); code != http.StatusForbidden {
			t.Fatalf("an agent resetting: %d", code)
		}
		if code := admin.call(t, "POST", "/api/agents/"+admin.id+"/totp/reset", nil, nil); code != http.StatusBadRequest {
			t.Fatalf("an admin resetting their own: %d", code)
		}
		if code := admin.call(t, "POST", "/api/agents/no-such-agent/totp/reset", nil, nil); code != http.StatusNotFound {
			t.Fatalf("reset of no agent: %d", code)
		}
		if code := admin.call(t, "POST", "/api/agents/"+al.id+"/totp/reset", nil, nil); code != 200 {
			t.Fatalf("reset: %d", code)
		}
		if code, _, _ := login(t, ts, map[string]string{"email": mustEmail(t, admin, al.id), "password": "a long enough password"}); code != 200 {
			t.Fatalf("password only after the reset: %d", code)
		}
	})
}
