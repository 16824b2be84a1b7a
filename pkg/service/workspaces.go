package service

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// NewWorkspace is what `signaling workspace create` made: a workspace with
// one site (no allowed origins yet: its admin adds them under Sites) and
// its admin, whose first password is shown once.
type NewWorkspace struct {
	WorkspaceID, SiteID, AdminEmail, Password, EmbedCode string
}

// CreateWorkspace adds a workspace to the configured store, for hosting
// several on one install (`signaling workspace create --name … --admin-email …`).
// The admin's email may already be an agent's in another workspace.
func CreateWorkspace(ctx context.Context, cfg config.Config, log *slog.Logger, name, adminEmail string) (NewWorkspace, error) {
	st, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return NewWorkspace{}, err
	}
	defer st.Close()
	return createWorkspace(ctx, st, cfg, name, adminEmail)
}

func createWorkspace(ctx context.Context, st *store.Store, cfg config.Config, name, adminEmail string) (NewWorkspace, error) {
	name, adminEmail = strings.TrimSpace(name), strings.ToLower(strings.TrimSpace(adminEmail))
	if name == "" || len(name) > 200 {
		return NewWorkspace{}, errors.New("--name: a workspace needs a name (at most 200 characters)")
	}
	if a, err := mail.ParseAddress(adminEmail); err != nil || a.Address != adminEmail || len(adminEmail) > 320 {
		return NewWorkspace{}, fmt.Errorf("--admin-email: %q is not an email address", adminEmail)
	}
	b := make([]byte, 12)
	rand.Read(b)
	password := base64.RawURLEncoding.EncodeToString(b)
	hash, err := auth.HashPassword(password)
	if err != nil {
		return NewWorkspace{}, err
	}
	site := store.Site{ID: uuid.NewString(), Name: name + " website", Secret: randomToken()}
	admin := store.Agent{
		ID: uuid.NewString(), Email: adminEmail, Name: nameFromEmail(adminEmail), Role: "admin",
		PasswordHash: hash, Status: protocol.StatusOnline, Capacity: 5,
	}
	ws := store.Workspace{ID: uuid.NewString(), Name: name}
	if err := st.CreateWorkspace(ctx, ws, site, admin); err != nil {
		return NewWorkspace{}, fmt.Errorf("create the workspace: %w", err)
	}
	return NewWorkspace{WorkspaceID: ws.ID, SiteID: site.ID, AdminEmail: adminEmail, Password: password,
		EmbedCode: `<script src="` + cfg.PublicOrigin() + `/widget.js" data-site="` + site.ID + `" async></script>`}, nil
}
