package service

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// A restarted node prepares, before it listens (Store.Warm), every
// statement its reconnecting clients need: agents' and visitors' sockets,
// hellos with resumes, and chat. A statement first prepared under the
// reconnect storm queued every client behind it (issue 15).
func TestWarmCoversReconnects(t *testing.T) {
	ctx := context.Background()
	path, keys := filepath.Join(t.TempDir(), "parley.db"), storetest.Keyring(t)
	open := func() *store.Store {
		st, err := store.Open(ctx, path, store.WithSealer(keys))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	// The node's first life: a conversation with messages both ways.
	first := newTestServer(t, open())
	admin := first.signIn(t, "admin@parley.local", adminPassword)
	ag := admin.socket(t)
	token := first.visitorToken(t)
	h := http.Header{"Origin": {first.origin()}}
	v := dial(t, first.wsURL("/ws/visitor?token="+token), h)
	v.hello(nil)
	conv := v.start()
	v.sendMsg(conv.ID, "v1", "hello")
	ag.sendMsg(conv.ID, "a1", "hi, how can I help?")

	// Its second life on the same file, warmed as Run warms it.
	st := open()
	second := newTestServer(t, st)
	if err := st.Warm(ctx); err != nil {
		t.Fatal(err)
	}
	warm := st.PreparedStatements()
	ag2 := admin.on(second).socketRaw(t)
	ag2.hello(map[string]int64{conv.ID: 0})
	ag2.next(protocol.TypeSynced, nil)
	v2 := dial(t, second.wsURL("/ws/visitor?token="+token), h)
	v2.hello(map[string]int64{conv.ID: 1})
	v2.next(protocol.TypeSynced, nil)
	v2.send(protocol.Resume{Envelope: protocol.Envelope{Type: protocol.TypeResume}, Conversations: map[string]int64{conv.ID: 0}})
	v2.next(protocol.TypeSynced, nil)
	v2.sendMsg(conv.ID, "v2", "are you there?")
	ag2.sendMsg(conv.ID, "a2", "yes")
	var cold []string
	for _, q := range st.PreparedStatements() {
		if !slices.Contains(warm, q) {
			cold = append(cold, q)
		}
	}
	if len(cold) > 0 {
		t.Fatalf("reconnects prepared %d statements that Warm did not:\n%s", len(cold), cold)
	}
}
