package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// heldElsewhere is a Lease another node always holds.
type heldElsewhere struct{}

func (heldElsewhere) Hold(context.Context, string, string, time.Duration) (bool, error) {
	return false, nil
}
func (heldElsewhere) Release(context.Context, string, string) error { return nil }

// A forwarded request that reaches a node after it lost the workspace's
// lease (it was queued while the lease was lost) is answered at once with
// ErrRoutingUnavailable, which the caller can tell apart, instead of being
// dropped for the caller to wait its whole timeout.
func TestForwardedRequestAfterLeaseLostIsAnswered(t *testing.T) {
	b := bus.NewMemory()
	svc := New(Options{Store: storetest.SQLite(t), Bus: b, Routing: RoutingOptions{Lease: heldElsewhere{}}})
	defer svc.Stop()
	replies := make(chan routingReply, 1)
	off, err := b.Subscribe("test-reply", func(_ string, payload []byte) {
		var rep routingReply
		if json.Unmarshal(payload, &rep) == nil {
			replies <- rep
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer off()
	svc.router.applyInput(context.Background(), "ws-1", routingInput{Op: opAccept, Conv: "c", Agent: "a", ID: "req-1", Reply: "test-reply"})
	select {
	case rep := <-replies:
		if rep.ID != "req-1" || !errors.Is(rep.err(), ErrRoutingUnavailable) {
			t.Fatalf("answer %+v (err %v), want req-1 with ErrRoutingUnavailable", rep, rep.err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to a request the node can no longer route")
	}
}
