package conversation

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Router decides which agent gets a conversation. The service tells it what
// happened; it assigns through the store's compare-and-set Assign, so two
// routers racing cannot give one conversation two owners.
type Router interface {
	// Queued: a conversation is waiting for an agent.
	Queued(ctx context.Context, workspaceID, convID string)
	// Released: a conversation closed, its agent has capacity again.
	Released(ctx context.Context, workspaceID, convID string)
	// Claim: an agent takes a queued conversation by answering it.
	Claim(ctx context.Context, agent Participant, convID string) error
	// Presence: an agent's availability changed.
	Presence(ctx context.Context, workspaceID, agentID string)
	// Position returns the last queue frame sent for a waiting
	// conversation, for a visitor who reconnects.
	Position(convID string) (protocol.Queue, bool)
}

// Presence tracks which agents are connected and what status they chose.
// An agent is available when connected at least once and online.
type Presence struct {
	mu     sync.Mutex
	agents map[string]map[string]*presenceState // workspace → agent
}

type presenceState struct {
	conns  int
	status string
}

func (p *Presence) update(ws, agent string, f func(*presenceState)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.agents == nil {
		p.agents = map[string]map[string]*presenceState{}
	}
	if p.agents[ws] == nil {
		p.agents[ws] = map[string]*presenceState{}
	}
	st := p.agents[ws][agent]
	if st == nil {
		st = &presenceState{}
		p.agents[ws][agent] = st
	}
	f(st)
	if st.conns <= 0 {
		delete(p.agents[ws], agent)
	}
}

// Available lists the agents of a workspace who can take chats now.
func (p *Presence) Available(ws string) map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]bool{}
	for id, st := range p.agents[ws] {
		if st.conns > 0 && st.status == protocol.StatusOnline {
			out[id] = true
		}
	}
	return out
}

// AgentConnected records a new connection of an agent with its stored status.
func (s *Service) AgentConnected(ctx context.Context, p Participant) (string, error) {
	a, err := s.store.Workspace(p.WorkspaceID).Agent(ctx, p.ID)
	if err != nil {
		return "", mapErr(err)
	}
	s.presence.update(p.WorkspaceID, p.ID, func(st *presenceState) { st.conns++; st.status = a.Status })
	s.router.Presence(ctx, p.WorkspaceID, p.ID)
	return a.Status, nil
}

// AgentDisconnected records that one of an agent's connections closed.
func (s *Service) AgentDisconnected(ctx context.Context, p Participant) {
	s.presence.update(p.WorkspaceID, p.ID, func(st *presenceState) { st.conns-- })
	s.router.Presence(ctx, p.WorkspaceID, p.ID)
}

// SetStatus stores an agent's chosen status and routes accordingly.
func (s *Service) SetStatus(ctx context.Context, p Participant, status string) error {
	if p.Kind != protocol.AuthorAgent {
		return ErrForbidden
	}
	if err := s.store.Workspace(p.WorkspaceID).SetAgentStatus(ctx, p.ID, status); err != nil {
		return mapErr(err)
	}
	s.presence.update(p.WorkspaceID, p.ID, func(st *presenceState) { st.status = status })
	s.router.Presence(ctx, p.WorkspaceID, p.ID)
	return nil
}

// LeastBusy is Parley's first router: a queued conversation goes to the
// available agent with the fewest open conversations (below capacity),
// longest idle first; otherwise it waits, oldest first. Waiting visitors are
// told their position and an estimated wait. The routing engine
// (pkg/routing) replaces it behind the same interface.
type LeastBusy struct {
	svc *Service

	mu           sync.Mutex // one rebalance per workspace at a time
	locks        map[string]*sync.Mutex
	lastAssigned map[string]time.Time
	lastPosition map[string]protocol.Queue
}

// AverageHandleTime is the wait estimate per visitor ahead, per agent.
const AverageHandleTime = 4 * time.Minute

// NewLeastBusy returns the first router for a service.
func NewLeastBusy(s *Service) *LeastBusy {
	return &LeastBusy{svc: s, locks: map[string]*sync.Mutex{}, lastAssigned: map[string]time.Time{}, lastPosition: map[string]protocol.Queue{}}
}

func (r *LeastBusy) wsLock(ws string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.locks[ws] == nil {
		r.locks[ws] = &sync.Mutex{}
	}
	return r.locks[ws]
}

// Queued routes the workspace's queue.
func (r *LeastBusy) Queued(ctx context.Context, ws, _ string) { r.rebalance(ctx, ws) }

