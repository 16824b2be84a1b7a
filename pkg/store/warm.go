package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// Warm prepares the statements that sign-ins, reconnects (hello, resume)
// and chat use, by running each once for ids that match nothing, so that a
// restarted node's first thousand clients find them prepared instead of
// queueing behind whoever prepares each one first. Call it before the node
// listens.
func (s *Store) Warm(ctx context.Context) error {
	const none = "00000000-0000-0000-0000-000000000000"
	now := time.Now().UTC()
	sc := s.Workspace(none)
	var err error
	keep := func(what string, e error) {
		if e != nil && !errors.Is(e, ErrNotFound) && err == nil {
			err = fmt.Errorf("warm %s: %w", what, e)
		}
	}
	_, e := s.SessionByTokenHash(ctx, none, now)
	keep("session", e)
	_, e = s.SiteByID(ctx, none)
	keep("site", e)
	_, e = sc.Workspace(ctx)
	keep("workspace", e)
	_, e = sc.Site(ctx, none)
	keep("site", e)
	_, e = sc.Sites(ctx)
	keep("sites", e)
	_, e = sc.Agent(ctx, none)
	keep("agent", e)
	_, e = sc.Agents(ctx)
	keep("agents", e)
	_, e = sc.Visitor(ctx, none)
	keep("visitor", e)
	keep("visitor seen", sc.TouchVisitor(ctx, none, now))
	keep("visitor presence", sc.SetVisitorPresence(ctx, none, "gone", now))
	keep("agent status", sc.SetAgentStatus(ctx, none, StatusOffline))
	_, e = sc.LiveSessions(ctx, []string{none}, now)
	keep("live sessions", e)
	_, e = sc.Conversation(ctx, none)
	keep("conversation", e)
	_, e = sc.OpenConversationOf(ctx, none)
	keep("open conversation", e)
	_, e = sc.ConversationsOfVisitor(ctx, none, VisitorRecent)
	keep("visitor's conversations", e)
	_, e = sc.Inbox(ctx, none, now)
	keep("inbox", e)
	_, e = sc.Queued(ctx)
	keep("queue", e)
	_, e = sc.OpenLoads(ctx)
	keep("loads", e)
	_, e = sc.OpenAssignments(ctx)
	keep("assignments", e)
	_, e = sc.MessagesAfter(ctx, none, 0, HistoryPage)
	keep("messages", e)
	// Resumed messages come with their cached translations
	// (pkg/conversation/translate.go).
	_, e = sc.Translations(ctx, none, 0, 0)
	keep("translations", e)
	// The webhook subscriptions a node loads per workspace when clients
	// come back and events start to flow (pkg/service/webhooks.go).
	_, e = sc.Webhooks(ctx)
	keep("webhooks", e)
	return err
}

// PreparedStatements lists the statements the store has prepared and
// cached, sorted: after Warm, the hot paths should add none.
func (s *Store) PreparedStatements() []string {
	p, ok := s.db.Statement.ConnPool.(*gorm.PreparedStmtDB)
	if !ok {
		return nil
	}
	p.Mux.RLock()
	keys := p.Stmts.Keys()
	p.Mux.RUnlock()
	slices.Sort(keys)
	return keys
}
