// Parley visitor identity, Go (standard library only). Run on your server.
// Test driver: reads PARLEY_IDENTITY_SECRET, USER_ID, USER_EMAIL, USER_NAME;
// prints the user hash and the JWT on two lines.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

func main() {
	secret := []byte(os.Getenv("PARLEY_IDENTITY_SECRET")) // from Parley's site settings
	userID, email, name := os.Getenv("USER_ID"), os.Getenv("USER_EMAIL"), os.Getenv("USER_NAME")

	// Form 1: user hash.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(userID))
	userHash := hex.EncodeToString(m.Sum(nil))

	// Form 2: short-lived HS256 JWT.
	b64url := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := time.Now().Unix()
	signing := b64url(map[string]any{"alg": "HS256", "typ": "JWT"}) + "." +
		b64url(map[string]any{"sub": userID, "email": email, "name": name, "iat": now, "exp": now + 600})
	m = hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	token := signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))

	fmt.Println(userHash)
	fmt.Println(token)
}
