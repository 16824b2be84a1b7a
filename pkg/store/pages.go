package store

import (
	"context"
	"time"
)

// Pages of a workspace's conversations and visitors for the REST API
// (pkg/service/api_v1.go): newest first, by keyset on (created_at, id), so
// a page costs the same however deep it is and rows added meanwhile
// neither repeat nor shift a page.

// PageAfter is where a page starts: after the row with this CreatedAt
// and ID (the last of the previous page); the zero value starts at the
// newest.
type PageAfter struct {
	CreatedAt time.Time
	ID        string
}

// ConversationsPage returns up to limit conversations created before
// after, newest first; status "" means any.
func (s *Scoped) ConversationsPage(ctx context.Context, status string, after PageAfter, limit int) ([]Conversation, error) {
	q := s.q(ctx)
	if status != "" {
		q = q.Where("status = ?", status)
	}
	if after.ID != "" {
		q = q.Where("(created_at < ? OR (created_at = ? AND id < ?))", after.CreatedAt, after.CreatedAt, after.ID)
	}
	var cs []Conversation
	err := q.Order("created_at DESC, id DESC").Limit(limit).Find(&cs).Error
	return s.openAll(cs, err)
}

// VisitorsPage returns up to limit visitors created before after, newest
// first.
func (s *Scoped) VisitorsPage(ctx context.Context, after PageAfter, limit int) ([]Visitor, error) {
	q := s.q(ctx)
	if after.ID != "" {
		q = q.Where("(created_at < ? OR (created_at = ? AND id < ?))", after.CreatedAt, after.CreatedAt, after.ID)
	}
	var vs []Visitor
	if err := q.Order("created_at DESC, id DESC").Limit(limit).Find(&vs).Error; err != nil {
		return nil, err
	}
	for i := range vs {
		if err := s.s.openVisitor(&vs[i]); err != nil {
			return nil, err
		}
	}
	return vs, nil
}
