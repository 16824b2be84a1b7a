package conversation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/fleet"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/routing"
)

// One routing node per workspace: leasedNode.
//
// With several signaling nodes, a workspace's queue must live in one
// engine, or each node numbers only its own visitors. So a node routes a
// workspace only while it holds the workspace's lease (Lease); the other
// nodes forward what routing needs to hear (a conversation to queue, one
// that ended, one an agent claimed, a changed need) on routingInputTopic,
// and ask the holder, request/reply over the bus with a deadline, for what
// must be answered (transfer, accept, decline, queue snapshot, a visitor's
// position). Their engines keep agents and presence (Availability, and
// presence announcements) but no conversation. The holder's decisions reach
// clients on any node through the bus, as before.
//
// A node that takes the lease loads the workspace's open assignments and
// queued conversations from the store, so a lost forward costs nothing
// lasting and positions are exact again within one lease period after a
// holder dies. A node that loses it (renewal refused, or failing past the
// lease's end) forgets the workspace's conversations. The store's
// compare-and-set keeps assignment safe even while two nodes briefly both
// believe they hold the lease. Without a Lease (one process, Memory bus)
// the Router uses an engineNode alone, which routes every workspace.

// Lease grants a workspace's routing to one node at a time.
type Lease interface {
	// Hold takes the workspace's lease for node, or renews it if node
	// holds it, for ttl; false if another node holds it.
	Hold(ctx context.Context, ws, node string, ttl time.Duration) (bool, error)
	// Release gives the lease up if node holds it.
	Release(ctx context.Context, ws, node string) error
}

// RedisLease is a Lease on Redis: one key per workspace, set NX with an
// expiry, renewed and released only by its holder (Lua scripts, so the
// check and the change are one step).
type RedisLease struct{ c *redis.Client }

// NewRedisLease returns a Lease on c.
func NewRedisLease(c *redis.Client) RedisLease { return RedisLease{c} }

var holdScript = redis.NewScript(`local v = redis.call("GET", KEYS[1])
if v == ARGV[1] then redis.call("PEXPIRE", KEYS[1], ARGV[2]) return 1 end
if not v then redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2]) return 1 end
return 0`)

func leaseKey(ws string) string { return "routing:lease:" + ws }

// Hold implements Lease.
func (l RedisLease) Hold(ctx context.Context, ws, node string, ttl time.Duration) (bool, error) {
	n, err := holdScript.Run(ctx, l.c, []string{leaseKey(ws)}, node, strconv.FormatInt(ttl.Milliseconds(), 10)).Int()
	return n == 1, err
}

// Release implements Lease.
func (l RedisLease) Release(ctx context.Context, ws, node string) error {
	return fleet.ReleaseIfOwner.Run(ctx, l.c, []string{leaseKey(ws)}, node).Err()
}

// routingInputTopic carries a workspace's routing inputs to its lease
// holder: requests with a reply topic (transfer, accept, …) and inputs
// without one (a conversation to queue, one that ended, …).
func routingInputTopic(ws string) bus.Topic[bus.Request[routingInput]] {
	return bus.Topic[bus.Request[routingInput]]{Name: "routing-input:" + ws}
}

// routingReplyTopic carries answers to one node's requests.
func routingReplyTopic(node string) string { return "routing-reply:" + node }

// routingOffersTopic carries the holder's offers to the other nodes, which
// must show an offered conversation as still waiting (see
// Service.infos) though the store already counts it against the agent.
func routingOffersTopic(ws string) bus.Topic[offerNote] {
	return bus.Topic[offerNote]{Name: "routing-offers:" + ws}
}

// offerNote is an offer made or ended by the holder (Agent empty: ended
// whoever held it, as when it was accepted).
type offerNote struct {
	Node    string    `json:"node"`
	Conv    string    `json:"conv"`
	Agent   string    `json:"agent"`
	Expires time.Time `json:"expires,omitzero"`
	Ended   bool      `json:"ended,omitempty"`
}

// remoteOffer is an offer another node made; it is forgotten once
// expired, so a holder that died mid-offer leaves nothing stale behind.
type remoteOffer struct {
	agent   string
	expires time.Time
}

// shareOffer tells the other nodes about an offer made or ended here.
func (r *leasedNode) shareOffer(ctx context.Context, ws string, n offerNote) {
	n.Node = r.node
	if err := routingOffersTopic(ws).Publish(context.WithoutCancel(ctx), r.bus, n); err != nil {
		r.log.Warn("routing offer not shared with the other nodes", "conversation", n.Conv, "err", err)
	}
}

