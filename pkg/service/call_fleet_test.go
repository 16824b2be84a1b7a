package service

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
	"github.com/parleychat/parley/pkg/relaynode"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// severableBus is one node's view of a shared bus that the test can cut,
// as if the node had died: it publishes nothing and hears nothing after.
type severableBus struct {
	bus.Bus
	cut atomic.Bool
}

var errSevered = errors.New("test: node cut off")

func (b *severableBus) Publish(ctx context.Context, topic string, payload []byte) error {
	if b.cut.Load() {
		return errSevered
	}
	return b.Bus.Publish(ctx, topic, payload)
}

func (b *severableBus) Subscribe(topic string, h bus.Handler) (func(), error) {
	return b.Bus.Subscribe(topic, func(topic string, payload []byte) {
		if !b.cut.Load() {
			h(topic, payload)
		}
	})
}

// fleetNode is one signaling node of a fleet: its own server and relay
// pool (or in-process relay), the fleet's store, bus and relay registry.
type fleetNode struct {
	*testServer
	pool     *relaynode.Pool
	bus      *severableBus
	shutdown func()
}

// newFleetNode starts a node whose peers go to the standalone relays of
// reg, or, with reg nil, to an in-process relay of its own.
func newFleetNode(t *testing.T, st *store.Store, b bus.Bus, reg relaynode.Registry, args ...string) *fleetNode {
	t.Helper()
	ts := &testServer{st: st}
	ts.Server = httptest.NewUnstartedServer(nil)
	args = append([]string{"-addr", ts.Listener.Addr().String(), "-admin-password", adminPassword, "-data-dir", t.TempDir()}, args...)
	if reg != nil {
		args = append(args, "-relay-secret", testRelaySecret)
	}
	cfg, err := config.Load(args, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := bootstrap(ctx, st, cfg); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sb := &severableBus{Bus: b}
	deps := Deps{Store: st, Bus: sb, Logger: log, ICE: ICEConfig(cfg),
		Conv:   conversation.New(conversation.Options{Store: st, Bus: sb, Logger: log}),
		Tokens: auth.NewTokenSigner([]byte("0123456789abcdef0123456789abcdef"))}
	var pool *relaynode.Pool
	closeRelay := func() {}
	if reg != nil {
		pool = relaynode.NewPool(reg, testRelaySecret, log)
		deps.RelayPool = pool
		closeRelay = func() { pool.Close() }
	} else {
		rc := relaynode.PionConfig(cfg)
		rc.LogLevel = "disabled"
		if deps.Relay, err = relay.New(rc); err != nil {
			t.Fatal(err)
		}
		closeRelay = func() { deps.Relay.Close() }
	}
	ts.srv = New(cfg, deps)
	ts.Config.Handler = ts.srv.Handler()
	ts.Start()
	if ts.site, err = st.FirstSite(ctx); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	shutdown := func() {
		once.Do(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ts.srv.Shutdown(sctx)
			closeRelay()
			ts.Close()
			deps.Conv.Stop() // the routing ticks and the snooze timer
		})
	}
	t.Cleanup(shutdown)
	return &fleetNode{testServer: ts, pool: pool, bus: sb, shutdown: shutdown}
}

// waitMediaPeers waits until n connections of the node have an open relay
// peer as the server sees it: the browser's data channel opens before the
// relay's report of it reaches signaling, and a call started in between
// finds no peer to ring.
func (ts *testServer) waitMediaPeers(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(frameWait); ; time.Sleep(10 * time.Millisecond) {
		ts.srv.mu.Lock()
		conns := make([]*conn, 0, len(ts.srv.conns))
		for c := range ts.srv.conns {
			conns = append(conns, c)
		}
		ts.srv.mu.Unlock()
		open := 0
		for _, c := range conns {
			if _, p := c.mediaPeer(); p != nil {
				open++
			}
		}
		if open >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d relay peers open on %s", open, n, ts.URL)
		}
	}
}

