package relaynode

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// A committing relay never routes: asked for a workspace's routing state
// (which loads the workspace), it asks the lease holder over the bus
// instead of answering from an engine of its own, which would load the
// queue, offer and claim beside the holder's.
func TestCommittingRelayNeverRoutes(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	ws := store.Workspace{ID: uuid.NewString(), Name: "Acme"}
	site := store.Site{ID: uuid.NewString(), Name: "acme", Secret: "x"}
	ag := store.Agent{ID: uuid.NewString(), Email: uuid.NewString() + "@a.test", Name: "Ann", Role: "agent", PasswordHash: "x", Status: "online", Capacity: 2}
	if err := st.CreateWorkspace(ctx, ws, site, ag); err != nil {
		t.Fatal(err)
	}
	b := bus.NewMemory()
	defer b.Close()
	asked := make(chan string, 16)
	off, err := b.Subscribe("routing-input:"+ws.ID, func(_ string, payload []byte) {
		var in struct { // a bus.Request of routing's input
			Body struct {
				Op string `json:"op"`
			} `json:"body"`
		}
		json.Unmarshal(payload, &in)
		asked <- in.Body.Op
	})
	if err != nil {
		t.Fatal(err)
	}
	defer off()
	chat, stop := newChat(st, b, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer stop()

	// Nobody holds the lease here: the relay's request goes unanswered.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := chat.Conv.Router().Snapshot(cctx, ws.ID); err == nil {
		t.Fatal("the relay answered the workspace's routing state itself: it routes")
	}
	select {
	case op := <-asked:
		if op != "snapshot" {
			t.Fatalf("the relay forwarded %q, want snapshot", op)
		}
	default:
		t.Fatal("the relay did not ask the lease holder")
	}
}