// hearOffers keeps the workspace's offers made by other nodes.
func (r *leasedNode) hearOffers(ws string) {
	off, err := routingOffersTopic(ws).Subscribe(r.bus, func(n offerNote) {
		if n.Node == r.node {
			return
		}
		now := time.Now()
		r.omu.Lock()
		defer r.omu.Unlock()
		maps.DeleteFunc(r.remoteOffers, func(_ string, o remoteOffer) bool { return now.After(o.expires) })
		if n.Ended {
			if n.Agent == "" || r.remoteOffers[n.Conv].agent == n.Agent {
				delete(r.remoteOffers, n.Conv)
			}
			return
		}
		r.remoteOffers[n.Conv] = remoteOffer{agent: n.Agent, expires: n.Expires}
	}, nil)
	if err != nil {
		r.log.Warn("routing: cannot hear the other nodes' offers", "workspace", ws, "err", err)
		return
	}
	r.mu.Lock()
	r.offersOff = append(r.offersOff, off)
	r.mu.Unlock()
}

// callTimeout bounds a request to the holder.
const callTimeout = 5 * time.Second

// routingInput is one input forwarded to the holder. ID and Reply are set
// when the sender waits for an answer.
type routingInput struct {
	Op      string `json:"op"`
	Conv    string `json:"conv,omitempty"`
	Agent   string `json:"agent,omitempty"`
	From    string `json:"from,omitempty"`
	ToAgent string `json:"to_agent,omitempty"`
	ToTeam  string `json:"to_team,omitempty"`
	Note    string `json:"note,omitempty"`
}

// Input ops.
const (
	opEnqueue  = "enqueue"
	opRelease  = "release"
	opClaimed  = "claimed"
	opChanged  = "changed"
	opTransfer = "transfer"
	opAccept   = "accept"
	opDecline  = "decline"
	opSnapshot = "snapshot"
	opPosition = "position"
)

// routingAnswer is what the holder answers a request with (its error
// travels beside it, see routingErrors).
type routingAnswer struct {
	Snapshot *routing.Snapshot `json:"snapshot,omitempty"`
	Queue    *protocol.Queue   `json:"queue,omitempty"`
}

// routingErrors are the errors a holder's answer can carry, so callers on
// other nodes map them to HTTP statuses as if the call were local.
var routingErrors = bus.ErrorCodec{
	"forbidden": ErrForbidden, "not_found": ErrNotFound, "no_agent": ErrNoAgentAvailable,
	"invalid": ErrInvalid, "no_offer": ErrNoOffer, "at_capacity": ErrAtCapacity,
	"unavailable": ErrRoutingUnavailable,
}

// ErrRoutingUnavailable: no node answered for the workspace's routing in
// time (its lease holder died and the lease has not expired yet).
var ErrRoutingUnavailable = errors.New("routing unavailable, retry shortly")

// leasedNode routes the workspaces whose lease this node holds on its
// engineNode (local) and forwards the others' inputs to their holder.
type leasedNode struct {
	local *engineNode
	bus   bus.Bus
	log   *slog.Logger
	node  string // this node's id in leases and on the bus
	lease Lease
	ttl   time.Duration
	// released runs when a release reaches the holder from another node:
	// the router forgets the conversation's language detection.
	released func(convID string)

	omu sync.Mutex
	// remoteOffers are offers the workspace's routing node made, when it
	// is another node; guarded by omu.
	remoteOffers map[string]remoteOffer

	mu    sync.Mutex        // held across transitions (take, drop), which load or forget
	unsub map[string]func() // workspace → its input subscription; guarded by mu
	// offersOff unsubscribes from the workspaces' offers; guarded by mu.
	offersOff []func()

	// hmu guards holding alone, so routing can ask holds() while a
	// transition (which routes) is under way.
	hmu     sync.Mutex
	holding map[string]time.Time // workspace → end of the lease as we know it
	tried   map[string]time.Time // workspace → last attempt of holder() to take it

	swept time.Time // last rescan of the held workspaces' queues; guarded by mu

	// asker sends this node's requests to holders; made on first use.
	askMu sync.Mutex
	asker *bus.Asker[routingInput, routingAnswer]

	// inbox applies what other nodes sent to the workspaces held here.
	inbox *bus.Serial[inboxInput]
}

type inboxInput struct {
	ws  string
	req bus.Request[routingInput]
}

