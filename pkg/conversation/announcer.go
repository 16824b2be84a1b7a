package conversation

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Telling a change of owner, at least once. The commit that assigns or
// moves a conversation writes an announcement (store/announce.go); the
// node that committed tells it at once (engineNode.joined, transferred)
// and deletes it. When that fails (the store or the bus failed right
// after the commit, or the node died), the announcer of some node leases
// the announcement once it is due and tells it again until it is told.
// Telling twice is harmless: the conversation frame is its current state,
// and each notice is stored once under a fixed client id and published
// again on a retry (receivers drop a seq they have).

const (
	// announceTick is how often the announcer looks for announcements
	// the fast path left.
	announceTick = 500 * time.Millisecond
	// announceLease is how long a node holds an announcement it tells;
	// one that dies holding it leaves it to another after this.
	announceLease = 30 * time.Second
	announceBatch = 50
)

// errStillOffered postpones a join whose claim is an offer not yet
// accepted: it is told when accepted, or, declined, becomes stale.
var errStillOffered = errors.New("the conversation is still offered")

type announcer struct {
	stop, done chan struct{}
	once       sync.Once // Stop may be called twice
}

func newAnnouncer() *announcer {
	return &announcer{stop: make(chan struct{}), done: make(chan struct{})}
}

func (a *announcer) close() {
	a.once.Do(func() { close(a.stop) })
	<-a.done
}

// runAnnouncer tells, until Stop, the announcements the fast path left.
func (s *Service) runAnnouncer() {
	defer close(s.announcer.done)
	t := time.NewTicker(announceTick)
	defer t.Stop()
	for {
		select {
		case <-s.announcer.stop:
			return
		case <-t.C:
		}
		s.retellDue(context.Background())
	}
}

// retellDue tells the due announcements again, each leased to this node
// while it does.
func (s *Service) retellDue(ctx context.Context) {
	now := s.now()
	due, err := s.store.ClaimAnnouncements(ctx, now, now.Add(announceLease), announceBatch)
	if err != nil {
		s.log.Warn("announcer: cannot read the announcements; next try soon", "err", err)
		return
	}
	for _, a := range due {
		err := s.retell(ctx, a)
		if err == nil {
			err = s.store.Workspace(a.WorkspaceID).Announced(ctx, a.ID, "", "", "")
			if err == nil {
				continue
			}
		}
		wait := min(time.Second<<min(a.Attempts, 5), announceLease)
		if errors.Is(err, errStillOffered) {
			wait = time.Second
		} else {
			s.log.Warn("announcer: not told; trying again", "conversation", a.ConversationID, "kind", a.Kind, "attempts", a.Attempts+1, "err", err)
		}
		if err := s.store.AnnouncementRetry(ctx, a.ID, s.now().Add(wait)); err != nil {
			s.log.Warn("announcer: cannot release the announcement; due again when its lease ends", "conversation", a.ConversationID, "err", err)
		}
	}
}

// retell tells announcement a as it applies now.
func (s *Service) retell(ctx context.Context, a store.Announcement) error {
	sc := s.store.Workspace(a.WorkspaceID)
	c, err := sc.Conversation(ctx, a.ConversationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile: nobody to tell
	}
	if err != nil {
		return err
	}
	if c.Status != protocol.ConversationOpen || c.AgentID == nil || *c.AgentID != a.AgentID {
		// Undone or overtaken since (an offer declined, a later move, a
		// close): its clients need the conversation as it is now; a later
		// change tells its own notice.
		return s.announceConversation(ctx, sc, c)
	}
	switch a.Kind {
	case store.AnnounceJoined:
		if s.router.offeredTo(c.ID) == a.AgentID {
			return errStillOffered
		}
		return s.tellJoined(ctx, a.WorkspaceID, c.ID, a.AgentID)
	case store.AnnounceTransferred:
		to, from := agentName(ctx, sc, a.AgentID, "another agent"), agentName(ctx, sc, a.FromAgentID, "another agent")
		// Who moved it (the agent or a supervisor) is the fast path's to
		// say; the retelling names the move only.
		return s.tellTransferred(ctx, a.WorkspaceID, c.ID, a.ID, to, "The chat moved from "+from+" to "+to)
	}
	return nil
}

// tellJoined tells the visitor and the agents that agentID owns convID
// now: the conversation as it is, and a notice that the agent joined.
func (s *Service) tellJoined(ctx context.Context, ws, convID, agentID string) error {
	if err := s.changed(ctx, ws, convID); err != nil {
		return err
	}
	name := agentName(ctx, s.store.Workspace(ws), agentID, "An agent")
	return s.systemOnce(ctx, ws, convID, "sys:join:"+agentID, "", Notice(NoticeJoined, name))
}

// tellTransferred tells a move (announcement id): the conversation as it
// is, the visitor who they talk to now, the agents what moved.
func (s *Service) tellTransferred(ctx context.Context, ws, convID string, id int64, toName, moved string) error {
	if err := s.changed(ctx, ws, convID); err != nil {
		return err
	}
	n := strconv.FormatInt(id, 10)
	if err := s.systemOnce(ctx, ws, convID, "sys:transfer:"+n, protocol.AudienceVisitor, Notice(NoticeTransferred, toName)); err != nil {
		return err
	}
	return s.systemOnce(ctx, ws, convID, "sys:transfer-agent:"+n, protocol.AudienceAgent, moved)
}

// systemOnce stores a system notice as System does and, when an earlier
// attempt stored it already, publishes it again: that attempt may have
// failed between its commit and its publication.
func (s *Service) systemOnce(ctx context.Context, ws, convID, clientID, audience, body string) error {
	a, err := s.append(ctx, ws, store.Message{ConversationID: convID, ClientID: clientID, AuthorKind: protocol.AuthorSystem, Body: body,
		Audience: audience}, store.Require{})
	if err != nil {
		return mapErr(err)
	}
	if a.Duplicate {
		s.publishMessage(ctx, ws, a.Message)
	}
	return nil
}

// agentName is the agent's name, or fallback when it cannot be read (a
// notice is better told with a generic name than not told).
func agentName(ctx context.Context, sc *store.Scoped, id, fallback string) string {
	if a, err := sc.Agent(ctx, id); err == nil {
		return a.Name
	}
	return fallback
}
