package conversation

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/routing"
)

// Agent presence across signaling nodes.
//
// Each node's routing engine sees the agents connected to that node. So
// that a visitor on one node reaches an agent whose dashboard is connected
// to another, every node announces, per workspace, which agents are
// connected to it and the status each chose, on the bus: at every change
// and every presenceEvery. The other nodes count an agent announced by any
// live node as one more connection of that agent (so the usual grace
// period applies when it goes), take the status it announces, and re-read
// profiles and site rules another node changed. An announcement not
// renewed within presenceTTL is dropped, unless the bus itself is down (a
// node cannot hear others then; dropping would send their agents'
// conversations back to the queue). Assignment stays the store's
// compare-and-set; with a Lease, one node routes each workspace (lease.go).

// Presence carries agents' presence between signaling nodes: each node
// announces, per workspace, the agents connected to it, and hears the
// others' announcements. MemoryPresence is the single process's (nodes
// that share a bus.Memory), RedisPresence a fleet's; the Router picks the
// one that fits its bus.
type Presence interface {
	// Join hears ws's announcements by nodes other than self, in order,
	// until the returned func is called.
	Join(ws, self string, heard func(PresenceNote)) (leave func(), err error)
	// Announce publishes this node's announcement for ws.
	Announce(ctx context.Context, ws string, n PresenceNote) error
	// Trusted reports whether the other nodes' silence means something
	// now: false while announcements cannot reach this node (Redis down),
	// when dropping the silent nodes' agents would send their
	// conversations back to the queue.
	Trusted(ctx context.Context) bool
	// Alone reports whether this node can be sure no other node has
	// agents it has not heard of yet (then nothing waits for them).
	Alone() bool
}

// presenceTopic carries a workspace's presence announcements between nodes.
// (pkg/bus names the client-facing topics; this one is routing's own.)
func presenceTopic(ws string) bus.Topic[PresenceNote] {
	return bus.Topic[PresenceNote]{Name: "routing-presence:" + ws}
}

// busPresence announces on a bus topic per workspace.
type busPresence struct {
	b     bus.Bus
	heard atomic.Bool // another node has announced something
}

func (p *busPresence) Join(ws, self string, heard func(PresenceNote)) (func(), error) {
	return presenceTopic(ws).Subscribe(p.b, func(n PresenceNote) {
		if n.Node == self {
			return
		}
		p.heard.Store(true)
		heard(n)
	}, nil)
}

func (p *busPresence) Announce(ctx context.Context, ws string, n PresenceNote) error {
	return presenceTopic(ws).Publish(context.WithoutCancel(ctx), p.b, n)
}

// MemoryPresence is Presence within one process: every node shares the
// bus.Memory, so what is announced is heard, and a node that has heard no
// other is alone.
type MemoryPresence struct{ busPresence }

// NewMemoryPresence returns a MemoryPresence on b.
func NewMemoryPresence(b *bus.Memory) *MemoryPresence {
	return &MemoryPresence{busPresence{b: b}}
}

// Trusted implements Presence: a bus.Memory is always up.
func (*MemoryPresence) Trusted(context.Context) bool { return true }

// Alone implements Presence.
func (p *MemoryPresence) Alone() bool { return !p.heard.Load() }

// RedisPresence is Presence between the nodes of a fleet, on their Redis
// bus (or any bus other than bus.Memory).
type RedisPresence struct{ busPresence }

// NewRedisPresence returns a RedisPresence on b.
func NewRedisPresence(b bus.Bus) *RedisPresence {
	return &RedisPresence{busPresence{b: b}}
}

// Trusted implements Presence: the bus answers its health check, briefly
// (a bus that is down must not hold up the routing tick).
func (p *RedisPresence) Trusted(ctx context.Context) bool {
	c, ok := p.b.(bus.Checker)
	if !ok {
		return true
	}
	hctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	return c.Healthy(hctx) == nil
}

// Alone implements Presence: other nodes may always exist.
func (*RedisPresence) Alone() bool { return false }

// presenceOf is the Presence that fits b.
func presenceOf(b bus.Bus) Presence {
	if m, ok := b.(*bus.Memory); ok {
		return NewMemoryPresence(m)
	}
	return NewRedisPresence(b)
}

const (
	presenceEvery = 10 * time.Second
	presenceTTL   = 3 * presenceEvery
	// presenceWarmup: for this long after a workspace loads, a conversation
	// that finds no agent online waits instead of going offline, while the
	// other nodes answer this node's Ask.
	presenceWarmup = 2 * time.Second
)

