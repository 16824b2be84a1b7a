// Package reporttest generates a history of chats straight into a store,
// with times in the past, for report tests, the report benchmark and the
// reports page's browser test (e2e/reportseed). Live chats cannot be
// backdated; reports read only times, authors and ratings, so rows are
// written directly (message bodies are a placeholder).
package reporttest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/store"
)

// History says what to generate.
type History struct {
	Workspace, Visitor string
	Sites, Agents      []string
	Teams              []string // "" entries: no team
	Start              time.Time
	Days               int
	Conversations      int
	// Realistic: business-hour peaks, weekdays busier, some missed and
	// assistant-answered chats, ratings on about a third; otherwise every
	// conversation is a plain closed chat of ten messages (the benchmark).
	Realistic bool
	// MessagesEach is how many messages a plain (not Realistic)
	// conversation has; 0 means ten.
	MessagesEach int
	// Open: the last Open conversations are still open, with their
	// agent (the dashboard's first-view benchmark).
	Open int
	Seed uint64
}

// Seed writes h's conversations and messages and returns how many.
func Seed(ctx context.Context, s *store.Store, h History) (convs, msgs int, err error) {
	rnd := rand.New(rand.NewPCG(h.Seed, 7))
	db := s.Gorm().WithContext(ctx)
	const batch = 2000
	for done := 0; done < h.Conversations; done += batch {
		var cs []store.Conversation
		var ms []store.Message
		var vs []store.Conversion
		for i := done; i < min(done+batch, h.Conversations); i++ {
			c, m := conversation(rnd, h, i)
			c.LastSeq = int64(len(m)) // as AppendMessage keeps it
			cs = append(cs, c)
			ms = append(ms, m...)
			// Some chats end in a purchase within the day.
			if h.Realistic && c.ClosedAt != nil && rnd.IntN(9) == 0 {
				v := store.Conversion{WorkspaceID: h.Workspace, SiteID: c.SiteID, VisitorID: c.VisitorID, ConversationID: c.ID,
					Value: float64(20 + rnd.IntN(180)), Currency: "EUR", CreatedAt: c.ClosedAt.Add(time.Duration(rnd.IntN(600)) * time.Minute)}
				if c.AgentID != nil {
					v.AgentID = *c.AgentID
				}
				for _, x := range m {
					v.Assisted = v.Assisted || x.AuthorKind == "assistant"
				}
				vs = append(vs, v)
			}
		}
		if err := db.CreateInBatches(cs, 500).Error; err != nil {
			return convs, msgs, fmt.Errorf("reporttest: conversations: %w", err)
		}
		if err := db.CreateInBatches(ms, 1000).Error; err != nil {
			return convs, msgs, fmt.Errorf("reporttest: messages: %w", err)
		}
		if len(vs) > 0 {
			if err := db.CreateInBatches(vs, 500).Error; err != nil {
				return convs, msgs, fmt.Errorf("reporttest: conversions: %w", err)
			}
		}
		convs, msgs = convs+len(cs), msgs+len(ms)
	}
	return convs, msgs, nil
}

