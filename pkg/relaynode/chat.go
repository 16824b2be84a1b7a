package relaynode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/fleet"
	"github.com/parleychat/parley/pkg/keyring"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/relay"
	"github.com/parleychat/parley/pkg/store"
)

// Chat is what a relay needs to commit and fan out the chat of its data
// channels itself: the fleet's conversation service (PostgreSQL) and bus
// (Redis). Without it a relay forwards every frame to signaling.
type Chat struct {
	Conv *conversation.Service
	Bus  bus.Bus
	// Limiter enforces Rules' message limits as signaling does (the
	// per-visitor limit is shared through Redis); nil: no limits.
	Limiter ratelimit.Limiter
	Rules   ratelimit.Rules
}

// chatWait bounds one send's commit, as signaling's handleTimeout does.
const chatWait = 15 * time.Second

// OpenChat opens the store and bus named by cfg (PARLEY_DATABASE_URL,
// PARLEY_REDIS_URL, PARLEY_ENCRYPTION_KEYS); nil when they are not set.
// close releases them.
func OpenChat(ctx context.Context, cfg config.Relay, log *slog.Logger) (chat *Chat, close func(), err error) {
	if cfg.DatabaseURL == "" {
		return nil, func() {}, nil
	}
	kr, err := keyring.Parse(cfg.EncryptionKeys)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyring.EnvVar, err)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, store.WithSealer(kr))
	if err != nil {
		return nil, nil, err
	}
	rdb, err := fleet.Redis(cfg.RedisURL)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	b := bus.NewRedis(rdb, bus.RedisOptions{Logger: log})
	chat, stop := newChat(st, b, fleet.Limiter(cfg.RateLimits, rdb, log), log)
	return chat, func() { stop(); b.Close(); rdb.Close(); st.Close() }, nil
}

// newChat is the relay's conversation service on the fleet's store and bus.
// It never routes: signaling's lease holder does (one engine per
// workspace); the relay only forwards what routing must hear.
func newChat(st *store.Store, b bus.Bus, limiter ratelimit.Limiter, log *slog.Logger) (*Chat, func()) {
	conv := conversation.New(conversation.Options{Store: st, Bus: b, Logger: log,
		Routing: conversation.RoutingOptions{Lease: forwardOnly{}}})
	return &Chat{Conv: conv, Bus: b, Limiter: limiter, Rules: ratelimit.DefaultRules()}, conv.Stop
}

// forwardOnly is a routing lease a relay never gets: its router holds no
// workspace, so it loads no queue, offers and claims nothing, and forwards
// every routing input (and request) to the signaling node that holds the
// workspace's lease.
type forwardOnly struct{}

func (forwardOnly) Hold(context.Context, string, string, time.Duration) (bool, error) {
	return false, nil
}

func (forwardOnly) Release(context.Context, string, string) error { return nil }

// Owner is who a peer belongs to: the participant of the connection
// (whose chat a relay with Chat commits) and the conversations it chats in
// now, so that a conversation's participants share a relay. Connection is
// signaling's id of the connection, the subject of its per-connection
// message limit: a relay that commits the peer's sends counts them under
// it, so the WebSocket and the data channel share one allowance (through
// the fleet's Redis limiter).
type Owner struct {
	Participant   conversation.Participant
	Conversations []string
	Connection    string
}

// busResyncer returns the chat bus's resync hook, if it has one.
func (c *Chat) busResyncer() (bus.Resyncer, bool) {
	if c == nil {
		return nil, false
	}
	r, ok := c.Bus.(bus.Resyncer)
	return r, ok
}

// participant is conversation.Participant on the control link.
type participant struct {
	Kind        string `json:"kind"`
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	WorkspaceID string `json:"workspace_id"`
	SiteID      string `json:"site_id,omitempty"`
	Role        string `json:"role,omitempty"`
	Session     string `json:"-"` // signaling's own: it does not travel
}

func wireParticipant(p conversation.Participant) *participant {
	if p.ID == "" {
		return nil
	}
	w := participant(p)
	return &w
}

// ChatPublication reports whether a bus publication travels on a data
// channel: messages and typing, whose loss (a channel dying with frames in
// flight) resume repairs or nobody minds. Conversation and queue updates
// stay on the WebSocket.
func ChatPublication(payload []byte) bool {
	t := publicationType(payload)
	return t == protocol.TypeMessage || t == protocol.TypeTyping
}

// publicationType is a publication's frame type ("" when it does not
// decode).
func publicationType(payload []byte) string {
	var env struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(payload, &env) != nil {
		return ""
	}
	return env.Type
}

