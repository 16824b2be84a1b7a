package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// BenchmarkAppendMessage is the store's side of a chat message under load:
// C senders, each in its own conversation, append one message after the
// other (each waits for its commit, as a client waits for its ack). ns/op is
// per stored message across all senders, so 1e9/ns_per_op is messages/s;
// cpu-µs/msg is the process's user+system CPU per stored message, which a
// shared, busy machine disturbs far less than the wall clock (on
// PostgreSQL it leaves out the server's own CPU). Each call has a
// deadline, as in the server.
func BenchmarkAppendMessage(b *testing.B) {
	for name, s := range storetest.Stores(b) {
		for _, senders := range []int{1, 64, 256} {
			b.Run(fmt.Sprintf("%s/senders=%d", name, senders), func(b *testing.B) {
				// A deadline, as the server's handlers give every request.
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				sc, first := seed(b, s)
				convs := []string{first.ID}
				for len(convs) < senders {
					c, err := sc.CreateConversation(ctx, store.Conversation{ID: uuid.NewString(), SiteID: first.SiteID, VisitorID: first.VisitorID, Status: "open"})
					if err != nil {
						b.Fatal(err)
					}
					convs = append(convs, c.ID)
				}
				var next atomic.Int64
				var wg sync.WaitGroup
				errs := make(chan error, senders)
				b.ResetTimer()
				cpu := cpuTime(b)
				for _, conv := range convs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
							if _, _, err := sc.AppendMessage(ctx, msg(conv, fmt.Sprintf("m-%d", i), "a message of a typical length for a chat")); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64((cpuTime(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/msg")
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			})
		}
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
