package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// Routing-node transitions, on one SQLite store and a Memory bus, without
// the HTTP server: each runs in about a second.

type nodeFixture struct {
	st    *store.Store
	bus   *bus.Memory
	ws    string
	site  string
	agent Participant // Ann, English, capacity 2
}

func newNodeFixture(t *testing.T) *nodeFixture {
	t.Helper()
	return newNodeFixtureOn(t, storetest.SQLite(t))
}

func newNodeFixtureOn(t *testing.T, st *store.Store) *nodeFixture {
	t.Helper()
	ctx := context.Background()
	ws := store.Workspace{ID: uuid.NewString(), Name: "Acme"}
	site := store.Site{ID: uuid.NewString(), Name: "acme", Secret: "x"}
	ag := store.Agent{ID: uuid.NewString(), Email: uuid.NewString() + "@a.test", Name: "Ann", Role: "agent", PasswordHash: "x",
		Status: "online", Capacity: 2, Languages: "en"}
	if err := st.CreateWorkspace(ctx, ws, site, ag); err != nil {
		t.Fatal(err)
	}
	return &nodeFixture{st: st, bus: bus.NewMemory(), ws: ws.ID, site: site.ID,
		agent: Participant{Kind: protocol.AuthorAgent, ID: ag.ID, Name: ag.Name, WorkspaceID: ws.ID, Role: "agent"}}
}

// service starts a node on the fixture's store and bus.
func (fx *nodeFixture) service(t *testing.T, o RoutingOptions) *Service {
	t.Helper()
	if o.TickEvery == 0 {
		o.TickEvery = 20 * time.Millisecond
	}
	if o.PresenceGrace == 0 {
		o.PresenceGrace = 50 * time.Millisecond
	}
	s := New(Options{Store: fx.st, Bus: fx.bus, Routing: o})
	t.Cleanup(s.Stop)
	return s
}

func (fx *nodeFixture) routing(t *testing.T, r store.SiteRouting) {
	t.Helper()
	if err := fx.st.Workspace(fx.ws).UpdateSiteRouting(context.Background(), fx.site, r); err != nil {
		t.Fatal(err)
	}
}

func (fx *nodeFixture) visitor(t *testing.T) Participant {
	t.Helper()
	v, err := fx.st.Workspace(fx.ws).CreateVisitor(context.Background(), store.Visitor{ID: uuid.NewString(), SiteID: fx.site, Name: "Vic"})
	if err != nil {
		t.Fatal(err)
	}
	return Participant{Kind: protocol.AuthorVisitor, ID: v.ID, Name: v.Name, WorkspaceID: fx.ws, SiteID: fx.site}
}

func (fx *nodeFixture) newAgent(t *testing.T, name, languages string) Participant {
	t.Helper()
	a, err := fx.st.Workspace(fx.ws).CreateAgent(context.Background(), store.Agent{ID: uuid.NewString(), Email: uuid.NewString() + "@a.test",
		Name: name, Role: "agent", PasswordHash: "x", Status: "online", Capacity: 2, Languages: languages})
	if err != nil {
		t.Fatal(err)
	}
	return Participant{Kind: protocol.AuthorAgent, ID: a.ID, Name: a.Name, WorkspaceID: fx.ws, Role: "agent"}
}

// frames collects what is published on a topic.
type frames struct {
	mu  sync.Mutex
	got [][]byte
}

