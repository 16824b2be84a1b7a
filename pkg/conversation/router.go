package conversation

import (
	"context"
)

// AgentConnected records a new connection of an agent and returns the
// status the agent chose (stored). The first connection on this node puts
// the agent into routing with that status.
func (s *Service) AgentConnected(ctx context.Context, p Participant) (string, error) {
	a, err := s.store.Workspace(p.WorkspaceID).Agent(ctx, p.ID)
	if err != nil {
		return "", mapErr(err)
	}
	s.router.agentConnected(ctx, a)
	return a.Status, nil
}

// AgentDisconnected records that one of an agent's connections closed.
// When the last one closes, routing waits its grace period (the agent may
// be reloading the page) and then treats the agent as offline: its
// conversations go back to the queue.
func (s *Service) AgentDisconnected(ctx context.Context, p Participant) {
	s.router.agentDisconnected(ctx, p.WorkspaceID, p.ID)
}

// SetStatus stores an agent's chosen status and routes accordingly.
func (s *Service) SetStatus(ctx context.Context, p Participant, status string) error {
	if p.Kind != "agent" {
		return ErrForbidden
	}
	if err := s.store.Workspace(p.WorkspaceID).SetAgentStatus(ctx, p.ID, status); err != nil {
		return mapErr(err)
	}
	s.router.setStatus(ctx, p.WorkspaceID, p.ID, status)
	return nil
}
