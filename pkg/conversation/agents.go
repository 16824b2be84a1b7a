package conversation

import (
	"context"
	"errors"

	"github.com/parleychat/parley/pkg/routing"
	"github.com/parleychat/parley/pkg/store"
)

// Agents in routing: their connections to this node, their chosen status
// and their profiles. (Service's methods first, then the Router's.)

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

func (r *Router) agentConnected(ctx context.Context, a store.Agent) {
	defer r.local.drain(ctx)
	if err := r.ensure(ctx, a.WorkspaceID); err != nil {
		r.log.Warn("routing cannot load the workspace", "workspace", a.WorkspaceID, "err", err)
		return
	}
	k := akey(a.WorkspaceID, a.ID)
	r.mu.Lock()
	first := !r.seen[k]
	r.seen[k] = true
	r.conns[k]++
	r.mu.Unlock()
	if first {
		if err := r.eng.SetAgent(ctx, a.WorkspaceID, r.agentOf(a)); err != nil {
			r.log.Warn("agent not routable", "agent", a.ID, "err", err)
			return
		}
	}
	if err := r.eng.Connected(ctx, a.WorkspaceID, a.ID); err != nil {
		r.log.Warn("routing presence", "agent", a.ID, "err", err)
	}
	if first {
		r.announce(ctx, a.WorkspaceID, PresenceNote{})
	}
}

func (r *Router) agentDisconnected(ctx context.Context, ws, agentID string) {
	defer r.local.drain(ctx)
	k := akey(ws, agentID)
	r.mu.Lock()
	if r.conns[k] > 0 {
		r.conns[k]--
	}
	last := r.conns[k] == 0
	r.mu.Unlock()
	if err := r.eng.Disconnected(ctx, ws, agentID); err != nil && !errors.Is(err, routing.ErrUnknownAgent) {
		r.log.Warn("routing presence", "agent", agentID, "err", err)
	}
	if last {
		r.announce(ctx, ws, PresenceNote{})
	}
}

func (r *Router) setStatus(ctx context.Context, ws, agentID, status string) {
	defer r.local.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return
	}
	if err := r.eng.SetStatus(ctx, ws, agentID, routing.Status(status)); err != nil {
		r.log.Warn("routing status", "agent", agentID, "err", err)
	}
	r.announce(ctx, ws, PresenceNote{})
}

// AgentChanged re-reads an agent's profile (capacity, languages, skills,
// teams) after an edit, here and on the other nodes.
func (r *Router) AgentChanged(ctx context.Context, ws, agentID string) error {
	err := r.reloadAgent(ctx, ws, agentID)
	if err == nil {
		r.announce(ctx, ws, PresenceNote{Profile: agentID})
	}
	return err
}

func (r *Router) reloadAgent(ctx context.Context, ws, agentID string) error {
	defer r.local.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return err
	}
	a, err := r.st.Workspace(ws).Agent(ctx, agentID)
	if err != nil {
		return mapErr(err)
	}
	return r.eng.SetAgent(ctx, ws, r.agentOf(a))
}

// SiteChanged re-reads a site's routing rules after an edit, here and on
// agentOf is the engine's view of a stored agent: offline until it has
// connected to this node.
func (r *Router) agentOf(a store.Agent) routing.Agent {
	var langs []string
	for _, l := range store.SplitList(a.Languages) {
		langs = append(langs, routingLanguage(l))
	}
	r.mu.Lock()
	seen := r.seen[akey(a.WorkspaceID, a.ID)]
	if r.languages[a.WorkspaceID] == nil {
		r.languages[a.WorkspaceID] = map[string][]string{}
	}
	r.languages[a.WorkspaceID][a.ID] = langs
	r.mu.Unlock()
	st := routing.StatusOffline
	if seen && routing.Status(a.Status).Valid() {
		st = routing.Status(a.Status)
	}
	return routing.Agent{ID: a.ID, Status: st, Capacity: max(a.Capacity, 0),
		Languages: store.SplitList(a.Languages), Skills: store.SplitList(a.Skills), Teams: store.SplitList(a.Teams)}
}
