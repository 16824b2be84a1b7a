package service

import (
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
)

// CloseTooManySockets is the WebSocket close code of a socket over its
// visitor's or its address's cap (PARLEY_MAX_SOCKETS_PER_VISITOR,
// PARLEY_MAX_SOCKETS_PER_ADDRESS). A private-use code after HTTP's 429;
// the close reason says which cap.
const CloseTooManySockets = 4429

// socketCounts counts the live sockets of each visitor and each client
// address on this node, so that one token or one address cannot hold an
// unbounded share of it.
type socketCounts struct {
	visitor keyCounts
	addr    keyCounts
}

// keyCounts counts what is open per key, for a cap on each key; a key goes
// when its count is back at zero. Callers hold the lock that guards it.
type keyCounts map[string]int

// full reports whether key has max or more open (max ≤ 0: no cap).
func (k keyCounts) full(key string, max int) bool { return max > 0 && k[key] >= max }

func (k keyCounts) add(key string) { k[key]++ }

func (k keyCounts) drop(key string) {
	if k[key]--; k[key] <= 0 {
		delete(k, key)
	}
}

// claimSocket counts a new socket of p from the client address key addr
// (clientKey) against the caps. It returns the close reason when a cap is
// reached (and counts nothing); otherwise "" and the caller must call
// releaseSocket when the socket ends. With rate limits off (no limiter:
// benchmarks) there are no caps.
func (s *Server) claimSocket(p conversation.Participant, addr string) string {
	if s.limiter == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	visitor := p.Kind == protocol.AuthorVisitor
	if n := s.cfg.MaxSocketsPerVisitor; visitor && s.sockets.visitor.full(p.ID, n) {
		return fmt.Sprintf("too many connections for this visitor (at most %d); close another tab", n)
	}
	if n := s.cfg.MaxSocketsPerAddress; s.sockets.addr.full(addr, n) {
		return fmt.Sprintf("too many connections from this address (at most %d)", n)
	}
	if visitor {
		s.sockets.visitor.add(p.ID)
	}
	s.sockets.addr.add(addr)
	return ""
}

// releaseSocket uncounts a socket claimSocket counted.
func (s *Server) releaseSocket(p conversation.Participant, addr string) {
	if s.limiter == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Kind == protocol.AuthorVisitor {
		s.sockets.visitor.drop(p.ID)
	}
	s.sockets.addr.drop(addr)
}

// refuseSocket closes a just-upgraded socket over a cap, saying why: the
// browser sees the code and reason (an HTTP status before the upgrade
// would reach the page only as a failed connection).
func refuseSocket(ws *websocket.Conn, reason string) {
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseTooManySockets, reason), time.Now().Add(writeWait))
	ws.Close()
}
