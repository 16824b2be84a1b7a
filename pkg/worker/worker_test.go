package worker

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// A task handed to the pool runs; tasks that overlap run side by side
// (none waits for another, as with go statements); and once idle the
// goroutines end.
func TestPoolRunsTasksAndEndsIdleGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	p := New(50 * time.Millisecond)
	var wg sync.WaitGroup
	release := make(chan struct{})
	started := make(chan struct{}, 20)
	for range 20 {
		wg.Add(1)
		p.Go(func() {
			defer wg.Done()
			started <- struct{}{}
			<-release // all 20 must be running at once for this to end
		})
	}
	for range 20 {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("tasks did not all start: the pool made one wait for another")
		}
	}
	close(release)
	wg.Wait()
	// Reused: a second round runs on the parked goroutines.
	done := make(chan struct{})
	p.Go(func() { close(done) })
	<-done
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still running after the pool went idle (%d before)", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
