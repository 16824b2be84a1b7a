package conversation

import (
	"context"
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
	replies := make(chan bus.Reply[routingAnswer], 1)
	off, err := bus.Topic[bus.Reply[routingAnswer]]{Name: "test-reply"}.Subscribe(b, func(rep bus.Reply[routingAnswer]) { replies <- rep }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer off()
	svc.router.node.(*leasedNode).applyInput(context.Background(), "ws-1", bus.Request[routingInput]{ID: "req-1", Reply: "test-reply", Body: routingInput{Op: opAccept, Conv: "c", Agent: "a"}})
	select {
	case rep := <-replies:
		if err := routingErrors.Decode(rep.Error); rep.ID != "req-1" || !errors.Is(err, ErrRoutingUnavailable) {
			t.Fatalf("answer %+v (err %v), want req-1 with ErrRoutingUnavailable", rep, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to a request the node can no longer route")
	}
}