// holds reports whether this node routes ws now.
func (r *leasedNode) holds(ws string) bool {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	_, ok := r.holding[ws]
	return ok
}

// holder reports whether this node routes ws, taking the lease first if
// nobody holds it (its holder died): an input is then handled here rather
// than sent to nobody.
func (r *leasedNode) holder(ctx context.Context, ws string) bool {
	if r.holds(ws) {
		return true
	}
	// At most one attempt per holderRetry: while Redis is slow or down,
	// inputs must not queue up behind one lease call each.
	r.hmu.Lock()
	try := time.Since(r.tried[ws]) >= holderRetry
	if try {
		r.tried[ws] = time.Now()
	}
	r.hmu.Unlock()
	if try {
		r.renewLease(ctx, ws)
	}
	return r.holds(ws)
}

// holderRetry spaces holder()'s attempts to take a lease held elsewhere.
const holderRetry = 250 * time.Millisecond

// renewLease takes or renews ws's lease; a node that just took it loads
// the workspace's conversations, one that lost it forgets them.
func (r *leasedNode) renewLease(ctx context.Context, ws string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	hctx, cancel := context.WithTimeout(ctx, time.Second)
	ok, err := r.lease.Hold(hctx, ws, r.node, r.ttl)
	cancel()
	r.hmu.Lock()
	end, was := r.holding[ws]
	if err == nil && ok {
		r.holding[ws] = start.Add(r.ttl)
	}
	r.hmu.Unlock()
	switch {
	case err != nil:
		if was && time.Now().After(end) {
			r.log.Warn("routing lease not renewed in time; another node may route the workspace", "workspace", ws, "err", err)
			r.dropLocked(ctx, ws)
		}
	case ok:
		if !was {
			r.log.Info("routing lease taken: this node routes the workspace", "workspace", ws)
			r.takeLocked(ctx, ws)
		}
	case was:
		r.log.Warn("routing lease lost to another node", "workspace", ws)
		r.dropLocked(ctx, ws)
	}
}

// takeLocked starts routing ws here: inputs from the other nodes, then
// everything the store says is assigned or waiting.
func (r *leasedNode) takeLocked(ctx context.Context, ws string) {
	unsub, err := routingInputTopic(ws).Subscribe(r.bus, func(req bus.Request[routingInput]) {
		r.inbox.Push(inboxInput{ws, req})
	}, nil)
	if err != nil {
		r.log.Warn("routing lease: cannot hear the other nodes' inputs", "workspace", ws, "err", err)
	} else {
		r.unsub[ws] = unsub
	}
	if err := r.local.loading(ctx, ws); err != nil {
		r.log.Warn("routing lease: cannot load the assignments", "workspace", ws, "err", err)
	}
	if err := r.local.loaded(ctx, ws); err != nil {
		r.log.Warn("routing lease: cannot load the queue", "workspace", ws, "err", err)
	}
}

// dropLocked stops routing ws here: its conversations are the next
// holder's.
func (r *leasedNode) dropLocked(ctx context.Context, ws string) {
	r.hmu.Lock()
	delete(r.holding, ws)
	r.hmu.Unlock()
	if f := r.unsub[ws]; f != nil {
		f()
		delete(r.unsub, ws)
	}
	r.local.forget(ctx, ws)
}

// tick renews the leases of the workspaces loaded here (spaces), or
// tries to take them (their holder may have died).
func (r *leasedNode) tick(ctx context.Context, spaces []string) {
	for _, ws := range spaces {
		r.renewLease(ctx, ws)
	}
	// A forward the bus dropped while this node held the lease would leave
	// its conversation waiting unseen: rescan the store's queue now and
	// then (queued ones already in the engine are left as they are; young
	// ones may be held for their first message on their visitor's node).
	r.mu.Lock()
	sweep := time.Since(r.swept) >= queueSweepEvery
	if sweep {
		r.swept = time.Now()
	}
	r.mu.Unlock()
	if !sweep {
		return
	}
	for _, ws := range spaces {
		if !r.holds(ws) {
			continue
		}
		queued, err := r.local.st.Workspace(ws).Queued(ctx)
		if err != nil {
			r.log.Warn("routing: cannot rescan the queue", "workspace", ws, "err", err)
			continue
		}
		for _, c := range queued {
			if time.Since(c.CreatedAt) > 2*holdFor {
				r.local.enqueue(ctx, c)
			}
		}
	}
	r.local.drain(ctx)
}

