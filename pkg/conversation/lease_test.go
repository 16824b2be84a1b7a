package conversation_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// killableLease is a RedisLease that a test can cut off, as if its node
// died: nothing renewed, nothing released, so the others must wait for
// the lease to expire.
type killableLease struct {
	conversation.RedisLease
	dead atomic.Bool
}

var errKilled = errors.New("node killed")

func (l *killableLease) Hold(ctx context.Context, ws, node string, ttl time.Duration) (bool, error) {
	if l.dead.Load() {
		return false, errKilled
	}
	return l.RedisLease.Hold(ctx, ws, node, ttl)
}

func (l *killableLease) Release(ctx context.Context, ws, node string) error {
	if l.dead.Load() {
		return errKilled
	}
	return l.RedisLease.Release(ctx, ws, node)
}

// Three nodes, each on its own Redis connection, one routing lease per
// workspace: visitors arriving on different nodes get exact global queue
// positions 1..N whichever node they ask; when the routing node dies
// (lease neither renewed nor released) another takes over within the
// lease's period and positions are exact again; the agent never goes
// above capacity and each conversation has one owner.
func TestOneRoutingNodePerWorkspace(t *testing.T) {
	addr := os.Getenv("PARLEY_TEST_REDIS")
	if addr == "" {
		t.Skip("PARLEY_TEST_REDIS not set")
	}
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		const ttl = time.Second
		nodes := make([]*conversation.Service, 3)
		leases := make([]*killableLease, 3)
		for i := range nodes {
			c := redis.NewClient(&redis.Options{Addr: addr})
			b := bus.NewRedis(c, bus.RedisOptions{})
			leases[i] = &killableLease{RedisLease: conversation.NewRedisLease(c)}
			nodes[i] = conversation.New(conversation.Options{Store: fx.st, Bus: b, Routing: conversation.RoutingOptions{
				PresenceGrace: 50 * time.Millisecond, TickEvery: 20 * time.Millisecond, Lease: leases[i], LeaseTTL: ttl}})
			t.Cleanup(func() { nodes[i].Stop(); b.Close(); c.Close() })
		}
		ws, site := fx.visitor.WorkspaceID, fx.visitor.SiteID
		sc := fx.st.Workspace(ws)
		// Node 0 loads the workspace first, so it takes the lease; the
		// agent (capacity 2) is connected to node 2.
		if _, err := nodes[0].Router().Availability(ctx, ws, site); err != nil {
			t.Fatal(err)
		}
		if _, err := nodes[2].AgentConnected(ctx, fx.agent); err != nil {
			t.Fatal(err)
		}
		for i, n := range nodes {
			eventually(t, fmt.Sprintf("node %d sees the agent", i), func() bool {
				av, err := n.Router().Availability(ctx, ws, site)
				return err == nil && av.Online
			})
		}

		// Seven visitors, on nodes 0, 1, 2, 0, ... in turn.
		const visitors = 7
		type arrival struct {
			node int
			conv string
			p    conversation.Participant
		}
		var arrivals []arrival
		for i := range visitors {
			v := fx.newVisitor(t)
			c, err := nodes[i%3].Start(ctx, v, "en")
			if err != nil {
				t.Fatal(err)
			}
			arrivals = append(arrivals, arrival{i % 3, c.ID, v})
			time.Sleep(5 * time.Millisecond) // distinct arrival times: a strict order
		}
		owners := func() map[string]string {
			out := map[string]string{}
			for _, a := range arrivals {
				c, err := sc.Conversation(ctx, a.conv)
				if err != nil {
					t.Fatal(err)
				}
				if c.Status == protocol.ConversationOpen && c.AgentID != nil {
					out[a.conv] = *c.AgentID
				}
			}
			return out
		}
		checkCapacity := func() {
			t.Helper()
			if n := len(owners()); n > 2 {
				t.Fatalf("%d conversations assigned to an agent of capacity 2", n)
			}
		}
		var closed string // the conversation the agent ends below
		// exact: every waiting conversation, asked on its own node (or on
		// ask when its node is dead), is at its rank among those waiting.
		exact := func(ask func(a arrival) *conversation.Service) bool {
			own := owners()
			rank := 0
			for _, a := range arrivals {
				if _, assigned := own[a.conv]; assigned || a.conv == closed {
					continue
				}
				rank++
				q, ok := ask(a).Router().Position(ctx, ws, a.conv)
				if !ok || q.Position != rank {
					return false
				}
			}
			return rank > 0
		}
		eventually(t, "two assigned", func() bool { return len(owners()) == 2 })
		eventually(t, "positions 1..5 on every node", func() bool {
			return exact(func(a arrival) *conversation.Service { return nodes[a.node] })
		})
		checkCapacity()
		// The first two arrivals are the assigned ones: fair order.
		own := owners()
		if _, ok := own[arrivals[0].conv]; !ok {
			t.Fatalf("first arrival not assigned: %v", own)
		}
		if _, ok := own[arrivals[1].conv]; !ok {
			t.Fatalf("second arrival not assigned: %v", own)
		}

		// Node 0, the routing node, dies: its lease is neither renewed nor
		// released. Another node takes over once it expires.
		leases[0].dead.Store(true)
		nodes[0].Stop()
		killed := time.Now()
		alive := func(a arrival) *conversation.Service {
			if a.node == 0 {
				return nodes[1+len(a.conv)%2]
			}
			return nodes[a.node]
		}
		eventually(t, "positions exact again after the routing node died", func() bool { return exact(alive) })
		handover := time.Since(killed)
		t.Logf("handover after the routing node died: %v (lease %v)", handover, ttl)

		// The agent ends one chat through node 2: the next in line is
		// assigned (by the new routing node), the others move up.
		for conv := range own {
			closed = conv
			break
		}
		if err := nodes[2].Close(ctx, fx.agent, closed); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the third arrival assigned", func() bool {
			_, ok := owners()[arrivals[2].conv]
			return ok
		})
		checkCapacity()
		eventually(t, "positions 1..4 after an assignment", func() bool { return exact(alive) })
		for conv, agent := range owners() {
			if agent != fx.agent.ID {
				t.Fatalf("conversation %s owned by %s", conv, agent)
			}
		}

		// What must be answered is answered alike by the routing node and
		// the other live one (which asks it): the queue, and errors of the
		// same kind.
		var assigned string
		for conv := range owners() {
			assigned = conv
			break
		}
		waiting := 0
		for _, a := range arrivals {
			if _, ok := owners()[a.conv]; !ok && a.conv != closed {
				waiting++
			}
		}
		for i, n := range nodes[1:] {
			snap, err := n.Router().Snapshot(ctx, ws)
			if err != nil || len(snap.Queue) != waiting || snap.Owners[assigned] != fx.agent.ID {
				t.Fatalf("node %d: snapshot %+v, %v; want %d waiting", i+1, snap, err, waiting)
			}
			if err := n.Router().Transfer(ctx, ws, assigned, fx.agent.ID, "no-such-agent", "", ""); !errors.Is(err, conversation.ErrNotFound) {
				t.Fatalf("node %d: transfer to an unknown agent: %v", i+1, err)
			}
			if err := n.Router().Accept(ctx, ws, arrivals[6].conv, fx.agent.ID); !errors.Is(err, conversation.ErrNoOffer) {
				t.Fatalf("node %d: accept without an offer: %v", i+1, err)
			}
		}
	})
}

