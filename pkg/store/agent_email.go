package store

import (
	"context"
	"strings"

	"gorm.io/gorm"
)

// Agent emails are unique per workspace, not across the install: one
// person may be an agent of several workspaces hosted on one server, with
// one address. Sign-in finds every account of an address (AgentsByEmail)
// and asks which workspace when the password opens more than one.

// The schema change of 2026120711_sites_agent_email_per_workspace.
type v11Agent struct {
	WorkspaceID string `gorm:"size:36;not null;uniqueIndex:idx_agents_ws_email,priority:1"`
	Email       string `gorm:"size:320;not null;uniqueIndex:idx_agents_ws_email,priority:2"`
}

func (v11Agent) TableName() string { return "agents" }

func migrateAgentEmailPerWorkspace(tx *gorm.DB) error {
	// idx_agents_email is the name gorm gave 2026112501's unique email.
	if err := tx.Exec("DROP INDEX IF EXISTS idx_agents_email").Error; err != nil {
		return err
	}
	return tx.Migrator().CreateIndex(&v11Agent{}, "idx_agents_ws_email")
}

// AgentsByEmail finds every agent with an email, in any workspace, oldest
// first, for sign-in. Emails are stored lower-case.
func (s *Store) AgentsByEmail(ctx context.Context, email string) ([]Agent, error) {
	var as []Agent
	err := s.db.WithContext(ctx).Where("email = ?", strings.ToLower(strings.TrimSpace(email))).
		Order("created_at, id").Limit(100).Find(&as).Error
	return as, err
}

// AgentByEmail finds the workspace's agent with an email.
func (s *Scoped) AgentByEmail(ctx context.Context, email string) (Agent, error) {
	var a Agent
	err := s.q(ctx).Where("email = ?", strings.ToLower(strings.TrimSpace(email))).Take(&a).Error
	return a, notFound(err)
}
