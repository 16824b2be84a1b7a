package routing

import (
	"context"
	"fmt"
	"sync"
)

// ClaimResult is the outcome of an atomic claim or move.
type ClaimResult int

// Claim results.
const (
	// Claimed: the agent now owns the conversation (or holds its offer).
	Claimed ClaimResult = iota
	// AgentFull: the agent already holds capacity conversations in the
	// store (another node got there first). The Engine tries the next agent.
	AgentFull
	// ConversationTaken: the conversation already has another owner (or, for
	// Move, is no longer owned by the agent handing it over). The Engine
	// drops it from its queue.
	ConversationTaken
)

func (r ClaimResult) String() string {
	switch r {
	case Claimed:
		return "claimed"
	case AgentFull:
		return "agent full"
	case ConversationTaken:
		return "conversation taken"
	}
	return fmt.Sprintf("ClaimResult(%d)", int(r))
}

// Assigner is the authority on who owns which conversation. The Engine
// decides in memory and then asks the Assigner to make the decision true
// atomically; only a Claimed answer is committed. That is what keeps "one
// conversation, one owner, no agent above capacity" true when several
// signaling nodes route the same workspace, or a node's memory is stale.
//
// An offer (ModeOffer) is claimed when it is made, so an offered
// conversation counts against the agent's capacity until it is accepted
// (nothing more to do), declined or expired (Release).
//
// The Engine calls the Assigner with its workspace lock held: calls should
// be quick (one round trip) and must not call back into the Engine.
//
// The signaling server's Assigner is conversation's storeAssigner: each
// operation is one store transaction (store.Scoped.Claim, Move, Unassign)
// that locks the agent's row, counts its open conversations against
// capacity and updates the conversation only if it is still unowned (or
// still the mover's), on SQLite and PostgreSQL alike.
type Assigner interface {
	// Claim makes agentID the owner of conversationID if and only if, in one
	// atomic step, the conversation has no owner and the agent owns fewer
	// than capacity conversations.
	Claim(ctx context.Context, workspaceID, conversationID, agentID string, capacity int) (ClaimResult, error)
	// Move hands conversationID from agent from to agent to if and only if,
	// in one atomic step, from still owns it and to owns fewer than capacity
	// conversations.
	Move(ctx context.Context, workspaceID, conversationID, from, to string, capacity int) (ClaimResult, error)
	// Release ends agentID's ownership of conversationID if it still has it,
	// freeing one unit of the agent's capacity. Releasing what is not owned
	// is not an error.
	Release(ctx context.Context, workspaceID, conversationID, agentID string) error
}

// Restorer is an Assigner that keeps its own state and must be told about
// assignments that already exist when the engine starts (MemoryAssigner).
// Engine.Adopt calls Restore when the Assigner implements it; an Assigner
// backed by the store needs nothing, the store already knows.
type Restorer interface {
	Restore(workspaceID, conversationID, agentID string)
}

// MemoryAssigner is the in-process Assigner: the default for one node and
// what tests use. It also records the highest load each agent ever reached,
// so tests can prove no agent went above capacity at any time. Safe for
// concurrent use.
type MemoryAssigner struct {
	mu      sync.Mutex
	owner   map[string]string // workspace/conversation → agent
	load    map[string]int    // workspace/agent → owned
	maxLoad map[string]int    // workspace/agent → highest load seen
	claims  map[string]int    // workspace/conversation → times claimed
}

// NewMemoryAssigner returns an empty MemoryAssigner.
func NewMemoryAssigner() *MemoryAssigner {
	return &MemoryAssigner{owner: map[string]string{}, load: map[string]int{}, maxLoad: map[string]int{}, claims: map[string]int{}}
}

func key(ws, id string) string { return ws + "\x00" + id }

// Claim implements Assigner.
func (m *MemoryAssigner) Claim(_ context.Context, ws, conv, agent string, capacity int) (ClaimResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.owner[key(ws, conv)]; ok {
		return ConversationTaken, nil
	}
	a := key(ws, agent)
	if m.load[a] >= capacity {
		return AgentFull, nil
	}
	m.owner[key(ws, conv)] = agent
	m.claims[key(ws, conv)]++
	m.add(a, 1)
	return Claimed, nil
}

// Move implements Assigner.
func (m *MemoryAssigner) Move(_ context.Context, ws, conv, from, to string, capacity int) (ClaimResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.owner[key(ws, conv)] != from {
		return ConversationTaken, nil
	}
	t := key(ws, to)
	if from != to && m.load[t] >= capacity {
		return AgentFull, nil
	}
	m.owner[key(ws, conv)] = to
	m.add(key(ws, from), -1)
	m.add(t, 1)
	return Claimed, nil
}

// Release implements Assigner.
func (m *MemoryAssigner) Release(_ context.Context, ws, conv, agent string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.owner[key(ws, conv)] != agent {
		return nil
	}
	delete(m.owner, key(ws, conv))
	m.add(key(ws, agent), -1)
	return nil
}

func (m *MemoryAssigner) add(agent string, d int) {
	m.load[agent] += d
	if m.load[agent] > m.maxLoad[agent] {
		m.maxLoad[agent] = m.load[agent]
	}
}

// Restore implements Restorer: it records an existing assignment, without
// a capacity check (it already exists).
func (m *MemoryAssigner) Restore(ws, conv, agent string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.owner[key(ws, conv)]; ok {
		if old == agent {
			return
		}
		m.add(key(ws, old), -1)
	}
	m.owner[key(ws, conv)] = agent
	m.add(key(ws, agent), 1)
}

// Owner returns the conversation's owner, or "".
func (m *MemoryAssigner) Owner(ws, conv string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.owner[key(ws, conv)]
}

// Load returns how many conversations the agent owns now.
func (m *MemoryAssigner) Load(ws, agent string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.load[key(ws, agent)]
}

// MaxLoad returns the highest load the agent ever had.
func (m *MemoryAssigner) MaxLoad(ws, agent string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.maxLoad[key(ws, agent)]
}

// Claims returns how many times the conversation was successfully claimed
// (a conversation requeued after its agent went offline is claimed again).
func (m *MemoryAssigner) Claims(ws, conv string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.claims[key(ws, conv)]
}