// In offer mode, a node that does not route the workspace shows an offered
// conversation as still waiting (the store already counts it against the
// agent), and as the agent's once the offer is accepted through it.
func TestOffersSeenOnEveryNode(t *testing.T) {
	addr := os.Getenv("PARLEY_TEST_REDIS")
	if addr == "" {
		t.Skip("PARLEY_TEST_REDIS not set")
	}
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		ws, site := fx.visitor.WorkspaceID, fx.visitor.SiteID
		if err := fx.st.Workspace(ws).UpdateSiteRouting(ctx, site, store.SiteRouting{Mode: "offer", OfferTimeoutSeconds: 60, MaxMisses: 3}); err != nil {
			t.Fatal(err)
		}
		nodes := make([]*conversation.Service, 2)
		for i := range nodes {
			c := redis.NewClient(&redis.Options{Addr: addr})
			b := bus.NewRedis(c, bus.RedisOptions{})
			nodes[i] = conversation.New(conversation.Options{Store: fx.st, Bus: b, Routing: conversation.RoutingOptions{
				PresenceGrace: 50 * time.Millisecond, TickEvery: 20 * time.Millisecond, Lease: conversation.NewRedisLease(c), LeaseTTL: time.Second}})
			t.Cleanup(func() { nodes[i].Stop(); b.Close(); c.Close() })
		}
		// Node 0 routes; the agent and the visitor are on node 1.
		if _, err := nodes[0].Router().Availability(ctx, ws, site); err != nil {
			t.Fatal(err)
		}
		if _, err := nodes[1].AgentConnected(ctx, fx.agent); err != nil {
			t.Fatal(err)
		}
		eventually(t, "node 0 sees the agent", func() bool {
			av, err := nodes[0].Router().Availability(ctx, ws, site)
			return err == nil && av.Online
		})
		c, err := nodes[1].Start(ctx, fx.visitor, "en")
		if err != nil {
			t.Fatal(err)
		}
		statusOn := func(n *conversation.Service) string {
			list, err := n.Visible(ctx, fx.agent)
			if err != nil {
				t.Fatal(err)
			}
			for _, info := range list {
				if info.ID == c.ID {
					return info.Status
				}
			}
			return ""
		}
		eventually(t, "the offer made", func() bool {
			got, err := fx.st.Workspace(ws).Conversation(ctx, c.ID)
			return err == nil && got.Status == protocol.ConversationOpen
		})
		eventually(t, "node 1 shows the offered conversation waiting", func() bool {
			return statusOn(nodes[1]) == protocol.ConversationQueued
		})
		if err := nodes[1].Router().Accept(ctx, ws, c.ID, fx.agent.ID); err != nil {
			t.Fatal(err)
		}
		eventually(t, "node 1 shows it open once accepted", func() bool {
			return statusOn(nodes[1]) == protocol.ConversationOpen
		})
	})
}
