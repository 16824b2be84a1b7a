package conversation

import (
	"context"
	"errors"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Telling clients: a conversation's state as they see it (ConversationInfo)
// announced to its visitor and the workspace's agents, and the visitor's
// presence.

// Changed announces a conversation's current state to its visitor and the
// workspace's agents.
func (s *Service) Changed(ctx context.Context, workspaceID, convID string) {
	if err := s.changed(ctx, workspaceID, convID); err != nil {
		s.log.Warn("announce conversation", "conversation", convID, "err", err)
	}
}

// changed is Changed, reporting a failure to read what it announces.
func (s *Service) changed(ctx context.Context, workspaceID, convID string) error {
	sc := s.store.Workspace(workspaceID)
	c, err := sc.Conversation(ctx, convID)
	if err != nil {
		return err
	}
	return s.announceConversation(ctx, sc, c)
}

// announceConversation sends c, as read, to its visitor and the agents
// (the router's notifier).
func (s *Service) announceConversation(ctx context.Context, sc *store.Scoped, c store.Conversation) error {
	info, err := s.info(ctx, sc, c)
	if err != nil {
		return err
	}
	s.announce(ctx, info, c.WorkspaceID)
	return nil
}

func (s *Service) announce(ctx context.Context, info protocol.ConversationInfo, workspaceID string) {
	frame := mustJSON(protocol.Conversation{Envelope: protocol.Envelope{Type: protocol.TypeConversation}, Conversation: info})
	s.publish(ctx, bus.VisitorTopic(info.VisitorID), frame)
	s.publish(ctx, bus.AgentsTopic(workspaceID), frame)
}

// publish sends what is already stored: the request that stored it may be
// cancelled meanwhile (a closed socket, a tick's deadline), but its
// publication must still go out, so it does not inherit the cancellation.
func (s *Service) publish(ctx context.Context, topic string, frame []byte) {
	if err := s.bus.Publish(context.WithoutCancel(ctx), topic, frame); err != nil {
		s.log.Warn("bus publish failed; clients will resume from the store", "topic", topic, "err", err)
	}
}

// info renders a conversation for clients, with visitor and agent names.
func (s *Service) info(ctx context.Context, sc *store.Scoped, c store.Conversation) (protocol.ConversationInfo, error) {
	infos, err := s.infos(ctx, sc, []store.Conversation{c})
	if err != nil {
		return protocol.ConversationInfo{}, err
	}
	return infos[0], nil
}

func (s *Service) infos(ctx context.Context, sc *store.Scoped, cs []store.Conversation) ([]protocol.ConversationInfo, error) {
	names := map[string]string{}
	visitors := map[string]store.Visitor{}
	out := make([]protocol.ConversationInfo, 0, len(cs))
	for _, c := range cs {
		info := protocol.ConversationInfo{
			ID: c.ID, Status: c.Status, VisitorID: c.VisitorID, LastSeq: c.LastSeq,
			CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, LastBody: c.LastBody,
			Language: c.Language, Skill: c.Skill, Team: c.Team, Priority: c.Priority,
			TransferNote: c.TransferNote, ContactName: c.ContactName, ContactEmail: c.ContactEmail,
			RoutingSummary: c.RoutingSummary, State: c.InboxState, SnoozedUntil: c.SnoozedUntil,
			CsatRating: c.CsatRating, CsatComment: c.CsatComment,
			VisitorReadSeq: c.VisitorReadSeq, AgentReadSeq: c.AgentReadSeq,
		}
		if c.Status == protocol.ConversationOpen && c.AgentID != nil && s.router.offeredTo(c.ID) == *c.AgentID {
			// Offered, not yet accepted: still waiting as far as clients
			// are concerned (the store counts it against the agent).
			info.Status = protocol.ConversationQueued
			c.AgentID = nil
		}
		if v, ok := visitors[c.VisitorID]; ok {
			setVisitor(&info, v)
		} else if v, err := sc.Visitor(ctx, c.VisitorID); err == nil {
			visitors[c.VisitorID] = v
			setVisitor(&info, v)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if c.AgentID != nil {
			info.AgentID = *c.AgentID
			if n, ok := names["a:"+*c.AgentID]; ok {
				info.AgentName = n
			} else if a, err := sc.Agent(ctx, *c.AgentID); err == nil {
				info.AgentName, names["a:"+a.ID] = a.Name, a.Name
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// setVisitor fills in what a conversation shows of its visitor.
func setVisitor(info *protocol.ConversationInfo, v store.Visitor) {
	info.VisitorName = v.Name
	info.VisitorEmail, info.VisitorPhone = v.Email, v.Phone
	if custom := v.Custom(); len(custom) > 0 {
		info.VisitorFields = custom
	}
	if v.Presence != "" {
		seen := v.LastSeenAt.UTC()
		info.VisitorPresence, info.VisitorSeenAt = v.Presence, &seen
	}
}

// VisitorPresence records that a visitor is online, away or gone and
// tells the agents of the visitor's conversations that are not closed.
func (s *Service) VisitorPresence(ctx context.Context, workspaceID, visitorID, presence string) error {
	sc := s.store.Workspace(workspaceID)
	if err := sc.SetVisitorPresence(ctx, visitorID, presence, s.now().UTC()); err != nil {
		return mapErr(err)
	}
	cs, err := sc.ConversationsOfVisitor(ctx, visitorID, 20)
	if err != nil {
		return mapErr(err)
	}
	for _, c := range cs {
		if c.Status == protocol.ConversationClosed {
			continue
		}
		info, err := s.info(ctx, sc, c)
		if err != nil {
			return mapErr(err)
		}
		s.announce(ctx, info, workspaceID)
	}
	return nil
}