// chatFrame handles a browser's send or typing on a relay with Chat:
// committed here, acked over the data channel after the commit. Other
// frames (and frames that do not decode) go to signaling; false.
func (np *nodePeer) chatFrame(l *nodeLink, data []byte) bool {
	chat := l.n.chat
	if chat == nil || np.owner == nil {
		return false
	}
	f, err := protocol.Decode(data)
	if err != nil {
		return false // signaling answers with the decode error
	}
	ctx, cancel := context.WithTimeout(context.Background(), chatWait)
	defer cancel()
	var reply any
	switch f := f.(type) {
	case *protocol.Send:
		start := time.Now()
		ref := f.Ref
		if ref == "" {
			ref = f.ClientID
		}
		if ok, retry := np.allow(ctx, chat, chat.Rules.MessagePerConnection, np.conn); !ok {
			reply = conversation.RateLimitedFrame(ref, retry)
			break
		}
		if np.owner.Kind == protocol.AuthorVisitor {
			if ok, retry := np.allow(ctx, chat, chat.Rules.MessagePerVisitor, np.owner.ID); !ok {
				reply = conversation.RateLimitedFrame(ref, retry)
				break
			}
		}
		ack, err := chat.Conv.Send(ctx, *np.owner, *f)
		if err != nil {
			reply = conversation.ErrorFrame(err, ref)
			break
		}
		ack.Ref = ref
		l.n.met.acks.Observe(time.Since(start).Seconds())
		reply = ack
	case *protocol.Typing:
		if ok, retry := np.allow(ctx, chat, chat.Rules.MessagePerConnection, np.conn); !ok {
			reply = conversation.RateLimitedFrame(f.Ref, retry)
			break
		}
		if err := chat.Conv.Typing(ctx, *np.owner, *f); err != nil {
			reply = conversation.ErrorFrame(err, f.Ref)
		}
	default:
		return false
	}
	if reply != nil {
		b, _ := json.Marshal(reply)
		np.sendFrame(b)
	}
	return true
}

// allow checks a message limit; a failing limiter lets the frame through
// (a broken limiter must not take chat down), as on signaling.
func (np *nodePeer) allow(ctx context.Context, chat *Chat, rule ratelimit.Rule, subject string) (bool, time.Duration) {
	if chat.Limiter == nil {
		return true, 0
	}
	res, err := rule.Allow(ctx, chat.Limiter, subject)
	if err != nil {
		return true, 0
	}
	return res.Allowed, res.RetryAfter
}

// sendFrame writes a frame on the chat channel; a frame that cannot go
// ends the peer, so the client resends and resumes over its WebSocket.
func (np *nodePeer) sendFrame(b []byte) {
	if err := np.peer.Send(b); err != nil {
		np.peer.Close()
	}
}

// send writes a frame for the browser: typing (signal) on the unordered
// signals channel while it takes it, anything else, or typing it cannot
// take (not open, full), on the chat channel, which is always correct.
func (np *nodePeer) send(data []byte, signal bool) error {
	if signal && np.peer.SendSignal(data) == nil {
		return nil
	}
	return np.peer.Send(data)
}

// subscribe delivers the owner's chat publications on the data channel:
// a workspace's for an agent, a visitor's conversations (and, through its
// visitor topic, those it starts later) for a visitor.
func (np *nodePeer) subscribe(l *nodeLink) error {
	p := np.owner
	if p.Kind != protocol.AuthorVisitor {
		return np.follow(l, bus.AgentsTopic(p.WorkspaceID))
	}
	if err := np.follow(l, bus.VisitorTopic(p.ID)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), chatWait)
	defer cancel()
	convs, err := l.n.chat.Conv.Visible(ctx, *p)
	if err != nil {
		return err
	}
	for _, c := range convs {
		if err := np.follow(l, bus.ConversationTopic(c.ID)); err != nil {
			return err
		}
	}
	return nil
}

func (np *nodePeer) follow(l *nodeLink, topic string) error {
	np.mu.Lock()
	_, have := np.subs[topic]
	gone := np.subs == nil
	np.mu.Unlock()
	if have || gone {
		return nil
	}
	un, err := l.n.chat.Bus.Subscribe(topic, func(_ string, payload []byte) { np.publication(l, topic, payload) })
	if err != nil {
		return err
	}
	np.mu.Lock()
	defer np.mu.Unlock()
	if _, have := np.subs[topic]; have || np.subs == nil {
		un()
		return nil
	}
	np.subs[topic] = un
	return nil
}

// unsubscribe ends the peer's subscriptions (it closed).
func (np *nodePeer) unsubscribe() {
	np.mu.Lock()
	subs := np.subs
	np.subs = nil
	np.mu.Unlock()
	for _, un := range subs {
		un()
	}
}

func (np *nodePeer) publication(l *nodeLink, topic string, payload []byte) {
	if np.owner.Kind == protocol.AuthorVisitor && topic == bus.VisitorTopic(np.owner.ID) {
		var f protocol.Conversation
		if json.Unmarshal(payload, &f) == nil && f.Type == protocol.TypeConversation {
			go np.follow(l, bus.ConversationTopic(f.Conversation.ID))
		}
	}
	typ := publicationType(payload)
	if typ != protocol.TypeMessage && typ != protocol.TypeTyping { // ChatPublication
		return
	}
	switch err := np.send(payload, typ == protocol.TypeTyping); {
	case err == nil:
		l.n.met.frames.WithLabelValues("out").Inc()
	case errors.Is(err, relay.ErrNotOpen):
		// Not open yet (signaling delivers over the WebSocket until it
		// is) or closing (the client resumes).
	default:
		np.peer.Close()
	}
}