func (fx *nodeFixture) watch(t *testing.T, topic string) *frames {
	t.Helper()
	f := &frames{}
	off, err := fx.bus.Subscribe(topic, func(_ string, p []byte) {
		f.mu.Lock()
		f.got = append(f.got, p)
		f.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(off)
	return f
}

// offers returns the offer frames seen so far.
func (f *frames) offers() []protocol.Offer {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []protocol.Offer
	for _, p := range f.got {
		var o protocol.Offer
		if json.Unmarshal(p, &o) == nil && o.Type == protocol.TypeOffer {
			out = append(out, o)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !f(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (fx *nodeFixture) conversation(t *testing.T, id string) store.Conversation {
	t.Helper()
	c, err := fx.st.Workspace(fx.ws).Conversation(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Offer mode: the only agent is offered the conversation, which clients
// still see waiting; a decline ends the offer and, nobody else being
// there, offers it again; an accept assigns it; a second accept has no
// offer to take.
func TestNodeOfferDeclineAccept(t *testing.T) {
	fx := newNodeFixture(t)
	fx.routing(t, store.SiteRouting{Mode: "offer", OfferTimeoutSeconds: 30, MaxMisses: 2})
	svc := fx.service(t, RoutingOptions{})
	ctx := context.Background()
	agents := fx.watch(t, bus.AgentsTopic(fx.ws))
	if _, err := svc.AgentConnected(ctx, fx.agent); err != nil {
		t.Fatal(err)
	}
	info, err := svc.Start(ctx, fx.visitor(t), "en")
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != protocol.ConversationQueued {
		t.Fatalf("offered, not accepted: clients see %+v", info)
	}
	if o := agents.offers(); len(o) != 1 || o[0].Conversation != info.ID || o[0].Agent != fx.agent.ID || o[0].Ended {
		t.Fatalf("offer frames %+v", o)
	}
	if got := svc.router.offeredTo(info.ID); got != fx.agent.ID {
		t.Fatalf("offered to %q", got)
	}
	r := svc.Router()
	if err := r.Decline(ctx, fx.ws, info.ID, fx.agent.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the offer ended and made again", func() bool { return len(agents.offers()) >= 3 })
	if o := agents.offers(); len(o) != 3 || !o[1].Ended || o[2].Ended || o[2].Agent != fx.agent.ID {
		t.Fatalf("after decline: %+v, want ended then offered again", o)
	}
	if err := r.Accept(ctx, fx.ws, info.ID, fx.agent.ID); err != nil {
		t.Fatal(err)
	}
	if c := fx.conversation(t, info.ID); c.Status != protocol.ConversationOpen || c.AgentID == nil || *c.AgentID != fx.agent.ID {
		t.Fatalf("accepted: %+v", c)
	}
	if got := svc.router.offeredTo(info.ID); got != "" {
		t.Fatalf("still offered to %q after accept", got)
	}
	if err := r.Accept(ctx, fx.ws, info.ID, fx.agent.ID); !errors.Is(err, ErrNoOffer) {
		t.Fatalf("second accept: %v, want ErrNoOffer", err)
	}
}

// Relaxation: a French visitor, with the French agent away and only the
// English one online, waits; when the language step applies it goes to
// the English agent, with the reason stored and the visitor told once.
func TestNodeRelaxesTheLanguage(t *testing.T) {
	fx := newNodeFixture(t)
	fx.newAgent(t, "Fleur", "fr") // never connects
	fx.routing(t, store.SiteRouting{Mode: "auto", RelaxAfter: "0,1"})
	svc := fx.service(t, RoutingOptions{})
	ctx := context.Background()
	if _, err := svc.AgentConnected(ctx, fx.agent); err != nil {
		t.Fatal(err)
	}
	info, err := svc.Start(ctx, fx.visitor(t), "fr-CA")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the relaxed assignment, with its reason", func() bool {
		c := fx.conversation(t, info.ID)
		return c.Status == protocol.ConversationOpen && c.RoutingReason != ""
	})
	c := fx.conversation(t, info.ID)
	if *c.AgentID != fx.agent.ID || !strings.Contains(c.RoutingReason, "relaxed to any language") {
		t.Fatalf("assigned to %v with reason %q", *c.AgentID, c.RoutingReason)
	}
	if waited := c.UpdatedAt.Sub(c.CreatedAt); waited < time.Second {
		t.Fatalf("assigned after %v, before the language step (1 s)", waited)
	}
	ms, err := fx.st.Workspace(fx.ws).MessagesAfter(ctx, info.ID, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var told []string
	for _, m := range ms {
		if strings.HasPrefix(m.ClientID, "sys:relax:") {
			told = append(told, m.Body)
		}
	}
	if len(told) != 1 || !strings.Contains(told[0], "speaks another language") {
		t.Fatalf("relaxation notices %q", told)
	}
}

// An agent who leaves (last connection closed, grace over) gives their
// conversations back to the queue, and routing hands them to the agent
// still online.
func TestNodeAgentLeavesAndTheConversationMoves(t *testing.T) {
	fx := newNodeFixture(t)
	svc := fx.service(t, RoutingOptions{})
	ctx := context.Background()
	if _, err := svc.AgentConnected(ctx, fx.agent); err != nil {
		t.Fatal(err)
	}
	info, err := svc.Start(ctx, fx.visitor(t), "en")
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != protocol.ConversationOpen || info.AgentID != fx.agent.ID {
		t.Fatalf("assigned to the one agent online: %+v", info)
	}
	bob := fx.newAgent(t, "Bob", "en")
	if _, err := svc.AgentConnected(ctx, bob); err != nil {
		t.Fatal(err)
	}
	svc.AgentDisconnected(ctx, fx.agent)
	waitFor(t, "the conversation to move to Bob", func() bool {
		c := fx.conversation(t, info.ID)
		return c.Status == protocol.ConversationOpen && c.AgentID != nil && *c.AgentID == bob.ID
	})
	av, err := svc.Router().Availability(ctx, fx.ws, fx.site)
	if err != nil || !av.Online {
		t.Fatalf("availability with Bob online: %+v %v", av, err)
	}
	svc.AgentDisconnected(ctx, bob)
	waitFor(t, "nobody online", func() bool {
		av, err := svc.Router().Availability(ctx, fx.ws, fx.site)
		return err == nil && !av.Online && av.Reason == "no_agent"
	})
	waitFor(t, "the conversation offline, nobody being left", func() bool {
		return fx.conversation(t, info.ID).Status == protocol.ConversationOffline
	})
}

// memoryLease is a Lease in memory for nodes of one process.
type memoryLease struct {
	mu     sync.Mutex
	holder map[string]string
}

func (l *memoryLease) Hold(_ context.Context, ws, node string, _ time.Duration) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.holder[ws]; ok && h != node {
		return false, nil
	}
	l.holder[ws] = node
	return true, nil
}

func (l *memoryLease) Release(_ context.Context, ws, node string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holder[ws] == node {
		delete(l.holder, ws)
	}
	return nil
}

// Two leased nodes: the one that loads the workspace first routes it; the
// other forwards a new conversation to it, sees its offer, and has its
// decline and accept answered by it.
func TestLeasedNodeForwardsToTheHolder(t *testing.T) {
	fx := newNodeFixture(t)
	fx.routing(t, store.SiteRouting{Mode: "offer", OfferTimeoutSeconds: 30, MaxMisses: 2})
	lease := &memoryLease{holder: map[string]string{}}
	holder := fx.service(t, RoutingOptions{Lease: lease})
	other := fx.service(t, RoutingOptions{Lease: lease})
	ctx := context.Background()
	if _, err := holder.Router().Snapshot(ctx, fx.ws); err != nil { // loads, takes the lease
		t.Fatal(err)
	}
	if _, err := other.AgentConnected(ctx, fx.agent); err != nil {
		t.Fatal(err)
	}
	if !holder.router.node.(*leasedNode).holds(fx.ws) || other.router.node.(*leasedNode).holds(fx.ws) {
		t.Fatal("the first node to load the workspace should route it")
	}
	waitFor(t, "the holder sees the agent of the other node", func() bool {
		av, err := holder.Router().Availability(ctx, fx.ws, fx.site)
		return err == nil && av.Online
	})
	info, err := other.Start(ctx, fx.visitor(t), "en")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other node to hear the holder's offer", func() bool { return other.router.offeredTo(info.ID) == fx.agent.ID })
	if err := other.Router().Decline(ctx, fx.ws, info.ID, fx.agent.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the offer made again", func() bool { return other.router.offeredTo(info.ID) == fx.agent.ID })
	if err := other.Router().Accept(ctx, fx.ws, info.ID, fx.agent.ID); err != nil {
		t.Fatal(err)
	}
	if c := fx.conversation(t, info.ID); c.Status != protocol.ConversationOpen || *c.AgentID != fx.agent.ID {
		t.Fatalf("accepted through the holder: %+v", c)
	}
	if err := other.Router().Accept(ctx, fx.ws, info.ID, fx.agent.ID); !errors.Is(err, ErrNoOffer) {
		t.Fatalf("second accept through the holder: %v, want ErrNoOffer", err)
	}
	snap, err := other.Router().Snapshot(ctx, fx.ws)
	if err != nil || len(snap.Agents) != 1 {
		t.Fatalf("snapshot asked of the holder: %+v %v", snap, err)
	}
}
