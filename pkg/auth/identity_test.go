package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

var identitySecret = []byte("site-identity-secret-0123456789abcdef")

func TestVerifyUserHash(t *testing.T) {
	good := UserHash(identitySecret, "user-42")
	// Known-answer vector computed outside Go (openssl dgst -sha256 -hmac),
	// the value the customer snippets in the README must produce too.
	const want = "b4f6b01c76e13ea4727c5f79b23454ea0908ed6223c3e7a0a09990990f629570"
	if good != want {
		t.Fatalf("UserHash = %s, want %s", good, want)
	}

	tests := []struct {
		name   string
		secret []byte
		userID string
		hash   string
		want   error
	}{
		{"valid", identitySecret, "user-42", good, nil},
		{"valid upper-case hex", identitySecret, "user-42", strings.ToUpper(good), nil},
		{"wrong secret", []byte("another-secret"), "user-42", good, ErrIdentityInvalid},
		{"wrong user", identitySecret, "user-43", good, ErrIdentityInvalid},
		{"no secret configured", nil, "user-42", good, ErrIdentityNoSecret},
		{"empty user id", identitySecret, "", UserHash(identitySecret, ""), ErrIdentityInvalid},
		{"user id too long", identitySecret, strings.Repeat("u", MaxUserIDLen+1), UserHash(identitySecret, strings.Repeat("u", MaxUserIDLen+1)), ErrIdentityInvalid},
		{"user id at the limit", identitySecret, strings.Repeat("u", MaxUserIDLen), UserHash(identitySecret, strings.Repeat("u", MaxUserIDLen)), nil},
		{"control character in user id", identitySecret, "user\n42", UserHash(identitySecret, "user\n42"), ErrIdentityInvalid},
		{"invalid UTF-8 user id", identitySecret, "user\xff", UserHash(identitySecret, "user\xff"), ErrIdentityInvalid},
		{"non-ASCII user id", identitySecret, "usuário-42", UserHash(identitySecret, "usuário-42"), nil},
		{"empty hash", identitySecret, "user-42", "", ErrIdentityInvalid},
		{"truncated hash", identitySecret, "user-42", good[:63], ErrIdentityInvalid},
		{"hash with extra character", identitySecret, "user-42", good + "0", ErrIdentityInvalid},
		{"non-hex hash", identitySecret, "user-42", "zz" + good[2:], ErrIdentityInvalid},
		{"flipped last digit", identitySecret, "user-42", good[:63] + flipHex(good[63]), ErrIdentityInvalid},
		{"garbage", identitySecret, "user-42", strings.Repeat("\x00", 64), ErrIdentityInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyUserHash(tt.secret, tt.userID, tt.hash)
			if tt.want == nil && err != nil {
				t.Fatalf("want success, got %v", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
		})
	}
}

func flipHex(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

// makeJWT builds a compact JWS the way a customer's library would, from a raw
// header and claims, signed with HMAC-SHA256 over "header.payload".
func makeJWT(t testing.TB, secret []byte, header, claims any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(header) + "." + enc(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var hs256 = map[string]any{"alg": "HS256", "typ": "JWT"}

func TestVerifyIdentityJWT(t *testing.T) {
	now := time.Unix(1_780_000_000, 0)
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{
			"sub":   "user-42",
			"email": "ada@example.com",
			"name":  "Ada Lovelace",
			"iat":   now.Unix(),
			"exp":   now.Add(10 * time.Minute).Unix(),
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	valid := makeJWT(t, identitySecret, hs256, claims(nil))

	t.Run("valid", func(t *testing.T) {
		id, err := VerifyIdentityJWT(identitySecret, valid, now)
		if err != nil {
			t.Fatal(err)
		}
		want := Identity{UserID: "user-42", Email: "ada@example.com", Name: "Ada Lovelace"}
		if id != want {
			t.Fatalf("got %+v, want %+v", id, want)
		}
	})

	tampered := func(tok string) string {
		parts := strings.Split(tok, ".")
		other := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","exp":` + jsonNum(now.Add(time.Minute).Unix()) + `}`))
		return parts[0] + "." + other + "." + parts[2]
	}
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	payload := strings.Split(valid, ".")[1]

	tests := []struct {
		name  string
		token string
		at    time.Time
		want  error
	}{
		{"wrong secret", makeJWT(t, []byte("another-secret"), hs256, claims(nil)), now, ErrIdentityInvalid},
		{"expired", valid, now.Add(10*time.Minute + IdentityClockSkew), ErrIdentityExpired},
		{"expired long ago", valid, now.Add(48 * time.Hour), ErrIdentityExpired},
		{"within clock skew after exp", valid, now.Add(10*time.Minute + IdentityClockSkew - time.Second), nil},
		{"alg none unsigned", noneHeader + "." + payload + ".", now, ErrIdentityInvalid},
		{"alg none with valid-looking signature", makeJWT(t, identitySecret, map[string]any{"alg": "none"}, claims(nil)), now, ErrIdentityInvalid},
		{"alg RS256 header", makeJWT(t, identitySecret, map[string]any{"alg": "RS256", "typ": "JWT"}, claims(nil)), now, ErrIdentityInvalid},
		{"alg hs256 lower case", makeJWT(t, identitySecret, map[string]any{"alg": "hs256"}, claims(nil)), now, ErrIdentityInvalid},
		{"alg HS512", makeJWT(t, identitySecret, map[string]any{"alg": "HS512"}, claims(nil)), now, ErrIdentityInvalid},
		{"no alg", makeJWT(t, identitySecret, map[string]any{"typ": "JWT"}, claims(nil)), now, ErrIdentityInvalid},
		{"typ other than JWT", makeJWT(t, identitySecret, map[string]any{"alg": "HS256", "typ": "at+jwt"}, claims(nil)), now, ErrIdentityInvalid},
		{"typ jwt lower case", makeJWT(t, identitySecret, map[string]any{"alg": "HS256", "typ": "jwt"}, claims(nil)), now, nil},
		{"no typ", makeJWT(t, identitySecret, map[string]any{"alg": "HS256"}, claims(nil)), now, nil},
		{"crit header", makeJWT(t, identitySecret, map[string]any{"alg": "HS256", "crit": []string{"exp"}}, claims(nil)), now, ErrIdentityInvalid},
		{"tampered payload", tampered(valid), now, ErrIdentityInvalid},
		{"tampered signature", valid[:len(valid)-2] + flipB64(valid[len(valid)-2]) + valid[len(valid)-1:], now, ErrIdentityInvalid},
		{"signature stripped", valid[:strings.LastIndex(valid, ".")+1], now, ErrIdentityInvalid},
		{"padded signature", valid + "=", now, ErrIdentityInvalid},
		{"missing exp", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { delete(c, "exp") })), now, ErrIdentityInvalid},
		{"exp as string", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { c["exp"] = jsonNum(now.Add(time.Minute).Unix()) })), now, ErrIdentityInvalid},
		{"fractional exp", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { c["exp"] = float64(now.Unix()) + 30.5 })), now, nil},
		{"exp too far ahead", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) {
			delete(c, "iat")
			c["exp"] = now.Add(MaxIdentityLifetime + IdentityClockSkew + time.Second).Unix()
		})), now, ErrIdentityInvalid},
		{"exp huge", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { c["exp"] = 1e300 })), now, ErrIdentityInvalid},
		{"lifetime over 24h", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) {
			c["iat"] = now.Add(-2 * time.Hour).Unix()
			c["exp"] = now.Add(23 * time.Hour).Unix()
		})), now, ErrIdentityInvalid},
		{"iat in the future", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { c["iat"] = now.Add(2 * time.Minute).Unix() })), now, ErrIdentityInvalid},
		{"iat within skew", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { c["iat"] = now.Add(30 * time.Second).Unix() })), now, nil},
		{"nbf in the future", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { c["nbf"] = now.Add(5 * time.Minute).Unix() })), now, ErrIdentityInvalid},
		{"nbf passed", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { c["nbf"] = now.Add(-time.Minute).Unix() })), now, nil},
		{"missing sub", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { delete(c, "sub") })), now, ErrIdentityInvalid},
		{"empty sub", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { c["sub"] = "" })), now, ErrIdentityInvalid},
		{"numeric sub", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { c["sub"] = 42 })), now, ErrIdentityInvalid},
		{"sub too long", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { c["sub"] = strings.Repeat("u", MaxUserIDLen+1) })), now, ErrIdentityInvalid},
		{"email too long", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { c["email"] = strings.Repeat("e", MaxIdentityEmailLen) + "@x" })), now, ErrIdentityInvalid},
		{"name with control character", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { c["name"] = "Ada\u0000" })), now, ErrIdentityInvalid},
		{"only sub and exp", makeJWT(t, identitySecret, hs256, map[string]any{"sub": "u", "exp": now.Add(time.Minute).Unix()}), now, nil},
		{"payload not an object", makeJWT(t, identitySecret, hs256, []string{"sub"}), now, ErrIdentityInvalid},
		{"token too long", makeJWT(t, identitySecret, hs256, claims(func(c map[string]any) { c["pad"] = strings.Repeat("p", MaxIdentityJWTLen) })), now, ErrIdentityInvalid},
		{"two segments", strings.Join(strings.Split(valid, ".")[:2], "."), now, ErrIdentityInvalid},
		{"four segments", valid + ".x", now, ErrIdentityInvalid},
		{"empty", "", now, ErrIdentityInvalid},
		{"garbage", "not a jwt at all", now, ErrIdentityInvalid},
		{"garbage dots", "..", now, ErrIdentityInvalid},
		{"binary garbage", "\xff\xfe.\x00\x01.\x02", now, ErrIdentityInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := VerifyIdentityJWT(identitySecret, tt.token, tt.at)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
			if id != (Identity{}) {
				t.Fatalf("failed verification returned identity %+v", id)
			}
		})
	}

	t.Run("no secret configured", func(t *testing.T) {
		if _, err := VerifyIdentityJWT(nil, valid, now); !errors.Is(err, ErrIdentityNoSecret) {
			t.Fatalf("got %v", err)
		}
	})
}

