package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
)

// handleTimeout bounds one frame's work (a store commit) so a stuck database
// cannot hold a connection forever; the client gets a retryable error.
const handleTimeout = 15 * time.Second

// handle decodes and serves one client frame.
func (c *conn) handle(data []byte) {
	f, err := protocol.Decode(data)
	if err != nil {
		var de *protocol.DecodeError
		if errors.As(err, &de) {
			c.reply(de.Frame())
		}
		return
	}
	c.srv.rtcMetrics.frames.WithLabelValues(c.via, "in", frameType(f)).Inc()
	if !c.allowedHere(f) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), handleTimeout)
	defer cancel()
	c.srv.metrics.frames.WithLabelValues(frameType(f)).Inc()
	// Every frame counts, hello too: a repeated hello is the most
	// expensive frame there is (store reads, subscriptions, resumes).
	// Resumes have a budget of their own, so chat cannot starve gap repair.
	rule := c.srv.rules.MessagePerConnection
	if _, ok := f.(*protocol.Resume); ok {
		rule = c.srv.rules.ResumePerConnection
	}
	if ok, retry := c.srv.allow(ctx, rule, c.id); !ok {
		c.reply(rateLimited(refOf(f), retry))
		return
	}
	c.mu.Lock()
	helloed := c.helloed
	c.mu.Unlock()
	if h, ok := f.(*protocol.Hello); ok {
		c.hello(ctx, h)
		return
	}
	if !helloed {
		c.reply(protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError}, Code: protocol.CodeNoHello, Message: "send hello first"})
		return
	}
	switch f := f.(type) {
	case *protocol.Resume:
		c.resumeAll(ctx, f.Conversations, nil, f.Ref)
	case *protocol.Start:
		// Subscribed before routing can publish on it (the join notice).
		info, err := c.srv.conv.StartWith(ctx, c.p, c.locale, c.srv.opening(ctx, c.p, f.Trigger), func(id string) error {
			return c.subscribe(bus.ConversationTopic(id))
		})
		if err != nil {
			c.reply(errorFrame(err, f.Ref))
			return
		}
		c.reply(protocol.Conversation{Envelope: protocol.Envelope{Type: protocol.TypeConversation, Ref: f.Ref}, Conversation: info})
		if info.Status == protocol.ConversationQueued {
			if q, ok := c.srv.conv.Router().Position(ctx, c.p.WorkspaceID, info.ID); ok {
				c.reply(q)
			}
		}
	case *protocol.Send:
		start := time.Now()
		ref := f.Ref
		if ref == "" {
			ref = f.ClientID
		}
		if c.p.Kind == protocol.AuthorVisitor {
			if ok, retry := c.srv.allow(ctx, c.srv.rules.MessagePerVisitor, c.p.ID); !ok {
				c.reply(rateLimited(ref, retry))
				return
			}
		}
		ack, err := c.srv.conv.Send(ctx, c.p, *f)
		if err != nil {
			c.reply(errorFrame(err, ref))
			return
		}
		ack.Ref = ref
		c.srv.metrics.ackSeconds.Observe(time.Since(start).Seconds())
		c.reply(ack)
	case *protocol.Typing:
		if err := c.srv.conv.Typing(ctx, c.p, *f); err != nil {
			c.reply(errorFrame(err, f.Ref))
		}
	case *protocol.Read:
		if err := c.srv.conv.Read(ctx, c.p, *f); err != nil {
			c.reply(errorFrame(err, f.Ref))
		}
	case *protocol.Status:
		if c.p.Kind == protocol.AuthorVisitor {
			// The widget's page shown (online) or hidden (away).
			if f.Status != protocol.StatusOnline && f.Status != protocol.StatusAway {
				c.reply(protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError, Ref: f.Ref}, Code: protocol.CodeInvalid,
					Message: `a visitor's status is "online" or "away"`})
				return
			}
			c.srv.visitorPresence(ctx, c, true, f.Status == protocol.StatusAway)
			return
		}
		if err := c.srv.conv.SetStatus(ctx, c.p, f.Status); err != nil {
			c.reply(errorFrame(err, f.Ref))
		}
	case *protocol.Close:
		if err := c.srv.conv.Close(ctx, c.p, f.Conversation); err != nil {
			c.reply(errorFrame(err, f.Ref))
		}
	case *protocol.Ping:
		c.reply(protocol.Pong{Envelope: protocol.Envelope{Type: protocol.TypePong, Ref: f.Ref}})
	case *protocol.RTCStart, *protocol.RTCAnswer, *protocol.RTCCandidate, *protocol.RTCStop:
		c.handleRTC(f) // rtc.go
	case *protocol.Call:
		c.handleCall(ctx, f) // call.go
	}
}

