package service

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Revoking an agent's live sockets on every node.
//
// An agent's socket is authenticated once, at the upgrade, and remembers
// the session it was opened with; after that it lives on whichever node
// took it. When the agent signs out of one session, is signed out
// everywhere, is disabled or their role changes, the node handling that
// request publishes an agentControl on agentControlTopic and every node
// (itself included) closes the sockets it holds: those of the one session,
// or all the agent's. Signed out or disabled, the reconnect is refused;
// with a new role, the reconnect carries it. Revocations are rare, so one
// topic for all workspaces costs nothing, and every node is subscribed to
// it for its whole life (no per-workspace subscription to keep in step).
//
// The bus may lose a publication (a node cut off from Redis): after its
// link is back a node checks its agents' sockets against the store
// (recheckAgentConns), so a missed revocation ends at the resync.

var agentControlTopic = bus.Topic[agentControl]{Name: "agent-control"}

// Reasons an agent's sockets are closed.
const (
	revokeSignedOut   = "signed_out"
	revokeRoleChanged = "role_changed"
	revokeDisabled    = "disabled"
)

type agentControl struct {
	Workspace string `json:"ws"`
	Agent     string `json:"agent"`
	Reason    string `json:"reason"`
	// Role is the agent's role now (role_changed): sockets that already
	// carry it stay open.
	Role string `json:"role,omitempty"`
	// Session, when set, limits the revocation to the sockets opened with
	// that session (its hash, as stored; it is no credential): one sign
	// out leaves the agent's other sessions connected.
	Session string `json:"session,omitempty"`
}

// watchAgentControl subscribes the node to revocations, and to the bus's
// resyncs to recheck what it may have missed.
func (s *Server) watchAgentControl() {
	bad := func(err error) { s.log.Warn("unreadable agent revocation", "err", err) }
	if _, err := agentControlTopic.Subscribe(s.bus, s.onAgentControl, bad); err != nil {
		s.log.Error("agent revocations from other nodes will not be applied", "err", err)
	}
	if r, ok := s.bus.(bus.Resyncer); ok {
		r.OnResync(func() { go s.recheckAgentConns(context.Background()) })
	}
}

// revokeAgent closes the agent's sockets on this node at once (the bus may
// be down) and asks every other node to do the same.
func (s *Server) revokeAgent(ctx context.Context, m agentControl) {
	s.closeAgentConns(m)
	if err := agentControlTopic.Publish(ctx, s.bus, m); err != nil {
		// Other nodes recheck their sockets when their bus link is back.
		s.log.Warn("revocation not published to other nodes", "agent", m.Agent, "reason", m.Reason, "err", err)
	}
}

// onAgentControl runs on the bus's goroutine: closing sockets does not block.
func (s *Server) onAgentControl(m agentControl) {
	if m.Workspace == "" || m.Agent == "" {
		s.log.Warn("agent revocation without workspace or agent")
		return
	}
	s.closeAgentConns(m)
}

// closeAgentConns closes the agent's live sockets on this node: their
// sessions are gone (a reconnect is refused) or their role changed (a
// reconnect carries the new one).
func (s *Server) closeAgentConns(m agentControl) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.p.Kind != protocol.AuthorAgent || c.p.ID != m.Agent || c.p.WorkspaceID != m.Workspace {
			continue
		}
		if m.Reason == revokeRoleChanged && c.p.Role == m.Role || m.Session != "" && c.p.Session != m.Session {
			continue
		}
		c.log.Info("agent socket revoked", "reason", m.Reason)
		c.close()
	}
}

// recheckAgentConns closes this node's agent sockets whose session has
// ended, whose agent is disabled or has another role: the revocation was
// published while this node could not hear it. One store read for the
// sessions of a workspace and one per agent, not per socket.
func (s *Server) recheckAgentConns(ctx context.Context) {
	type key struct{ ws, agent string }
	s.mu.Lock()
	roles := map[key]map[string]bool{}
	sessions := map[string]map[string]string{} // workspace → session hash held → agent
	for c := range s.conns {
		if c.p.Kind != protocol.AuthorAgent {
			continue
		}
		k := key{c.p.WorkspaceID, c.p.ID}
		if roles[k] == nil {
			roles[k] = map[string]bool{}
		}
		roles[k][c.p.Role] = true
		if sessions[c.p.WorkspaceID] == nil {
			sessions[c.p.WorkspaceID] = map[string]string{}
		}
		sessions[c.p.WorkspaceID][c.p.Session] = c.p.ID
	}
	s.mu.Unlock()
	now := time.Now().UTC()
	for ws, held := range sessions {
		live, err := s.store.Workspace(ws).LiveSessions(ctx, slices.Collect(maps.Keys(held)), now)
		if err != nil {
			s.log.Warn("cannot recheck agent sockets", "workspace", ws, "err", err)
			continue
		}
		for h, agent := range held {
			if !live[h] {
				s.closeAgentConns(agentControl{Workspace: ws, Agent: agent, Reason: revokeSignedOut, Session: h})
			}
		}
	}
	for k, held := range roles {
		a, err := s.store.Workspace(k.ws).Agent(ctx, k.agent)
		if errors.Is(err, store.ErrNotFound) || err == nil && a.DisabledAt != nil {
			s.closeAgentConns(agentControl{Workspace: k.ws, Agent: k.agent, Reason: revokeDisabled})
			continue
		}
		if err != nil {
			continue // next resync
		}
		if len(held) > 1 || !held[a.Role] {
			s.closeAgentConns(agentControl{Workspace: k.ws, Agent: k.agent, Reason: revokeRoleChanged, Role: a.Role})
		}
	}
}
