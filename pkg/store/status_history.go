package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// AgentStatusChange is one change of an agent's status (online, away,
// offline), as SetAgentStatus stored it: supervisors read an agent's
// history of them.
type AgentStatusChange struct {
	ID          int64     `gorm:"primaryKey;autoIncrement"`
	WorkspaceID string    `gorm:"size:36;not null;index:idx_status_changes_agent,priority:1"`
	AgentID     string    `gorm:"size:36;not null;index:idx_status_changes_agent,priority:2"`
	Status      string    `gorm:"size:20;not null"`
	At          time.Time `gorm:"not null;index:idx_status_changes_agent,priority:3"`
}

func migrateStatusHistory(tx *gorm.DB) error {
	return tx.Migrator().CreateTable(&AgentStatusChange{})
}

// StatusHistoryLimit bounds what StatusHistory returns.
const StatusHistoryLimit = 200

// SetAgentStatus stores the status an agent chose and, when it changed,
// the change in the agent's status history, in one transaction.
func (s *Scoped) SetAgentStatus(ctx context.Context, id, status string) error {
	return s.s.transaction(ctx, func(tx *gorm.DB) error {
		var a Agent
		if err := tx.Select("id, status").Where("workspace_id = ? AND id = ?", s.ws, id).Take(&a).Error; err != nil {
			return notFound(err)
		}
		if a.Status == status {
			return nil
		}
		if err := tx.Model(&Agent{}).Where("workspace_id = ? AND id = ?", s.ws, id).Update("status", status).Error; err != nil {
			return err
		}
		return tx.Create(&AgentStatusChange{WorkspaceID: s.ws, AgentID: id, Status: status, At: time.Now().UTC()}).Error
	})
}

// StatusHistory returns an agent's latest status changes, newest first
// (ErrNotFound for an agent not of this workspace).
func (s *Scoped) StatusHistory(ctx context.Context, agentID string, limit int) ([]AgentStatusChange, error) {
	if _, err := s.Agent(ctx, agentID); err != nil {
		return nil, err
	}
	var out []AgentStatusChange
	return out, s.q(ctx).Where("agent_id = ?", agentID).Order("at DESC, id DESC").Limit(limit).Find(&out).Error
}