func (c *conn) hello(ctx context.Context, h *protocol.Hello) {
	if h.V > protocol.Version {
		c.reply(protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError, Ref: h.Ref}, Code: protocol.CodeVersion,
			Message: "this server speaks protocol version 1"})
		return
	}
	c.mu.Lock()
	again := c.helloed
	c.mu.Unlock()
	topic := bus.AgentsTopic(c.p.WorkspaceID)
	if c.p.Kind == protocol.AuthorVisitor {
		topic = bus.VisitorTopic(c.p.ID)
	}
	// Subscribe before reading the store: a message committed in between is
	// then delivered twice (clients drop the duplicate) rather than never.
	if err := c.subscribe(topic); err != nil {
		c.reply(errorFrame(err, h.Ref))
		return
	}
	// A visitor's widget also hears of its site's settings changing.
	if c.p.Kind == protocol.AuthorVisitor && c.p.SiteID != "" {
		if err := c.subscribe(bus.SiteTopic(c.p.SiteID)); err != nil {
			c.reply(errorFrame(err, h.Ref))
			return
		}
	}
	convs, err := c.srv.conv.Visible(ctx, c.p)
	if err != nil {
		c.reply(errorFrame(err, h.Ref))
		return
	}
	if c.p.Kind == protocol.AuthorVisitor {
		for _, cv := range convs {
			if err := c.subscribe(bus.ConversationTopic(cv.ID)); err != nil {
				c.reply(errorFrame(err, h.Ref))
				return
			}
		}
	}
	status := ""
	if c.p.Kind == protocol.AuthorAgent && !again {
		// The session was checked at the upgrade; a sign out (or a
		// disable) between then and this socket's registration closed
		// nothing, since it was not registered yet: check once more.
		// Later ones find the socket registered (revoke.go).
		live, err := c.srv.store.Workspace(c.p.WorkspaceID).LiveSessions(ctx, []string{c.p.Session}, time.Now().UTC())
		if err == nil && !live[c.p.Session] {
			// As revoke.go closes them: the app then finds its
			// session gone and shows the sign-in.
			c.log.Info("agent socket revoked", "reason", revokeSignedOut)
			c.close()
			return
		}
		if status, err = c.srv.conv.AgentConnected(ctx, c.p); err != nil {
			c.reply(errorFrame(err, h.Ref))
			return
		}
	}
	c.mu.Lock()
	c.helloed = true
	c.mu.Unlock()
	if c.p.Kind == protocol.AuthorVisitor && !again {
		c.srv.visitorPresence(ctx, c, true, false)
	}
	c.welcome(protocol.Welcome{
		Envelope: protocol.Envelope{Type: protocol.TypeWelcome, Ref: h.Ref}, V: protocol.Version,
		Session: c.p.ID, Self: c.p.Author(), Status: status, Conversations: convs,
	})
	c.resumeAll(ctx, h.Resume, convs, h.Ref)
	for _, cv := range convs {
		if cv.Status != protocol.ConversationQueued {
			continue
		}
		if q, ok := c.srv.conv.Router().Position(ctx, c.p.WorkspaceID, cv.ID); ok {
			c.reply(q)
		}
	}
}

// resumeAll resumes each conversation of want (id → seq seen). A visitor
// resumes only conversations it owns: those its connection follows or,
// failing that, those the visitor has (mine, or else one read of the
// store for the whole frame). The rest are refused together with one
// not_found, without a store read each: a hello full of made-up ids costs
// no more than an honest one.
func (c *conn) resumeAll(ctx context.Context, want map[string]int64, mine []protocol.ConversationInfo, ref string) {
	if len(want) == 0 {
		return
	}
	if c.p.Kind == protocol.AuthorVisitor {
		owned := map[string]bool{}
		c.mu.Lock()
		for id := range want {
			owned[id] = c.subscribed(bus.ConversationTopic(id))
		}
		c.mu.Unlock()
		for id, ok := range owned {
			if ok {
				continue
			}
			if mine == nil {
				var err error
				if mine, err = c.srv.conv.Visible(ctx, c.p); err != nil {
					c.reply(errorFrame(err, ref))
					return
				}
			}
			for _, cv := range mine {
				if cv.ID == id {
					owned[id] = true
				}
			}
		}
		unknown := 0
		for id, ok := range owned {
			if !ok {
				unknown++
				delete(want, id)
			}
		}
		if unknown > 0 {
			c.reply(protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError, Ref: ref}, Code: protocol.CodeNotFound,
				Message: fmt.Sprintf("%d of the conversations to resume are not yours or do not exist", unknown)})
		}
	}
	for id, after := range want {
		if err := c.resume(ctx, id, after); err != nil {
			c.reply(errorFrame(err, ref))
		}
	}
}

// resume sends every message after `after`, page by page, then synced. A
// visitor's conversation was checked by resumeAll.
func (c *conn) resume(ctx context.Context, convID string, after int64) error {
	if c.p.Kind == protocol.AuthorVisitor {
		if err := c.subscribe(bus.ConversationTopic(convID)); err != nil {
			return err
		}
	}
	for {
		ms, err := c.srv.conv.History(ctx, c.p, convID, after)
		if err != nil {
			return err
		}
		for _, m := range ms {
			c.reply(m)
			after = m.Seq
		}
		if len(ms) < conversation.HistoryPage {
			break
		}
	}
	c.reply(protocol.Synced{Envelope: protocol.Envelope{Type: protocol.TypeSynced}, Conversation: convID, Seq: after})
	return nil
}

func frameType(f any) string {
	switch f.(type) {
	case *protocol.Resume:
		return protocol.TypeResume
	case *protocol.Start:
		return protocol.TypeStart
	case *protocol.Send:
		return protocol.TypeSend
	case *protocol.Typing:
		return protocol.TypeTyping
	case *protocol.Read:
		return protocol.TypeRead
	case *protocol.Status:
		return protocol.TypeStatus
	case *protocol.Close:
		return protocol.TypeClose
	case *protocol.Ping:
		return protocol.TypePing
	case *protocol.Hello:
		return protocol.TypeHello
	}
	return "rtc"
}

func rateLimited(ref string, retry time.Duration) protocol.Error {
	return conversation.RateLimitedFrame(ref, retry)
}

// refOf is the ref to answer a frame with (a send's client id by default).
func refOf(f any) string {
	switch f := f.(type) {
	case *protocol.Send:
		if f.Ref == "" {
			return f.ClientID
		}
		return f.Ref
	case interface{ GetRef() string }:
		return f.GetRef()
	}
	return ""
}
