package conversation_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/pkg/bus"

	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// eventually polls f every 10ms for at most 10s.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Two signaling nodes on one store and one bus: an agent whose dashboard is
// connected to node B takes visitors who arrive on node A; their status and
// their leaving reach node A too.
func TestAgentsOnAnotherNodeAreRouted(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) { twoNodes(t, fx, fx.bus, fx.bus) })
}

// The same with each node on its own Redis connection, as in a fleet.
func TestAgentsOnAnotherNodeAreRoutedOverRedis(t *testing.T) {
	addr := os.Getenv("PARLEY_TEST_REDIS")
	if addr == "" {
		t.Skip("PARLEY_TEST_REDIS not set")
	}
	each(t, func(t *testing.T, fx *fixture) {
		buses := make([]*bus.Redis, 2)
		for i := range buses {
			c := redis.NewClient(&redis.Options{Addr: addr})
			buses[i] = bus.NewRedis(c, bus.RedisOptions{})
			t.Cleanup(func() { buses[i].Close(); c.Close() })
		}
		twoNodes(t, fx, buses[0], buses[1])
	})
}

func twoNodes(t *testing.T, fx *fixture, busA, busB bus.Bus) {
	ctx := context.Background()
	opts := conversation.RoutingOptions{PresenceGrace: 50 * time.Millisecond, TickEvery: 20 * time.Millisecond}
	nodeA := conversation.New(conversation.Options{Store: fx.st, Bus: busA, Routing: opts})
	t.Cleanup(nodeA.Stop)
	nodeB := conversation.New(conversation.Options{Store: fx.st, Bus: busB, Routing: opts})
	t.Cleanup(nodeB.Stop)
	ws, site := fx.visitor.WorkspaceID, fx.visitor.SiteID
	online := func(n *conversation.Service) bool {
		av, err := n.Router().Availability(ctx, ws, site)
		return err == nil && av.Online
	}
	// Node A loads the workspace first, with nobody connected anywhere.
	if online(nodeA) {
		t.Fatal("online with no agent connected")
	}
	if _, err := nodeB.AgentConnected(ctx, fx.agent); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node A sees the agent connected to node B", func() bool { return online(nodeA) })

	c, err := nodeA.Start(ctx, fx.visitor, "en")
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != protocol.ConversationOpen || c.AgentID != fx.agent.ID {
		t.Fatalf("visitor on node A: %+v, want the agent of node B", c)
	}

	// Away on node B: node A gives the agent nothing new.
	if err := nodeB.SetStatus(ctx, fx.agent, protocol.StatusAway); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node A sees the agent away", func() bool { return !online(nodeA) })
	if err := nodeB.SetStatus(ctx, fx.agent, protocol.StatusOnline); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node A sees the agent online again", func() bool { return online(nodeA) })

	// The agent leaves node B: after the grace period node A has nobody.
	nodeB.AgentDisconnected(ctx, fx.agent)
	eventually(t, "node A sees the agent gone", func() bool { return !online(nodeA) })
	v2 := fx.newVisitor(t)
	c2, err := nodeA.Start(ctx, v2, "en")
	if err != nil {
		t.Fatal(err)
	}
	// (Just after loading, node A waits a moment for other nodes'
	// agents before it gives up.)
	eventually(t, "the visitor offered the offline form", func() bool {
		c, err := fx.st.Workspace(ws).Conversation(ctx, c2.ID)
		return err == nil && c.Status == protocol.ConversationOffline
	})
}

// A profile edited through one node reaches the routing of the others.
func TestProfileChangesReachOtherNodes(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		nodeA := conversation.New(conversation.Options{Store: fx.st, Bus: fx.bus})
		t.Cleanup(nodeA.Stop)
		ws := fx.visitor.WorkspaceID
		if _, err := fx.svc.AgentConnected(ctx, fx.agent); err != nil { // fx.svc is node B
			t.Fatal(err)
		}
		capacity := func() int {
			snap, err := nodeA.Router().Snapshot(ctx, ws)
			if err != nil {
				return -1
			}
			for _, a := range snap.Agents {
				if a.ID == fx.agent.ID {
					return a.Capacity
				}
			}
			return -1
		}
		eventually(t, "node A knows the agent", func() bool { return capacity() == 2 })
		seven := 7
		if err := fx.st.Workspace(ws).UpdateAgentProfile(ctx, fx.agent.ID, store.AgentProfile{Capacity: &seven}); err != nil {
			t.Fatal(err)
		}
		if err := fx.svc.Router().AgentChanged(ctx, ws, fx.agent.ID); err != nil {
			t.Fatal(err)
		}
		eventually(t, "node A applies the new capacity", func() bool { return capacity() == seven })
	})
}
