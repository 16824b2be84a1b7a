package service

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/parleychat/parley/pkg/protocol"
)

// resyncWorkers bounds how many connections read their conversation list
// from the store at once after the bus came back: a node with many clients
// must not stampede the database.
const resyncWorkers = 4

// resyncState coalesces resync requests: one pass at a time, and a request
// that arrives during a pass runs one more pass after it.
type resyncState struct {
	mu      sync.Mutex
	running bool
	again   bool
}

// Resync makes every live connection of this node resume from the store,
// on the same connection (a resync frame): the bus lost its link to the
// other nodes for a while and publications for these clients may be lost.
// It returns at once; the work runs in the background (it is called on the
// bus's receive goroutine, which must not block).
func (s *Server) Resync() {
	s.resync.mu.Lock()
	if s.resync.running {
		s.resync.again = true
		s.resync.mu.Unlock()
		return
	}
	s.resync.running = true
	s.resync.mu.Unlock()
	go func() {
		for {
			s.resyncAll()
			s.resync.mu.Lock()
			if !s.resync.again {
				s.resync.running = false
				s.resync.mu.Unlock()
				return
			}
			s.resync.again = false
			s.resync.mu.Unlock()
		}
	}()
}

func (s *Server) resyncAll() {
	s.metrics.resyncs.Inc()
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	work := make(chan *conn)
	var wg sync.WaitGroup
	for range min(resyncWorkers, len(conns)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				c.resync()
			}
		}()
	}
	for _, c := range conns {
		work <- c
	}
	close(work)
	wg.Wait()
	s.log.Info("told clients to resume after a bus outage", "connections", len(conns))
}

// resync sends the client its current conversation list in a resync frame;
// the client then resumes each conversation from its last seq (which also
// subscribes a visitor's connection to a conversation started meanwhile).
// A client whose list cannot be read now is disconnected instead: it
// reconnects and resumes through hello.
func (c *conn) resync() {
	ctx, cancel := context.WithTimeout(context.Background(), handleTimeout)
	defer cancel()
	convs, err := c.srv.conv.Visible(ctx, c.p)
	if err != nil {
		c.log.Warn("resync: cannot read the conversation list; closing the connection so the client resumes on reconnect", "err", err)
		c.close()
		return
	}
	b, err := json.Marshal(protocol.Resync{Envelope: protocol.Envelope{Type: protocol.TypeResync}, Conversations: convs})
	if err != nil {
		c.log.Error("encode frame", "err", err)
		return
	}
	// Over the WebSocket, like welcome: it is not a chat frame a data
	// channel would carry.
	c.enqueue(outFrame{data: b, wsOnly: true})
}
