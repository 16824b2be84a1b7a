package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// The store fails right after an assignment's commit (issue 15, defect
// 1): the join (the conversation open, "Ann joined the chat") cannot be
// told then, and is told once the store is back, within seconds, to the
// visitor and the agents, without anyone reconnecting or asking.
func TestJoinToldAfterTheStoreFailedRightAfterTheClaim(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			fx := newNodeFixtureOn(t, st)
			svc := fx.service(t, RoutingOptions{})
			ctx := context.Background()
			if _, err := svc.AgentConnected(ctx, fx.agent); err != nil {
				t.Fatal(err)
			}
			v := fx.visitor(t)
			visitor := fx.watch(t, bus.VisitorTopic(v.ID))
			agents := fx.watch(t, bus.AgentsTopic(fx.ws))

			// The outage starts when the claim's transaction sets the
			// conversation's agent: from then on, until ended, every
			// statement outside a transaction fails (the claim's own
			// transaction commits).
			var armed, down atomic.Bool
			var failed atomic.Int64
			outage := errors.New("injected outage: database unreachable")
			cb := st.Gorm().Callback()
			arm := func(db *gorm.DB) {
				up, _ := db.Statement.Dest.(map[string]any)
				if _, inTx := db.Statement.ConnPool.(gorm.TxCommitter); inTx && db.Statement.Table == "conversations" && up["agent_id"] != nil && !armed.Load() {
					armed.Store(true)
					down.Store(true)
				}
			}
			fail := func(db *gorm.DB) {
				if _, inTx := db.Statement.ConnPool.(gorm.TxCommitter); down.Load() && !inTx {
					failed.Add(1)
					db.AddError(outage)
				}
			}
			if err := cb.Update().After("gorm:update").Register("test:arm", arm); err != nil {
				t.Fatal(err)
			}
			_ = cb.Create().Before("gorm:create").Register("test:outage", fail)
			_ = cb.Query().Before("gorm:query").Register("test:outage", fail)
			_ = cb.Update().Before("gorm:update").Register("test:outage", fail)
			_ = cb.Delete().Before("gorm:delete").Register("test:outage", fail)
			_ = cb.Raw().Before("gorm:raw").Register("test:outage", fail)
			_ = cb.Row().Before("gorm:row").Register("test:outage", fail)
			t.Cleanup(func() {
				down.Store(false)
				for _, r := range []func() error{
					func() error { return cb.Update().Remove("test:arm") },
					func() error { return cb.Create().Remove("test:outage") },
					func() error { return cb.Query().Remove("test:outage") },
					func() error { return cb.Update().Remove("test:outage") },
					func() error { return cb.Delete().Remove("test:outage") },
					func() error { return cb.Raw().Remove("test:outage") },
					func() error { return cb.Row().Remove("test:outage") },
				} {
					_ = r()
				}
			})

			var convID string
			var conv *frames
			_, err := svc.StartWith(ctx, v, "en", Opening{}, func(id string) error {
				convID = id
				conv = fx.watch(t, bus.ConversationTopic(id))
				return nil
			})
			if !armed.Load() {
				t.Fatalf("the conversation was not claimed (start: %v)", err)
			}
			waitFor(t, "the outage to refuse the join's statements", func() bool { return failed.Load() > 0 })
			if open(visitor, convID) || joinedNotice(conv) {
				t.Fatal("the join was told during the outage")
			}
			down.Store(false) // the store is back
			ended := time.Now()

			waitFor(t, "the visitor to see the conversation open", func() bool { return open(visitor, convID) })
			waitFor(t, "the agents to see the conversation open", func() bool { return open(agents, convID) })
			waitFor(t, "the visitor's conversation to get the join notice", func() bool { return joinedNotice(conv) })
			waitFor(t, "the agents to get the join notice", func() bool { return joinedNotice(agents) })
			t.Logf("told %v after the store came back", time.Since(ended).Round(time.Millisecond))
			hist, err := svc.History(ctx, v, convID, 0)
			if err != nil || len(hist) != 1 {
				t.Fatalf("the notice is stored once: %d messages, %v", len(hist), err)
			}
			waitFor(t, "the announcement to be deleted once told", func() bool {
				var n int64
				return st.Gorm().Table("announcements").Where("conversation_id = ?", convID).Count(&n).Error == nil && n == 0
			})
		})
	}
}

// open reports whether f carries conversation convID open with an agent.
func open(f *frames, convID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.got {
		var c protocol.Conversation
		if json.Unmarshal(p, &c) == nil && c.Type == protocol.TypeConversation && c.Conversation.ID == convID &&
			c.Conversation.Status == protocol.ConversationOpen && c.Conversation.AgentID != "" {
			return true
		}
	}
	return false
}

// joinedNotice reports whether f carries the notice that Ann joined.
func joinedNotice(f *frames) bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.got {
		var m protocol.Message
		if json.Unmarshal(p, &m) == nil && m.Type == protocol.TypeMessage && m.Body == "Ann joined the chat" {
			return true
		}
	}
	return false
}
