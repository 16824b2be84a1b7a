package conversation

import (
	"context"
	"log/slog"
	"time"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/routing"
	"github.com/parleychat/parley/pkg/store"
)

// leasedNode's node methods: each routes on the local engineNode while
// this node holds the workspace's lease (taking it first if nobody does),
// and otherwise forwards the input to the holder, or asks it and waits
// for its answer (lease.go).

func newLeasedNode(local *engineNode, b bus.Bus, log *slog.Logger, id string, lease Lease, ttl time.Duration, released func(string)) *leasedNode {
	r := &leasedNode{local: local, bus: b, log: log, node: id, lease: lease, ttl: ttl, released: released,
		remoteOffers: map[string]remoteOffer{},
		holding:      map[string]time.Time{}, tried: map[string]time.Time{}, unsub: map[string]func(){}}
	r.inbox = bus.NewSerial(r.applyInputs)
	local.share = r.shareOffer
	return r
}

func (r *leasedNode) enqueue(ctx context.Context, c store.Conversation) {
	if !r.holder(ctx, c.WorkspaceID) {
		r.forward(ctx, c.WorkspaceID, routingInput{Op: opEnqueue, Conv: c.ID})
		return
	}
	r.local.enqueue(ctx, c)
}

func (r *leasedNode) release(ctx context.Context, ws, convID string) {
	r.local.forgetQueued(convID)
	if !r.holder(ctx, ws) {
		r.forward(ctx, ws, routingInput{Op: opRelease, Conv: convID})
		return
	}
	r.local.release(ctx, ws, convID)
}

func (r *leasedNode) claimed(ctx context.Context, ws, convID, agentID string) {
	if !r.holder(ctx, ws) {
		r.local.forgetQueued(convID)
		r.forward(ctx, ws, routingInput{Op: opClaimed, Conv: convID, Agent: agentID})
		return
	}
	r.local.claimed(ctx, ws, convID, agentID)
}

func (r *leasedNode) changed(ctx context.Context, ws, convID string, c *store.Conversation) error {
	if !r.holder(ctx, ws) {
		r.forward(ctx, ws, routingInput{Op: opChanged, Conv: convID})
		return nil
	}
	return r.local.changed(ctx, ws, convID, c)
}

func (r *leasedNode) transfer(ctx context.Context, t routing.Transfer) error {
	if !r.holder(ctx, t.WorkspaceID) {
		_, err := r.call(ctx, t.WorkspaceID, routingInput{Op: opTransfer, Conv: t.ConversationID, From: t.From, ToAgent: t.ToAgent, ToTeam: t.ToTeam, Note: t.Note})
		return err
	}
	return r.local.transfer(ctx, t)
}

func (r *leasedNode) accept(ctx context.Context, ws, convID, agentID string) error {
	if !r.holder(ctx, ws) {
		_, err := r.call(ctx, ws, routingInput{Op: opAccept, Conv: convID, Agent: agentID})
		return err
	}
	return r.local.accept(ctx, ws, convID, agentID)
}

func (r *leasedNode) decline(ctx context.Context, ws, convID, agentID string) error {
	if !r.holder(ctx, ws) {
		_, err := r.call(ctx, ws, routingInput{Op: opDecline, Conv: convID, Agent: agentID})
		return err
	}
	return r.local.decline(ctx, ws, convID, agentID)
}

func (r *leasedNode) snapshot(ctx context.Context, ws string) (routing.Snapshot, error) {
	if !r.holder(ctx, ws) {
		rep, err := r.call(ctx, ws, routingInput{Op: opSnapshot})
		if err != nil || rep.Snapshot == nil {
			return routing.Snapshot{}, errOr(err)
		}
		return *rep.Snapshot, nil
	}
	return r.local.snapshot(ctx, ws)
}

// position asks the holder within a second.
func (r *leasedNode) position(ctx context.Context, ws, convID string) (protocol.Queue, bool) {
	if r.holds(ws) {
		return r.local.position(ctx, ws, convID)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	rep, err := r.call(ctx, ws, routingInput{Op: opPosition, Conv: convID})
	if err != nil || rep.Queue == nil {
		return protocol.Queue{}, false
	}
	return *rep.Queue, true
}

func (r *leasedNode) offeredTo(convID string) string {
	if a := r.local.offeredTo(convID); a != "" {
		return a
	}
	r.omu.Lock()
	defer r.omu.Unlock()
	if o, ok := r.remoteOffers[convID]; ok && time.Now().Before(o.expires) {
		return o.agent
	}
	return ""
}

// loading loads nothing: the node that takes the lease loads the
// conversations (takeLocked).
func (r *leasedNode) loading(context.Context, string) error { return nil }

func (r *leasedNode) loaded(ctx context.Context, ws string) error {
	r.hearOffers(ws)
	r.renewLease(ctx, ws)
	return nil
}
