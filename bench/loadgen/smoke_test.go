package loadgen

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parleychat/parley/bench/forwarder"
	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/service"
)

// smokeLevels is a tiny load: enough to cross every code path of a level
// (open-loop sends, acks, deliveries, drain, audit) in a few seconds.
var smokeLevels = []Level{{Rate: 5, Duration: 2 * time.Second, Drain: 10 * time.Second}}

func checkClean(t *testing.T, r Result, wantSent int64) {
	t.Helper()
	if r.Error != "" {
		t.Fatalf("%s: %s", r.Target, r.Error)
	}
	if r.Sent < wantSent/2 || r.Delivered != r.Sent || r.Lost != 0 || r.Duplicated != 0 || r.Unfinished != 0 {
		t.Fatalf("%s: sent %d delivered %d lost %d dup %d unfinished %d (want every message exactly once)",
			r.Target, r.Sent, r.Delivered, r.Lost, r.Duplicated, r.Unfinished)
	}
	if r.Latency.Count != uint64(r.Delivered) || r.Latency.P99Us <= 0 {
		t.Fatalf("%s: latency histogram has %d values, p99 %dµs", r.Target, r.Latency.Count, r.Latency.P99Us)
	}
}

// TestChatAgainstBaseline drives the baseline forwarder with the chat load.
func TestChatAgainstBaseline(t *testing.T) {
	srv := httptest.NewServer(forwarder.New())
	defer srv.Close()
	rs := RunChat(context.Background(), Target{Baseline: true, URL: srv.URL}, ChatOptions{Conversations: 5, Levels: smokeLevels})
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1", len(rs))
	}
	rs[0].Target = "baseline"
	checkClean(t, rs[0], 5*5*2)
}

// TestChatAgainstParley seeds a store, runs the real server (in process, on
// loopback) and drives it: every message must be acked and delivered once.
func TestChatAgainstParley(t *testing.T) {
	chatAgainstParley(t, false)
}

// TestDataChannelAgainstBaseline: the forwarder's bare Pion mode; every
// message goes over a data channel, none over a WebSocket.
func TestDataChannelAgainstBaseline(t *testing.T) {
	srv := httptest.NewServer(forwarder.New())
	defer srv.Close()
	rs := RunChat(context.Background(), Target{Baseline: true, DataChannel: true, URL: srv.URL}, ChatOptions{Conversations: 3, Levels: smokeLevels})
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1", len(rs))
	}
	rs[0].Target = "baseline-dc"
	checkClean(t, rs[0], 3*5*2)
	if rs[0].OverDC != rs[0].Delivered || rs[0].OverWS != 0 {
		t.Fatalf("%d messages over data channels, %d over WebSockets; want all %d over data channels", rs[0].OverDC, rs[0].OverWS, rs[0].Delivered)
	}
}

// TestDataChannelAgainstParley: chat through the server's embedded relay.
func TestDataChannelAgainstParley(t *testing.T) {
	chatAgainstParley(t, true)
}

func chatAgainstParley(t *testing.T, dc bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	seed := Seed{DatabaseURL: filepath.Join(dir, "parley.db"), Secret: NewSecret()}
	pairs, _, err := seed.Pairs(ctx, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load([]string{"-addr", "127.0.0.1:" + strconv.Itoa(port), "-data-dir", dir, "-secret", seed.Secret}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- service.Run(runCtx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard) }()
	defer func() { stop(); <-done }()
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := WaitHTTP(ctx, url+"/healthz", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	rs := RunChat(ctx, Target{URL: url, Pairs: pairs, DataChannel: dc}, ChatOptions{Conversations: 5, Levels: smokeLevels})
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1", len(rs))
	}
	rs[0].Target = "parley"
	checkClean(t, rs[0], 5*5*2)
	if rs[0].Acked != rs[0].Sent {
		t.Fatalf("acked %d of %d", rs[0].Acked, rs[0].Sent)
	}
	// Parley echoes each message to its sender too: two frames per
	// delivery, all of them on the data channels.
	if dc && (rs[0].OverDC != 2*rs[0].Delivered || rs[0].OverWS != 0) {
		t.Fatalf("%d message frames over data channels, %d over WebSockets; want %d and 0", rs[0].OverDC, rs[0].OverWS, 2*rs[0].Delivered)
	}
}

func TestClientIDRoundTrip(t *testing.T) {
	at := time.Unix(1764000000, 123456789)
	p, n, sched, ok := parseClientID(clientID(1999, 600, at))
	if !ok || p != 1999 || n != 600 || !sched.Equal(at) {
		t.Fatalf("got %d %d %v %v", p, n, sched, ok)
	}
	if len(clientID(1999, 600, at)) > 64 {
		t.Fatal("client id longer than the protocol allows")
	}
	for _, bad := range []string{"", "1.2", "a.b.c", "1..3"} {
		if _, _, _, ok := parseClientID(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