// Released routes the workspace's queue.
func (r *LeastBusy) Released(ctx context.Context, ws, _ string) { r.rebalance(ctx, ws) }

// Presence routes the workspace's queue.
func (r *LeastBusy) Presence(ctx context.Context, ws, _ string) { r.rebalance(ctx, ws) }

// Claim assigns a queued conversation to the agent who answers it.
func (r *LeastBusy) Claim(ctx context.Context, agent Participant, convID string) error {
	l := r.wsLock(agent.WorkspaceID)
	l.Lock()
	err := r.assign(ctx, agent.WorkspaceID, convID, agent.ID, agent.Name)
	l.Unlock()
	if err == nil {
		r.rebalance(ctx, agent.WorkspaceID)
	}
	return err
}

func (r *LeastBusy) assign(ctx context.Context, ws, convID, agentID, agentName string) error {
	if err := r.svc.store.Workspace(ws).Assign(ctx, convID, agentID, false); err != nil {
		return err
	}
	r.mu.Lock()
	r.lastAssigned[agentID] = time.Now()
	delete(r.lastPosition, convID)
	r.mu.Unlock()
	r.svc.Changed(ctx, ws, convID)
	if err := r.svc.System(ctx, ws, convID, "sys:join:"+agentID, agentName+" joined the chat"); err != nil {
		r.svc.log.Warn("join notice", "conversation", convID, "err", err)
	}
	return nil
}

func (r *LeastBusy) rebalance(ctx context.Context, ws string) {
	l := r.wsLock(ws)
	l.Lock()
	defer l.Unlock()
	if err := r.route(ctx, ws); err != nil {
		r.svc.log.Warn("routing failed; will retry on the next event", "workspace", ws, "err", err)
	}
}

func (r *LeastBusy) route(ctx context.Context, ws string) error {
	sc := r.svc.store.Workspace(ws)
	queued, err := sc.Queued(ctx)
	if err != nil || len(queued) == 0 {
		return err
	}
	available := r.svc.presence.Available(ws)
	type cand struct {
		a    store.Agent
		load int
	}
	var cands []*cand
	if len(available) > 0 {
		agents, err := sc.Agents(ctx)
		if err != nil {
			return err
		}
		loads, err := sc.OpenLoads(ctx)
		if err != nil {
			return err
		}
		for _, a := range agents {
			if available[a.ID] {
				cands = append(cands, &cand{a: a, load: loads[a.ID]})
			}
		}
	}
	var waiting []store.Conversation
	for _, c := range queued {
		r.mu.Lock()
		sort.SliceStable(cands, func(i, j int) bool {
			if cands[i].load != cands[j].load {
				return cands[i].load < cands[j].load
			}
			return r.lastAssigned[cands[i].a.ID].Before(r.lastAssigned[cands[j].a.ID])
		})
		r.mu.Unlock()
		assigned := false
		for _, cd := range cands {
			if cd.load >= cd.a.Capacity {
				continue
			}
			err := r.assign(ctx, ws, c.ID, cd.a.ID, cd.a.Name)
			if errors.Is(err, store.ErrConflict) {
				assigned = true // someone else took it
				break
			}
			if err != nil {
				return err
			}
			cd.load++
			assigned = true
			break
		}
		if !assigned {
			waiting = append(waiting, c)
		}
	}
	r.announceQueue(ctx, waiting, len(cands))
	return nil
}

// announceQueue tells each waiting visitor its position when it changed.
func (r *LeastBusy) announceQueue(ctx context.Context, waiting []store.Conversation, agents int) {
	for i, c := range waiting {
		q := protocol.Queue{Envelope: protocol.Envelope{Type: protocol.TypeQueue}, Conversation: c.ID, Position: i + 1, EstimatedWaitSeconds: -1}
		if agents > 0 {
			q.EstimatedWaitSeconds = int((time.Duration(q.Position) * AverageHandleTime / time.Duration(agents)).Seconds())
		}
		r.mu.Lock()
		same := r.lastPosition[c.ID] == q
		r.lastPosition[c.ID] = q
		r.mu.Unlock()
		if !same {
			r.svc.publish(ctx, bus.VisitorTopic(c.VisitorID), mustJSON(q))
		}
	}
}

// Position returns the last queue frame sent for a conversation.
func (r *LeastBusy) Position(convID string) (protocol.Queue, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.lastPosition[convID]
	return q, ok
}
