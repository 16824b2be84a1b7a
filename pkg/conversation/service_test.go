package conversation_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

type fixture struct {
	svc     *conversation.Service
	st      *store.Store
	bus     *bus.Memory
	visitor conversation.Participant
	agent   conversation.Participant
}

func setup(t *testing.T, st *store.Store) *fixture {
	ctx := context.Background()
	ws := store.Workspace{ID: uuid.NewString(), Name: "Acme"}
	site := store.Site{ID: uuid.NewString(), Name: "acme", Secret: "x"}
	ag := store.Agent{ID: uuid.NewString(), Email: uuid.NewString() + "@a.test", Name: "Ann", Role: "agent", PasswordHash: "x", Status: "online", Capacity: 2}
	if err := st.CreateWorkspace(ctx, ws, site, ag); err != nil {
		t.Fatal(err)
	}
	v, err := st.Workspace(ws.ID).CreateVisitor(ctx, store.Visitor{ID: uuid.NewString(), SiteID: site.ID, Name: "Vic"})
	if err != nil {
		t.Fatal(err)
	}
	b := bus.NewMemory()
	svc := conversation.New(conversation.Options{Store: st, Bus: b})
	t.Cleanup(svc.Stop)
	return &fixture{
		svc: svc, st: st, bus: b,
		visitor: conversation.Participant{Kind: protocol.AuthorVisitor, ID: v.ID, Name: v.Name, WorkspaceID: ws.ID, SiteID: site.ID},
		agent:   conversation.Participant{Kind: protocol.AuthorAgent, ID: ag.ID, Name: ag.Name, WorkspaceID: ws.ID, Role: "agent"},
	}
}

func (fx *fixture) newVisitor(t *testing.T) conversation.Participant {
	t.Helper()
	v, err := fx.st.Workspace(fx.visitor.WorkspaceID).CreateVisitor(context.Background(), store.Visitor{ID: uuid.NewString(), SiteID: fx.visitor.SiteID, Name: "V"})
	if err != nil {
		t.Fatal(err)
	}
	p := fx.visitor
	p.ID = v.ID
	return p
}

func each(t *testing.T, f func(t *testing.T, fx *fixture)) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) { f(t, setup(t, st)) })
	}
}

func TestSendAcksAfterCommitAndPublishes(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		// Nobody is connected: the conversation is offline, and the
		// visitor may still write (an offline message).
		conv, err := fx.svc.Start(ctx, fx.visitor, "en")
		if err != nil || conv.Status != protocol.ConversationOffline {
			t.Fatalf("start: %+v %v", conv, err)
		}
		var got []protocol.Message
		var mu sync.Mutex
		fx.bus.Subscribe(bus.ConversationTopic(conv.ID), func(_ string, p []byte) {
			var m protocol.Message
			json.Unmarshal(p, &m)
			if m.Type == protocol.TypeMessage {
				mu.Lock()
				got = append(got, m)
				mu.Unlock()
			}
		})
		ack, err := fx.svc.Send(ctx, fx.visitor, protocol.Send{ClientID: "c1", Conversation: conv.ID, Body: "hello"})
		if err != nil || ack.Seq != 1 || ack.ClientID != "c1" {
			t.Fatalf("ack %+v %v", ack, err)
		}
		again, err := fx.svc.Send(ctx, fx.visitor, protocol.Send{ClientID: "c1", Conversation: conv.ID, Body: "hello"})
		if err != nil || again != ack {
			t.Fatalf("resend ack %+v %v, want %+v", again, err, ack)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 1 || got[0].Seq != 1 || got[0].Body != "hello" || got[0].Author.Kind != protocol.AuthorVisitor {
			t.Fatalf("published %+v", got)
		}
		// Starting again returns the same open conversation.
		again2, _ := fx.svc.Start(ctx, fx.visitor, "en")
		if again2.ID != conv.ID {
			t.Fatal("second start made a second conversation")
		}
	})
}