// PresenceNote is one node's announcement for one workspace.
type PresenceNote struct {
	Node string `json:"node"`
	// Agents: agent → chosen status, for every agent with a connection
	// to Node now (the full set, not a change).
	Agents map[string]string `json:"agents"`
	// Ask: the sender has just loaded the workspace; others announce.
	Ask bool `json:"ask,omitempty"`
	// Profile and Site name an agent profile or site rules the sender
	// changed; the others re-read them.
	Profile string `json:"profile,omitempty"`
	Site    string `json:"site,omitempty"`
}

type inboxNote struct {
	ws   string
	note PresenceNote
}

// remoteNode is the latest announcement of another node.
type remoteNode struct {
	agents map[string]string
	at     time.Time
}

// remoteAgents is the router's view of the other nodes.
type remoteAgents struct {
	mu    sync.Mutex
	nodes map[string]map[string]remoteNode // workspace → node → its announcement
	up    map[string]string                // workspace/agent → status, for agents present on another node (a virtual connection in the engine)
	unsub []func()
	// inbox applies the notes heard, off the bus's goroutine (the engine
	// does store I/O).
	inbox *bus.Serial[inboxNote]
	last  time.Time // last periodic announcement
}

// subscribePresence listens to the workspace's announcements and asks the
// other nodes for theirs.
func (r *Router) subscribePresence(ctx context.Context, ws string) {
	unsub, err := r.presence.Join(ws, r.id, func(n PresenceNote) { r.pres.inbox.Push(inboxNote{ws, n}) })
	if err != nil {
		if !errors.Is(err, bus.ErrClosed) {
			r.log.Warn("routing presence: cannot subscribe; agents on other nodes are not seen", "workspace", ws, "err", err)
		}
		return
	}
	r.pres.mu.Lock()
	r.pres.unsub = append(r.pres.unsub, unsub)
	r.pres.mu.Unlock()
	r.announce(ctx, ws, PresenceNote{Ask: true})
}

// announce publishes this node's connected agents of the workspace, with
// extra fields from note.
func (r *Router) announce(ctx context.Context, ws string, note PresenceNote) {
	var agents []string
	prefix := ws + "/"
	r.mu.Lock()
	for k, n := range r.conns {
		if agent, ok := strings.CutPrefix(k, prefix); ok && n > 0 {
			agents = append(agents, agent)
		}
	}
	r.mu.Unlock()
	r.announceAgents(ctx, ws, note, agents)
}

// announceAgents is announce with the agents connected here already known
// (presenceTick finds every workspace's in one pass over the connections:
// one pass per workspace cost a node with thousands of workspaces a fifth
// of its CPU).
func (r *Router) announceAgents(ctx context.Context, ws string, note PresenceNote, agents []string) {
	note.Node, note.Agents = r.id, make(map[string]string, len(agents))
	for _, a := range agents {
		note.Agents[a] = ""
	}
	if len(note.Agents) > 0 {
		for id, st := range r.eng.Statuses(ws, slices.Collect(maps.Keys(note.Agents))) {
			note.Agents[id] = string(st)
		}
	}
	if err := r.presence.Announce(ctx, ws, note); err != nil {
		r.log.Warn("routing presence: announcement not sent", "workspace", ws, "err", err)
	}
}

// applyPresence carries out a batch of announcements in arrival order,
// then routes what they changed. Each note, and the drain, has a deadline
// of its own: the worker lives as long as notes keep arriving, longer than
// any one deadline.
func (r *Router) applyPresence(notes []inboxNote) {
	for _, n := range notes {
		ctx, cancel := context.WithTimeout(context.Background(), PresenceNoteTimeout)
		r.applyNote(ctx, n.ws, n.note)
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), PresenceNoteTimeout)
	r.local.drain(ctx)
	cancel()
}

// PresenceNoteTimeout bounds the store work one presence note causes.
const PresenceNoteTimeout = 30 * time.Second

func (r *Router) applyNote(ctx context.Context, ws string, n PresenceNote) {
	if n.Profile != "" {
		if err := r.reloadAgent(ctx, ws, n.Profile); err != nil {
			r.log.Warn("routing presence: profile changed elsewhere not applied", "agent", n.Profile, "err", err)
		}
	}
	if n.Site != "" {
		if err := r.reloadSite(ctx, ws, n.Site); err != nil {
			r.log.Warn("routing presence: site changed elsewhere not applied", "site", n.Site, "err", err)
		}
	}
	if n.Ask {
		r.announce(ctx, ws, PresenceNote{})
	}
	r.pres.mu.Lock()
	if r.pres.nodes[ws] == nil {
		r.pres.nodes[ws] = map[string]remoteNode{}
	}
	r.pres.nodes[ws][n.Node] = remoteNode{agents: n.Agents, at: time.Now()}
	r.pres.mu.Unlock()
	r.reconcile(ctx, ws)
}