func conversation(rnd *rand.Rand, h History, i int) (store.Conversation, []store.Message) {
	agent := h.Agents[i%len(h.Agents)]
	c := store.Conversation{ID: uuid.NewString(), WorkspaceID: h.Workspace, SiteID: h.Sites[rnd.IntN(len(h.Sites))],
		VisitorID: h.Visitor, Status: "closed", AgentID: &agent}
	if len(h.Teams) > 0 {
		c.Team = h.Teams[rnd.IntN(len(h.Teams))]
	}
	day := h.Start.AddDate(0, 0, rnd.IntN(h.Days))
	if !h.Realistic {
		c.CreatedAt = day.Add(time.Duration(rnd.Int64N(int64(24 * time.Hour))))
		c.AssignedAt = ptr(c.CreatedAt.Add(time.Duration(rnd.IntN(120)) * time.Second))
		c.ClosedAt = ptr(c.CreatedAt.Add(time.Duration(rnd.IntN(3600)) * time.Second))
		c.CsatRating = rnd.IntN(6)
		var ms []store.Message
		at := c.CreatedAt
		n := h.MessagesEach
		if n == 0 {
			n = 10
		}
		if i >= h.Conversations-h.Open {
			c.Status, c.ClosedAt, c.CsatRating = "open", nil, 0
		}
		for j := range n {
			at = at.Add(time.Duration(rnd.IntN(90)+1) * time.Second)
			kind, author := "visitor", h.Visitor
			if j%2 == 1 {
				kind, author = "agent", agent
			}
			ms = append(ms, message(c, j, kind, author, at))
		}
		// As the live path leaves it: the preview, and nothing to mail or
		// mark read.
		c.LastSeq, c.LastBody, c.MailedSeq = int64(n), ms[n-1].Body, int64(n)
		c.VisitorReadSeq, c.AgentReadSeq = c.LastSeq, c.LastSeq
		return c, ms
	}
	// Weekends are quieter: redraw a weekend day once.
	if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
		day = h.Start.AddDate(0, 0, rnd.IntN(h.Days))
	}
	// Office hours, peaking late morning and mid afternoon.
	hour := 9 + rnd.NormFloat64()*2.2
	if rnd.IntN(2) == 0 {
		hour = 14.5 + rnd.NormFloat64()*2
	}
	hour = max(0, min(23.9, hour))
	c.CreatedAt = day.Add(time.Duration(hour * float64(time.Hour)))
	var ms []store.Message
	t := c.CreatedAt.Add(time.Duration(5+rnd.IntN(20)) * time.Second)
	ms = append(ms, message(c, 0, "visitor", h.Visitor, t))
	switch p := rnd.Float64(); {
	case p < 0.07: // nobody came
		c.AgentID = nil
		c.ClosedAt = ptr(t.Add(time.Duration(2+rnd.IntN(8)) * time.Minute))
		return c, ms
	case p < 0.16: // the assistant answered, and that was enough
		c.AgentID = nil
		ms = append(ms, message(c, 1, "assistant", "", t.Add(3*time.Second)))
		c.ClosedAt = ptr(t.Add(time.Duration(1+rnd.IntN(5)) * time.Minute))
		return c, ms
	}
	if rnd.IntN(12) == 0 { // the assistant answered first, then handed over
		ms = append(ms, message(c, 1, "assistant", "", t.Add(3*time.Second)))
		c.HandedOff = true
	}
	wait := time.Duration(rnd.ExpFloat64()*40+3) * time.Second
	c.AssignedAt = ptr(c.CreatedAt.Add(wait))
	t = c.AssignedAt.Add(time.Duration(rnd.ExpFloat64()*45+5) * time.Second)
	ms = append(ms, message(c, len(ms), "agent", agent, t))
	for range 2 + rnd.IntN(6) {
		t = t.Add(time.Duration(rnd.ExpFloat64()*50+8) * time.Second)
		ms = append(ms, message(c, len(ms), "visitor", h.Visitor, t))
		t = t.Add(time.Duration(rnd.ExpFloat64()*70+10) * time.Second)
		ms = append(ms, message(c, len(ms), "agent", agent, t))
	}
	c.ClosedAt = ptr(t.Add(time.Duration(1+rnd.IntN(10)) * time.Minute))
	if rnd.IntN(3) == 0 {
		c.CsatRating = []int{5, 5, 5, 4, 4, 3, 2, 1}[rnd.IntN(8)]
	}
	return c, ms
}

func message(c store.Conversation, i int, kind, author string, at time.Time) store.Message {
	return store.Message{WorkspaceID: c.WorkspaceID, ConversationID: c.ID, Seq: int64(i + 1), ClientID: fmt.Sprint("seed-", i),
		AuthorKind: kind, AuthorID: author, Body: "(generated)", CreatedAt: at}
}

func ptr[T any](v T) *T { return &v }