func TestQueueWhileFullThenAssignedWhenCapacityFrees(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		if _, err := fx.svc.AgentConnected(ctx, fx.agent); err != nil {
			t.Fatal(err)
		}
		var convs []protocol.ConversationInfo
		var third conversation.Participant
		for i := 0; i < 3; i++ {
			v := fx.newVisitor(t)
			c, err := fx.svc.Start(ctx, v, "en")
			if err != nil {
				t.Fatal(err)
			}
			convs, third = append(convs, c), v
		}
		if convs[0].Status != protocol.ConversationOpen || convs[1].Status != protocol.ConversationOpen || convs[2].Status != protocol.ConversationQueued {
			t.Fatalf("capacity 2: want open, open, queued; got %s %s %s", convs[0].Status, convs[1].Status, convs[2].Status)
		}
		q, ok := fx.svc.Router().Position(context.Background(), fx.visitor.WorkspaceID, convs[2].ID)
		if !ok || q.Position != 1 || q.EstimatedWaitSeconds <= 0 {
			t.Fatalf("queue position %+v %v", q, ok)
		}
		var frames atomic.Int32
		fx.bus.Subscribe(bus.VisitorTopic(third.ID), func(_ string, p []byte) {
			var e protocol.Envelope
			json.Unmarshal(p, &e)
			if e.Type == protocol.TypeConversation {
				frames.Add(1)
			}
		})
		if err := fx.svc.Close(ctx, fx.agent, convs[0].ID); err != nil {
			t.Fatal(err)
		}
		c, _ := fx.st.Workspace(fx.agent.WorkspaceID).Conversation(ctx, convs[2].ID)
		if c.Status != protocol.ConversationOpen || c.AgentID == nil || *c.AgentID != fx.agent.ID || frames.Load() == 0 {
			t.Fatalf("not assigned after a close: %+v (frames %d)", c, frames.Load())
		}
		hist, _ := fx.svc.History(ctx, third, convs[2].ID, 0)
		if len(hist) != 1 || hist[0].Author.Kind != protocol.AuthorSystem {
			t.Fatalf("want a join notice, got %+v", hist)
		}
	})
}

func TestVisitorCannotReachAnotherVisitorsConversation(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		conv, _ := fx.svc.Start(ctx, fx.visitor, "en")
		intruder := fx.visitor
		intruder.ID = uuid.NewString()
		if _, err := fx.svc.Send(ctx, intruder, protocol.Send{ClientID: "x", Conversation: conv.ID, Body: "hi"}); !errors.Is(err, conversation.ErrNotFound) {
			t.Fatalf("send: %v", err)
		}
		if _, err := fx.svc.History(ctx, intruder, conv.ID, 0); !errors.Is(err, conversation.ErrNotFound) {
			t.Fatalf("history: %v", err)
		}
		other := fx.agent
		other.WorkspaceID = uuid.NewString()
		if _, err := fx.svc.History(ctx, other, conv.ID, 0); !errors.Is(err, conversation.ErrNotFound) {
			t.Fatalf("other workspace: %v", err)
		}
	})
}

