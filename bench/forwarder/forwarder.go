// Package forwarder is the benchmarks' baseline: a bare WebSocket forwarder
// (gorilla/websocket, like Parley) that pairs two connections by a key and
// copies every text frame from one to the other. No storage, no routing, no
// JSON: whatever Parley costs above this is Parley's own.
package forwarder

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Server pairs connections of /ws?pair=KEY&role=visitor|agent.
type Server struct {
	up websocket.Upgrader

	mu    sync.Mutex
	pairs map[string]*pair

	// Dropped counts frames that arrived while the peer was not connected.
	Dropped atomic.Int64
}

type pair struct{ visitor, agent *peer }

type peer struct {
	mu sync.Mutex // gorilla allows one writer at a time
	ws *websocket.Conn
}

// New returns a forwarder with the same buffer sizes as Parley's server.
func New() *Server {
	return &Server{
		up: websocket.Upgrader{
			ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{},
			HandshakeTimeout: 10 * time.Second,
			CheckOrigin:      func(*http.Request) bool { return true },
		},
		pairs: map[string]*pair{},
	}
}

// ServeHTTP upgrades /ws requests; anything else is 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.Write([]byte("ok"))
		return
	}
	key, role := r.URL.Query().Get("pair"), r.URL.Query().Get("role")
	if r.URL.Path != "/ws" || key == "" || (role != "visitor" && role != "agent") {
		http.NotFound(w, r)
		return
	}
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	me := &peer{ws: ws}
	s.mu.Lock()
	p := s.pairs[key]
	if p == nil {
		p = &pair{}
		s.pairs[key] = p
	}
	if role == "visitor" {
		p.visitor = me
	} else {
		p.agent = me
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if role == "visitor" && p.visitor == me {
			p.visitor = nil
		} else if role == "agent" && p.agent == me {
			p.agent = nil
		}
		if p.visitor == nil && p.agent == nil && s.pairs[key] == p {
			delete(s.pairs, key)
		}
		s.mu.Unlock()
		ws.Close()
	}()
	ws.SetReadLimit(32 << 10)
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		s.mu.Lock()
		other := p.agent
		if role == "agent" {
			other = p.visitor
		}
		s.mu.Unlock()
		if other == nil {
			s.Dropped.Add(1)
			continue
		}
		other.mu.Lock()
		other.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		err = other.ws.WriteMessage(typ, data)
		other.mu.Unlock()
		if err != nil {
			s.Dropped.Add(1)
		}
	}
}
