package conversation

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Inbox states (pending, snoozed) as agents set them, and the timer that
// brings snoozed conversations back. The time a snooze ends is in the
// store, so a restart loses none: every node's timer looks there, and the
// store lets one node wake each conversation.

// snoozeRecheck bounds how long a node's timer sleeps: a snooze set on
// another node is that node's to wake on time; this one takes over within
// snoozeRecheck if that node died.
const snoozeRecheck = 30 * time.Second

// snoozer runs the snooze timer of one Service.
type snoozer struct {
	poke chan struct{}
	stop chan struct{}
	once sync.Once
	done chan struct{}
}

func newSnoozer() *snoozer {
	return &snoozer{poke: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

func (z *snoozer) close() {
	z.once.Do(func() { close(z.stop) })
	<-z.done
}

// wake makes the timer look at the store again now.
func (z *snoozer) wake() {
	select {
	case z.poke <- struct{}{}:
	default:
	}
}

// runSnoozeTimer wakes the snoozed conversations whose time came, then
// sleeps until the next one is due (at most snoozeRecheck) or a snooze is
// set here.
func (s *Service) runSnoozeTimer() {
	z := s.snooze
	defer close(z.done)
	for {
		wait := snoozeRecheck
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for {
			woken, err := s.store.WakeSnoozed(ctx, s.now(), 100)
			if err != nil {
				s.log.Warn("wake snoozed conversations", "err", err)
				wait = time.Second
				break
			}
			for _, w := range woken {
				s.Changed(ctx, w.WorkspaceID, w.ID)
			}
			if len(woken) < 100 {
				break
			}
		}
		if next, ok, err := s.store.NextSnoozeEnd(ctx); err == nil && ok {
			wait = min(wait, max(next.Sub(s.now()), 0))
		}
		cancel()
		t := time.NewTimer(wait)
		select {
		case <-z.stop:
			t.Stop()
			return
		case <-z.poke:
		case <-t.C:
		}
		t.Stop()
	}
}

// ErrBadState is a state change the inbox does not know.
var ErrBadState = errors.New("unknown conversation state")

// SetState moves a conversation that is not closed to open (""), pending
// (protocol.StatePending) or snoozed until until (protocol.StateSnoozed),
// as p may: its agent, or anyone's while it waits for one; supervisors and
// admins any. Agents and the visitor's client are told.
func (s *Service) SetState(ctx context.Context, p Participant, convID, state string, until *time.Time) error {
	if p.Kind != protocol.AuthorAgent {
		return ErrForbidden
	}
	now := s.now()
	switch state {
	case store.StateOpen, store.StatePending:
		until = nil
	case store.StateSnoozed:
		if until == nil || !until.After(now) {
			return ErrBadState
		}
	default:
		return ErrBadState
	}
	if err := s.store.Workspace(p.WorkspaceID).SetConversationState(ctx, convID, state, until, p.owns().Agent, now); err != nil {
		return mapErr(err)
	}
	s.Changed(ctx, p.WorkspaceID, convID)
	if state == store.StateSnoozed {
		s.snooze.wake()
	}
	return nil
}

// Infos renders conversations of one workspace as clients see them.
func (s *Service) Infos(ctx context.Context, workspaceID string, cs []store.Conversation) ([]protocol.ConversationInfo, error) {
	return s.infos(ctx, s.store.Workspace(workspaceID), cs)
}
