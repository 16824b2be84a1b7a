package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/keyring"
	"github.com/parleychat/parley/pkg/store"
)

// An agent's TOTP secret is sealed, re-sealed by Reencrypt under the new
// primary key, and still opens once the old key is gone.
func TestTOTPSecretIsResealedOnKeyRotation(t *testing.T) {
	ctx := context.Background()
	rot := store.NewKeyRotation(t)
	s1 := rot.Old()
	ws := store.Workspace{ID: uuid.NewString(), Name: "Acme"}
	agent := store.Agent{ID: uuid.NewString(), Email: "ann@acme.test", Name: "Ann", Role: "admin", PasswordHash: "x"}
	if err := s1.CreateWorkspace(ctx, ws, store.Site{ID: uuid.NewString(), Name: "acme.test", Secret: "s"}, agent); err != nil {
		t.Fatal(err)
	}
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	sc := s1.Workspace(ws.ID)
	if err := sc.StartTOTP(ctx, agent.ID, secret); err != nil {
		t.Fatal(err)
	}
	if err := sc.EnableTOTP(ctx, agent.ID, 1, []string{"h1", "h2"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	var raw string
	s1.Gorm().Raw("SELECT totp_secret FROM agents WHERE id = ?", agent.ID).Scan(&raw)
	if id, err := keyring.KeyID(raw); err != nil || id != "k1" {
		t.Fatalf("stored secret %q is not sealed under k1 (%v)", raw, err)
	}
	s2, ring2 := rot.Rotated()
	if _, err := s2.Reencrypt(ctx, ring2); err != nil {
		t.Fatal(err)
	}
	s2.Gorm().Raw("SELECT totp_secret FROM agents WHERE id = ?", agent.ID).Scan(&raw)
	if id, err := keyring.KeyID(raw); err != nil || id != "k2" {
		t.Fatalf("after reencrypt the secret is under %q (%v)", id, err)
	}
	s3 := rot.Final() // the old key is gone
	if got, err := s3.Workspace(ws.ID).TOTPSecret(ctx, agent.ID); err != nil || got != secret {
		t.Fatalf("secret without k1: %q %v", got, err)
	}
	// Recovery codes are spent once.
	sc3 := s3.Workspace(ws.ID)
	if ok, err := sc3.UseRecoveryCode(ctx, agent.ID, "h1"); !ok || err != nil {
		t.Fatalf("first use: %v %v", ok, err)
	}
	if ok, _ := sc3.UseRecoveryCode(ctx, agent.ID, "h1"); ok {
		t.Fatal("a recovery code worked twice")
	}
}
