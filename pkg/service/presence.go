package service

import (
	"context"
	"sync"

	"github.com/parleychat/parley/pkg/protocol"
)

// Visitor presence: the agent sees whether the visitor is still there.
//
// A visitor is online while one of its connections is up with its page
// shown, away while every connection it has says its page is hidden (the
// widget sends status "away" / "online" on visibilitychange), and gone
// once its last connection closes. A change is stored on the visitor
// (presence, last_seen_at) and announced as a conversation frame on each
// of its conversations that is not closed. Each node counts the
// connections it holds; a visitor with tabs on two nodes may show gone
// when one closes, until the other tab's next change.
type presenceBook struct {
	mu       sync.Mutex
	visitors map[string]map[*conn]bool // visitor → its helloed connections here → page hidden
	last     map[string]string         // visitor → presence last recorded by this node
}

// visitorPresence notes a change of c (up: connected, hidden: its page is
// hidden) and records the visitor's presence when it changed.
func (s *Server) visitorPresence(ctx context.Context, c *conn, up, hidden bool) {
	b := &s.presence
	b.mu.Lock()
	if b.visitors == nil {
		b.visitors, b.last = map[string]map[*conn]bool{}, map[string]string{}
	}
	id := c.p.ID
	conns := b.visitors[id]
	if up {
		if conns == nil {
			conns = map[*conn]bool{}
			b.visitors[id] = conns
		}
		conns[c] = hidden
	} else {
		delete(conns, c)
	}
	presence := protocol.PresenceGone
	for _, h := range conns {
		if !h {
			presence = protocol.PresenceOnline
			break
		}
		presence = protocol.PresenceAway
	}
	changed := b.last[id] != presence
	if len(conns) == 0 {
		delete(b.visitors, id)
		delete(b.last, id)
	} else {
		b.last[id] = presence
	}
	b.mu.Unlock()
	if !changed {
		return
	}
	if err := s.conv.VisitorPresence(ctx, c.p.WorkspaceID, id, presence); err != nil {
		c.log.Debug("cannot record the visitor's presence", "presence", presence, "err", err)
	}
}
