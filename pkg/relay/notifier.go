package relay

import "sync"

// notifier runs callbacks one at a time, in the order posted, on a
// goroutine that exists only while there is something to deliver: no
// goroutine per idle peer, and callbacks never run on Pion's goroutines or
// under our locks.
type notifier struct {
	wg      *sync.WaitGroup
	mu      sync.Mutex
	queue   []func()
	running bool
}

func (n *notifier) post(f func()) {
	n.mu.Lock()
	n.queue = append(n.queue, f)
	if n.running {
		n.mu.Unlock()
		return
	}
	n.running = true
	n.wg.Add(1)
	n.mu.Unlock()
	go n.drain()
}

func (n *notifier) drain() {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		if len(n.queue) == 0 {
			n.running = false
			n.queue = nil
			n.mu.Unlock()
			return
		}
		f := n.queue[0]
		n.queue = n.queue[1:]
		n.mu.Unlock()
		f()
	}
}