// noCallState reads what is queued for c and fails on any call_state.
func (c *callClient) noCallState(within time.Duration) {
	c.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case f := <-c.in:
			if f.typ == protocol.TypeCallState {
				c.t.Fatalf("%s: unexpected call_state %s", c.tag, f.data)
			}
		case <-deadline:
			return
		}
	}
}

// Calls between two signaling nodes sharing a store, a bus and one
// standalone relay: the visitor is connected to node A, the agent to node
// B. The agent's node runs the call, the visitor's node mirrors it.
func TestCallAcrossSignalingNodes(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		noLeaks(t)
		b := bus.NewMemory()
		t.Cleanup(func() { b.Close() })
		callAcrossNodes(t, storetest.SQLite(t), b, b, relaynode.NewMemory())
	})
	t.Run("redis", func(t *testing.T) {
		addr, pg := os.Getenv("PARLEY_TEST_REDIS"), os.Getenv("PARLEY_TEST_POSTGRES")
		if addr == "" || pg == "" {
			t.Skip("PARLEY_TEST_REDIS and PARLEY_TEST_POSTGRES not both set")
		}
		noLeaks(t)
		st := storetest.Postgres(t, pg)
		node := func() bus.Bus {
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			b := bus.NewRedis(rdb, bus.RedisOptions{})
			t.Cleanup(func() { b.Close(); rdb.Close() })
			return b
		}
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { rdb.Close() })
		callAcrossNodes(t, st, node(), node(), relaynode.NewRedis(rdb, "test-"+randomToken()[:8]+":"))
	})
}

func callAcrossNodes(t *testing.T, st *store.Store, busA, busB bus.Bus, reg relaynode.Registry) {
	const ring = 3 * time.Second
	a := newFleetNode(t, st, busA, reg)
	b := newFleetNode(t, st, busB, reg, "-call-ring-timeout", ring.String())
	r := startRelay(t, "relay-fleet", a.URL, nil)
	waitRelays(t, a.pool, 1)

	ag, hc := b.callAgent(t)
	ag.hello()
	ag.negotiate()
	v := a.callVisitor(t)
	name := v.hello().Self.Name
	conv := startConversation(t, v)
	v.negotiate()
	a.waitMediaPeers(t, 1)
	b.waitMediaPeers(t, 1)

	// Ring on B, answer on A: media flows both ways through the relay.
	stopMedia := voiceCall(t, ag, v, conv)
	defer stopMedia()
	if calls := metric(t, r.url, "parley_relay_calls"); calls != 1 {
		t.Fatalf("parley_relay_calls %v during the call", calls)
	}
	// Chat goes on during the call.
	v.sendDC(sendFrame(conv, "during", "can you hear me?"))
	if f := v.next(protocol.TypeAck); f.via != transportDataChannel {
		t.Fatalf("ack during the call over %s", f.via)
	}
	// The visitor (on the mirroring node) mutes: the agent sees it.
	v.send(callAction(conv, protocol.CallMute, ""))
	for _, c := range []*callClient{v, ag} {
		if cs := c.callState(protocol.CallActive); len(cs.Muted) != 1 {
			t.Fatalf("%s: after the visitor muted: %+v", c.tag, cs)
		}
	}
	// Hang-up on A ends the call on both; the tracks end.
	v.send(callAction(conv, protocol.CallHangUp, ""))
	for _, c := range []*callClient{ag, v} {
		if cs := c.callState(protocol.CallEnded); cs.Reason != protocol.CallReasonHungUp {
			t.Fatalf("%s: hung-up call ended as %+v", c.tag, cs)
		}
		select {
		case <-c.ended:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the remote track did not end after hang-up", c.tag)
		}
	}
	stopMedia()
	if calls := metric(t, r.url, "parley_relay_calls"); calls != 0 {
		t.Fatalf("parley_relay_calls %v after hang-up", calls)
	}

	// Declined on A.
	ag.send(callAction(conv, protocol.CallStart, protocol.CallVoice))
	ag.callState(protocol.CallRinging)
	v.callState(protocol.CallRinging)
	v.send(callAction(conv, protocol.CallDecline, ""))
	for _, c := range []*callClient{ag, v} {
		if cs := c.callState(protocol.CallEnded); cs.Reason != protocol.CallReasonDeclined {
			t.Fatalf("%s: declined call ended as %+v", c.tag, cs)
		}
	}

	// Not answered: the ring timeout fires once, on the caller's node.
	ag.send(callAction(conv, protocol.CallStart, protocol.CallVoice))
	ag.callState(protocol.CallRinging)
	rang := time.Now()
	v.callState(protocol.CallRinging)
	for _, c := range []*callClient{ag, v} {
		if cs := c.callState(protocol.CallEnded); cs.Reason != protocol.CallReasonMissed {
			t.Fatalf("%s: unanswered call ended as %+v", c.tag, cs)
		}
	}
	if d := time.Since(rang); d < ring-time.Second {
		t.Fatalf("missed after %v; the ring timeout is %v", d, ring)
	}

	// The agent's node dies mid-call: the visitor's node hears it from the
	// relay, ends the call as dropped and records it.
	stop2 := voiceCall(t, ag, v, conv)
	defer stop2()
	want := []string{
		"Voice call started: Admin called " + name,
		"Voice call ended by " + name + " after 0:",
		"Voice call from Admin declined",
		"Voice call from Admin not answered",
		"Voice call started: Admin called " + name,
		"Voice call dropped (connection lost) after 0:",
	}
	waitRecords(t, hc, a.URL, conv, want[:5]...) // the home wrote "started"
	b.bus.cut.Store(true)
	b.pool.Close()
	if cs := v.callState(protocol.CallEnded); cs.Reason != protocol.CallReasonDropped {
		t.Fatalf("visitor: the call whose other node died ended as %+v", cs)
	}
	stop2()
	// Chat goes on for the visitor.
	v.sendDC(sendFrame(conv, "after", "still here"))
	if f := v.next(protocol.TypeAck); f.via != transportDataChannel {
		t.Fatalf("ack after the other node died over %s", f.via)
	}
	v.noCallState(500 * time.Millisecond) // ended once

	// Every outcome recorded once.
	waitRecords(t, hc, a.URL, conv, want...)
	time.Sleep(300 * time.Millisecond)
	waitRecords(t, hc, a.URL, conv, want...)
	v.close()
	ag.close()
	b.shutdown()
	a.shutdown()
	r.stop()
}