// Error messages go to logs; they must not carry the secret or echo the token.
func TestIdentityErrorsDoNotLeak(t *testing.T) {
	now := time.Unix(1_780_000_000, 0)
	tok := makeJWT(t, []byte("wrong"), map[string]any{"alg": "SECRETALG"}, map[string]any{"sub": "SECRETSUB", "exp": now.Unix() + 60})
	_, err := VerifyIdentityJWT(identitySecret, tok, now)
	for _, leak := range []string{string(identitySecret), "SECRETALG", "SECRETSUB", tok} {
		if strings.Contains(err.Error(), leak) {
			t.Fatalf("error %q contains %q", err, leak)
		}
	}
	err = VerifyUserHash(identitySecret, "user", strings.Repeat("a", 64))
	if strings.Contains(err.Error(), string(identitySecret)) || strings.Contains(err.Error(), strings.Repeat("a", 64)) {
		t.Fatalf("error %q leaks", err)
	}
}

func jsonNum(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func flipB64(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// The customer-backend snippets shown in the README (testdata/snippets) must
// produce proofs this package accepts. Each runs where its interpreter is
// installed and is skipped otherwise.
func TestCustomerSnippets(t *testing.T) {
	if testing.Short() {
		t.Skip("runs interpreters; skipped in -short mode")
	}
	secret := "site-secret-from-parley-settings-4f9a"
	want := Identity{UserID: "user-42", Email: "zoë@example.com", Name: "Zoë O'Brien / \"Zo\" 🙂"}
	snippets := []struct {
		lang string
		cmd  []string
	}{
		{"node", []string{"node", "testdata/snippets/identity.mjs"}},
		{"python", []string{"python3", "testdata/snippets/identity.py"}},
		{"php", []string{"php", "testdata/snippets/identity.php"}},
		{"go", []string{"go", "run", "./testdata/snippets/go"}},
	}
	for _, s := range snippets {
		t.Run(s.lang, func(t *testing.T) {
			if _, err := exec.LookPath(s.cmd[0]); err != nil {
				t.Skipf("%s not installed; cannot check the %s snippet", s.cmd[0], s.lang)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, s.cmd[0], s.cmd[1:]...)
			cmd.Env = append(os.Environ(), "PARLEY_IDENTITY_SECRET="+secret,
				"USER_ID="+want.UserID, "USER_EMAIL="+want.Email, "USER_NAME="+want.Name)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %v", s.cmd, err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 2 {
				t.Fatalf("want hash and token lines, got %q", out)
			}
			if err := VerifyUserHash([]byte(secret), want.UserID, lines[0]); err != nil {
				t.Fatalf("user hash %q: %v", lines[0], err)
			}
			id, err := VerifyIdentityJWT([]byte(secret), lines[1], time.Now())
			if err != nil {
				t.Fatalf("token: %v", err)
			}
			if id != want {
				t.Fatalf("identity %+v, want %+v", id, want)
			}
		})
	}
}