// A store outage: writes fail, the sender gets no ack but a retryable error;
// after recovery the resend is stored exactly once.
func TestStoreOutageThenRecovery(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		conv, _ := fx.svc.Start(ctx, fx.visitor, "en")
		var down atomic.Bool
		outage := errors.New("injected outage: database unreachable")
		cb := fx.st.Gorm().Callback()
		fail := func(db *gorm.DB) {
			if down.Load() {
				db.AddError(outage)
			}
		}
		cb.Create().Before("gorm:create").Register("test:outage", fail)
		cb.Raw().Before("gorm:raw").Register("test:outage", fail)
		cb.Query().Before("gorm:query").Register("test:outage", fail)
		// Appends run prepared statements outside gorm: the database
		// itself refuses their inserts (a trigger) while down.
		up := refuseInserts(t, fx.st)

		down.Store(true)
		for i := 0; i < 3; i++ {
			_, err := fx.svc.Send(ctx, fx.visitor, protocol.Send{ClientID: "during", Conversation: conv.ID, Body: "are you there?"})
			if err == nil || errors.Is(err, conversation.ErrNotFound) || errors.Is(err, conversation.ErrClosed) {
				t.Fatalf("send during outage: %v (want a retryable error)", err)
			}
		}
		down.Store(false)
		up()
		ack, err := fx.svc.Send(ctx, fx.visitor, protocol.Send{ClientID: "during", Conversation: conv.ID, Body: "are you there?"})
		if err != nil || ack.Seq != 1 {
			t.Fatalf("after recovery: %+v %v", ack, err)
		}
		again, _ := fx.svc.Send(ctx, fx.visitor, protocol.Send{ClientID: "during", Conversation: conv.ID, Body: "are you there?"})
		hist, _ := fx.svc.History(ctx, fx.visitor, conv.ID, 0)
		if again.Seq != 1 || len(hist) != 1 {
			t.Fatalf("stored %d times", len(hist))
		}
	})
}

// refuseInserts makes the database refuse every insert of a message (a
// trigger raising an error), as a failing disk would; the returned func
// removes the trigger.
func refuseInserts(t *testing.T, st *store.Store) (restore func()) {
	t.Helper()
	create := []string{`CREATE TRIGGER test_outage BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'injected outage'); END`}
	drop := []string{`DROP TRIGGER test_outage`}
	if st.Dialect() == "postgres" {
		create = []string{
			`CREATE FUNCTION test_outage() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected outage'; END $$ LANGUAGE plpgsql`,
			`CREATE TRIGGER test_outage BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION test_outage()`,
		}
		drop = []string{`DROP TRIGGER test_outage ON messages`, `DROP FUNCTION test_outage()`}
	}
	exec := func(qs []string) {
		for _, q := range qs {
			if err := st.Gorm().Exec(q).Error; err != nil {
				t.Fatal(err)
			}
		}
	}
	exec(create)
	return func() { exec(drop) }
}

func TestCloseFreesCapacityAndRefusesMessages(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		fx.svc.AgentConnected(ctx, fx.agent)
		conv, _ := fx.svc.Start(ctx, fx.visitor, "en")
		if conv.Status != protocol.ConversationOpen {
			t.Fatalf("want open with an online agent, got %s", conv.Status)
		}
		if _, err := fx.svc.Send(ctx, fx.visitor, protocol.Send{ClientID: "q", Conversation: conv.ID, Body: "hello"}); err != nil {
			t.Fatal(err)
		}
		if err := fx.svc.Close(ctx, fx.agent, conv.ID); err != nil {
			t.Fatal(err)
		}
		// The close computed its report figures, of its last message.
		var stat store.ConversationStat
		var c store.Conversation
		if err := fx.st.Gorm().Where("conversation_id = ?", conv.ID).Take(&stat).Error; err != nil {
			t.Fatal(err)
		}
		if err := fx.st.Gorm().Where("id = ?", conv.ID).Take(&c).Error; err != nil {
			t.Fatal(err)
		}
		if stat.Seq != c.LastSeq || stat.VisitorMessages != 1 || stat.LeaseUntil != nil {
			t.Errorf("figures %+v of a conversation at seq %d", stat, c.LastSeq)
		}
		if _, err := fx.svc.Send(ctx, fx.visitor, protocol.Send{ClientID: "late", Conversation: conv.ID, Body: "wait"}); !errors.Is(err, conversation.ErrClosed) {
			t.Fatalf("send after close: %v", err)
		}
		next, _ := fx.svc.Start(ctx, fx.visitor, "en")
		if next.ID == conv.ID {
			t.Fatal("start after close must open a new conversation")
		}
	})
}