// Two nodes each with its own in-process relay cannot join their clients'
// peers: the call is refused with call_unavailable saying why (calls
// between nodes need standalone relays), nothing rings or is recorded, and
// chat goes on over the data channel.
func TestCallAcrossNodesNeedsStandaloneRelays(t *testing.T) {
	noLeaks(t)
	st := storetest.SQLite(t)
	b := bus.NewMemory()
	t.Cleanup(func() { b.Close() })
	na := newFleetNode(t, st, b, nil)
	nb := newFleetNode(t, st, b, nil)

	ag, hc := nb.callAgent(t)
	ag.hello()
	ag.negotiate()
	v := na.callVisitor(t)
	v.hello()
	conv := startConversation(t, v)
	v.negotiate()
	na.waitMediaPeers(t, 1)
	nb.waitMediaPeers(t, 1)

	ag.send(callAction(conv, protocol.CallStart, protocol.CallVoice))
	var e protocol.Error
	json.Unmarshal(ag.next(protocol.TypeError).data, &e)
	if e.Code != protocol.CodeCallUnavailable || !strings.Contains(e.Message, "standalone relays") {
		t.Fatalf("a call between two nodes' in-process relays: %+v", e)
	}
	v.noCallState(300 * time.Millisecond)
	if got := systemBodies(t, hc, na.URL, conv); len(got) != 0 {
		t.Fatalf("a call that never rang was recorded: %q", got)
	}
	v.sendDC(sendFrame(conv, "m", "hello"))
	if f := v.next(protocol.TypeAck); f.via != transportDataChannel {
		t.Fatalf("ack over %s", f.via)
	}
	v.close()
	ag.close()
	nb.shutdown()
	na.shutdown()
}
