package service

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// A client that stops reading while publications keep coming is dropped
// once its send queue is full (it resumes from the store when it comes
// back); the server does not buffer without bound for it.
func TestClientThatStopsReadingIsDropped(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	v := ts.visitor(t)
	v.hello(nil)
	conv := v.start()
	// From here on the client reads nothing. Frames of 4 KB fill the
	// socket buffers first, then the connection's queue of sendQueue frames.
	frame, _ := json.Marshal(protocol.Message{Envelope: protocol.Envelope{Type: protocol.TypeMessage},
		Conversation: conv.ID, Seq: 1, ClientID: "x", Body: strings.Repeat("a", 4000)})
	dropped := func() bool {
		return metric(t, ts.URL, "parley_slow_client_disconnects_total") >= 1
	}
	for i := 0; i < 50000 && !dropped(); i++ {
		for j := 0; j < 100; j++ {
			if err := ts.srv.bus.Publish(context.Background(), bus.ConversationTopic(conv.ID), frame); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !dropped() {
		t.Fatal("a client that read nothing through 5,000,000 publications was not dropped")
	}
	// The socket is closed: after what was buffered, reading ends.
	v.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := v.ws.ReadMessage(); err != nil {
			if strings.Contains(err.Error(), "i/o timeout") {
				t.Fatal("the dropped connection is still open")
			}
			return
		}
	}
}