// reconcile makes the engine's virtual connections match what live nodes
// announce.
func (r *Router) reconcile(ctx context.Context, ws string) {
	r.pres.mu.Lock()
	want := map[string]string{}
	for _, node := range r.pres.nodes[ws] {
		for a, st := range node.agents {
			if want[a] == "" || st == string(routing.StatusOnline) {
				want[a] = st
			}
		}
	}
	have := map[string]string{}
	for k, st := range r.pres.up {
		if agent, ok := strings.CutPrefix(k, ws+"/"); ok {
			have[agent] = st
		}
	}
	r.pres.mu.Unlock()
	for a, st := range want {
		if old, ok := have[a]; !ok {
			r.remoteUp(ctx, ws, a, st)
		} else if old != st && st != "" {
			r.setRemoteStatus(ws, a, st)
			if err := r.eng.SetStatus(ctx, ws, a, routing.Status(st)); err != nil && !errors.Is(err, routing.ErrUnknownAgent) {
				r.log.Warn("routing presence: status", "agent", a, "err", err)
			}
		}
	}
	for a := range have {
		if _, ok := want[a]; !ok {
			r.pres.mu.Lock()
			delete(r.pres.up, akey(ws, a))
			r.pres.mu.Unlock()
			if err := r.eng.Disconnected(ctx, ws, a); err != nil && !errors.Is(err, routing.ErrUnknownAgent) {
				r.log.Warn("routing presence", "agent", a, "err", err)
			}
		}
	}
}

func (r *Router) setRemoteStatus(ws, agent, st string) {
	r.pres.mu.Lock()
	r.pres.up[akey(ws, agent)] = st
	r.pres.mu.Unlock()
}

// remoteUp puts an agent connected to another node into this node's
// routing, as one connection.
func (r *Router) remoteUp(ctx context.Context, ws, agentID, status string) {
	a, err := r.st.Workspace(ws).Agent(ctx, agentID)
	if err != nil {
		return // deleted, or the store is down: the next announcement retries
	}
	if routing.Status(status).Valid() {
		a.Status = status
	}
	r.setRemoteStatus(ws, agentID, status)
	k := akey(ws, agentID)
	r.mu.Lock()
	r.seen[k] = true
	r.mu.Unlock()
	if err := r.eng.SetAgent(ctx, ws, r.agentOf(a)); err != nil {
		r.log.Warn("agent not routable", "agent", agentID, "err", err)
		return
	}
	if err := r.eng.Connected(ctx, ws, agentID); err != nil {
		r.log.Warn("routing presence", "agent", agentID, "err", err)
	}
}

// presenceTick renews this node's announcements and drops those of nodes
// that stopped renewing theirs.
func (r *Router) presenceTick(ctx context.Context, now time.Time) {
	// Only workspaces with agents here: others' silence about the rest
	// already says "none" (the last departure was announced).
	r.mu.Lock()
	withAgents := map[string][]string{}
	for k, n := range r.conns {
		if ws, agent, ok := strings.Cut(k, "/"); ok && n > 0 && r.loaded[ws] {
			withAgents[ws] = append(withAgents[ws], agent)
		}
	}
	r.mu.Unlock()
	r.pres.mu.Lock()
	renew := now.Sub(r.pres.last) >= presenceEvery
	if renew {
		r.pres.last = now
	}
	var stale []string
	for ws, nodes := range r.pres.nodes {
		for _, n := range nodes {
			if now.Sub(n.at) > presenceTTL {
				stale = append(stale, ws)
				break
			}
		}
	}
	r.pres.mu.Unlock()
	if renew {
		for ws, agents := range withAgents {
			r.announceAgents(ctx, ws, PresenceNote{}, agents)
		}
	}
	if len(stale) == 0 {
		return
	}
	if !r.presence.Trusted(ctx) {
		return // we cannot hear the others: their silence says nothing
	}
	for _, ws := range stale {
		r.pres.mu.Lock()
		maps.DeleteFunc(r.pres.nodes[ws], func(_ string, n remoteNode) bool { return now.Sub(n.at) > presenceTTL })
		r.pres.mu.Unlock()
		r.reconcile(ctx, ws)
	}
}

// warming reports whether the workspace loaded so recently that other
// nodes may still be announcing their agents, and until when. A node that
// is alone (see Presence.Alone) never waits.
func (r *Router) warming(ws string) (time.Time, bool) {
	if r.presence.Alone() {
		return time.Time{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	until := r.loadedAt[ws].Add(presenceWarmup)
	return until, time.Now().Before(until)
}

// stopPresence unsubscribes from every workspace's announcements.
func (r *Router) stopPresence() {
	r.pres.mu.Lock()
	unsub := r.pres.unsub
	r.pres.unsub = nil
	r.pres.mu.Unlock()
	for _, f := range unsub {
		f()
	}
}