// queueSweepEvery is how often the routing node rescans the store's queue.
const queueSweepEvery = 30 * time.Second

// close gives up this node's leases (shutdown), so others take over at
// their next tick instead of after the lease expires.
func (r *leasedNode) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hmu.Lock()
	held := slices.Collect(maps.Keys(r.holding))
	clear(r.holding)
	r.hmu.Unlock()
	for _, ws := range held {
		if err := r.lease.Release(ctx, ws, r.node); err != nil {
			r.log.Warn("routing lease not released; it will expire", "workspace", ws, "err", err)
		}
	}
	for _, f := range r.unsub {
		f()
	}
	clear(r.unsub)
	for _, f := range r.offersOff {
		f()
	}
	r.offersOff = nil
	r.askMu.Lock()
	if r.asker != nil {
		r.asker.Close()
	}
	r.askMu.Unlock()
}

// forward sends an input to ws's holder; nobody waits for an answer (a
// lost one is made good by the next holder's load from the store).
func (r *leasedNode) forward(ctx context.Context, ws string, in routingInput) {
	if err := routingInputTopic(ws).Publish(context.WithoutCancel(ctx), r.bus, bus.Request[routingInput]{Body: in}); err != nil {
		r.log.Warn("routing input not forwarded", "workspace", ws, "op", in.Op, "err", err)
	}
}

// call asks ws's holder and waits for its answer, for callTimeout at most.
func (r *leasedNode) call(ctx context.Context, ws string, in routingInput) (routingAnswer, error) {
	r.askMu.Lock()
	if r.asker == nil {
		r.asker = bus.NewAsker[routingInput, routingAnswer](r.bus, routingReplyTopic(r.node), routingErrors)
	}
	a := r.asker
	r.askMu.Unlock()
	rep, err := a.Ask(ctx, routingInputTopic(ws), in, callTimeout)
	if errors.Is(err, bus.ErrNoAnswer) {
		err = fmt.Errorf("%w: no answer from the workspace's routing node", ErrRoutingUnavailable)
	}
	return rep, err
}

// applyInputs carries out forwarded inputs in arrival order.
func (r *leasedNode) applyInputs(ins []inboxInput) {
	for _, x := range ins {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		r.applyInput(ctx, x.ws, x.req)
		cancel()
	}
}

func (r *leasedNode) applyInput(ctx context.Context, ws string, req bus.Request[routingInput]) {
	in := req.Body
	var rep routingAnswer
	var err error
	switch {
	case !r.holds(ws):
		// Lost meanwhile: the next holder loads from the store; a caller
		// that waits for an answer hears now, not at its timeout.
		err = fmt.Errorf("%w: the workspace's routing node changed", ErrRoutingUnavailable)
	case in.Op == opEnqueue:
		if c, err := r.local.st.Workspace(ws).Conversation(ctx, in.Conv); err == nil && c.Status == protocol.ConversationQueued {
			r.local.enqueue(ctx, c)
			r.local.drain(ctx)
		}
	case in.Op == opRelease:
		r.released(in.Conv)
		r.local.release(ctx, ws, in.Conv)
	case in.Op == opClaimed:
		r.local.claimed(ctx, ws, in.Conv, in.Agent)
	case in.Op == opChanged:
		if err := r.local.changed(ctx, ws, in.Conv, nil); err != nil {
			r.log.Warn("forwarded conversation change not applied", "conversation", in.Conv, "err", err)
		}
	case in.Op == opTransfer:
		err = r.local.transfer(ctx, routing.Transfer{WorkspaceID: ws, ConversationID: in.Conv, From: in.From, ToAgent: in.ToAgent, ToTeam: in.ToTeam, Note: in.Note})
	case in.Op == opAccept:
		err = r.local.accept(ctx, ws, in.Conv, in.Agent)
	case in.Op == opDecline:
		err = r.local.decline(ctx, ws, in.Conv, in.Agent)
	case in.Op == opSnapshot:
		var snap routing.Snapshot
		if snap, err = r.local.snapshot(ctx, ws); err == nil {
			rep.Snapshot = &snap
		}
	case in.Op == opPosition:
		if q, ok := r.local.position(ctx, ws, in.Conv); ok {
			rep.Queue = &q
		}
	}
	if err := bus.Answer(ctx, r.bus, req, rep, err, routingErrors); err != nil {
		r.log.Warn("routing answer not sent", "op", in.Op, "err", err)
	}
}
