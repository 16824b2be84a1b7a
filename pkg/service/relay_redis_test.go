package service

import (
	"io"
	"log/slog"
	"testing"

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
	st := storetest.SQLite(t)
	ts, pool, shutdown := newRemoteRTCServer(t, st)
	defer shutdown()
	// A redis-server of this test's own, restarted below (never the
	// shared one).
	rs := startTestRedis(t)
	rb := rs.bus(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
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

	rs.kill()
	rs.start()
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
