package service

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relaynode"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// A Redis restart under a committing standalone relay (issue 15, defect
// 4): the relay's bus lost publications, so its clients must resume, but
// over their data channels, which stay. Before, the relay closed every
// peer and moved every client back to its WebSocket.
func TestRelayKeepsDataChannelsOverARedisRestart(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	st := storetest.SQLite(t)
	ts, pool, shutdown := newRemoteRTCServer(t, st)
	defer shutdown()
	// A redis-server of this test's own, restarted below (never the
	// shared one).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var srv *exec.Cmd
	startRedis := func() {
		srv = exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("redis-server did not start")
			}
		}
	}
	startRedis()
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rc := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 1, DialTimeout: time.Second})
	defer rc.Close()
	rb := bus.NewRedis(rc, bus.RedisOptions{Logger: quiet})
	defer rb.Close()
	conv := conversation.New(conversation.Options{Store: st, Bus: rb, Logger: quiet})
	defer conv.Stop()
	relay := startRelay(t, "relay-one", ts.URL, &relaynode.Chat{Conv: conv, Bus: rb})
	defer relay.stop()
	waitRelays(t, pool, 1)

	v := ts.rtcVisitor(t, ts.visitorToken(t))
	defer v.close()
	v.hello()
	c := v.start()
	v.negotiate()
	v.sendDC(sendFrame(c.ID, "v0", "before the restart"))
	if f := v.next(protocol.TypeAck); f.via != transportDataChannel {
		t.Fatalf("ack over %s", f.via)
	}

	srv.Process.Kill()
	srv.Wait()
	startRedis()
	if f := v.next(protocol.TypeResync); f.via != transportDataChannel {
		t.Fatalf("resync over %s", f.via)
	}
	select {
	case r := <-v.stopped:
		t.Fatalf("the data channel was stopped (%s)", r)
	default:
	}
	v.sendDC(sendFrame(c.ID, "v1", "after the restart"))
	if f := v.next(protocol.TypeAck); f.via != transportDataChannel {
		t.Fatalf("ack over %s after the restart", f.via)
	}
}
