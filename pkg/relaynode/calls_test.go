package relaynode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/relay"
)

const testSecret = "relaynode-test-secret-0123456789abcdef"

// relayCalls reads parley_relay_calls off the relay's /metrics.
func relayCalls(t *testing.T, url string) float64 {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "parley_relay_calls "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	t.Fatal("no parley_relay_calls on the relay's /metrics")
	return 0
}

// The call messages of the control link, driven through a Pool as
// signaling does: connect answers each peer's send mids, a screen share
// may run beside a voice call, a data-only peer cannot be in a call,
// call_stats reports the legs, hang-up is idempotent, and a peer that
// closes ends its calls on the relay. No goroutine is left behind.
func TestCallControl(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	defer goleak.VerifyNone(t, ignore)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg, err := config.LoadRelay([]string{"-id", "relay-calls", "-secret", testSecret, "-signaling-urls", "http://127.0.0.1:1"},
		func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	srv := httptest.NewServer(n.Handler())
	defer srv.Close()
	pool := NewPool(NewMemory(), testSecret, log)
	defer pool.Close()
	ctx := context.Background()
	if err := pool.Registry().Heartbeat(ctx, Info{ID: "relay-calls", ControlURL: srv.URL, IntervalMs: time.Minute.Milliseconds()}); err != nil {
		t.Fatal(err)
	}
	peer := func(media bool) Peer {
		t.Helper()
		p, err := pool.NewPeer(ctx, Owner{}, relay.PeerOptions{Media: media})
		if err != nil {
			t.Fatalf("peer on the relay: %v", err)
		}
		return p
	}
	a, b := peer(true), peer(true)
	if !SameRelay(a, b) {
		t.Fatal("two peers of one relay are not on the same relay")
	}

	voice, err := Connect(ctx, a, b, relay.MediaVoice)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if len(voice.SendMids(a)) != 1 || len(voice.SendMids(b)) != 1 {
		t.Fatalf("voice send mids %v and %v: want one each", voice.SendMids(a), voice.SendMids(b))
	}
	share, err := Connect(ctx, a, b, relay.MediaScreen)
	if err != nil {
		t.Fatalf("screen share beside the voice call: %v", err)
	}
	if len(share.SendMids(a)) != 1 || len(share.SendMids(b)) != 0 {
		t.Fatalf("share send mids %v and %v: the sharer sends, the viewer not", share.SendMids(a), share.SendMids(b))
	}
	if calls := relayCalls(t, srv.URL); calls != 2 {
		t.Fatalf("parley_relay_calls %v, want 2", calls)
	}
	legs, err := voice.Stats(ctx)
	if err != nil || len(legs) != 2 || legs[0].Kind != "audio" || legs[0].Packets != 0 {
		t.Fatalf("voice stats before any media: %+v %v", legs, err)
	}

	if _, err := Connect(ctx, a, peer(false), relay.MediaVoice); !errors.Is(err, relay.ErrNoMedia) {
		t.Fatalf("a call with a data-only peer: %v, want relay.ErrNoMedia", err)
	}
	if _, err := Connect(ctx, a, b, relay.Media("hologram")); err == nil {
		t.Fatal("an unknown kind of call was connected")
	}

	if err := voice.Close(); err != nil {
		t.Fatalf("hang up: %v", err)
	}
	if err := voice.Close(); err != nil {
		t.Fatalf("hang up again: %v", err)
	}
	if _, err := voice.Stats(ctx); !errors.Is(err, relay.ErrClosed) {
		t.Fatalf("stats of a hung-up call: %v, want relay.ErrClosed", err)
	}
	if calls := relayCalls(t, srv.URL); calls != 1 {
		t.Fatalf("parley_relay_calls %v after a hang-up, want 1", calls)
	}

	// The viewer's peer closes: the relay ends the share itself.
	b.Close()
	<-b.Done()
	for deadline := time.Now().Add(10 * time.Second); relayCalls(t, srv.URL) != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the share outlived its viewer's peer on the relay")
		}
	}
	if _, err := Connect(ctx, a, b, relay.MediaVoice); !errors.Is(err, relay.ErrClosed) {
		t.Fatalf("a call with a closed peer: %v, want relay.ErrClosed", err)
	}
	if err := share.Close(); err != nil {
		t.Fatalf("hang up a call the relay already ended: %v", err)
	}
	pool.Close()
	<-a.Done()
}
