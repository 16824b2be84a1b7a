package service

import (
	"context"
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// nextRead reads frames until a read receipt of side comes.
func (c *client) nextRead(side string) protocol.Read {
	for {
		var f protocol.Read
		c.next(protocol.TypeRead, &f)
		if f.Side == side {
			return f
		}
	}
}

// Read receipts both ways: the agent reads the visitor's messages and the
// visitor hears it live (and the agents too); the visitor reads the
// agent's reply and the agent hears it. Cursors are stored, move only
// forward and never past the last message, and come back with the
// conversation's info after a reconnect; a stranger's read is not found.
func TestReadReceipts(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ts := newTestServer(t, st)
			admin := ts.signIn(t, "admin@parley.local", adminPassword)
			ag := admin.socket(t)
			v, _ := ts.visitorOnPage(t, "https://shop.example/")
			conv := v.start()
			v.sendMsg(conv.ID, "v1", "hello")
			ack := v.sendMsg(conv.ID, "v2", "anyone there?")
			read := func(c *client, seq int64) {
				c.send(protocol.Read{Envelope: protocol.Envelope{Type: protocol.TypeRead}, Conversation: conv.ID, Seq: seq})
			}

			read(ag, ack.Seq)
			if f := v.nextRead(protocol.AuthorAgent); f.Seq != ack.Seq || f.Conversation != conv.ID {
				t.Fatalf("visitor heard %+v, want agent read %d", f, ack.Seq)
			}
			if f := ag.nextRead(protocol.AuthorAgent); f.Seq != ack.Seq {
				t.Fatalf("agents heard %+v", f)
			}
			reply := ag.sendMsg(conv.ID, "a1", "Yes, hi!")
			read(v, reply.Seq)
			if f := ag.nextRead(protocol.AuthorVisitor); f.Seq != reply.Seq {
				t.Fatalf("agent heard %+v, want visitor read %d", f, reply.Seq)
			}
			// Backwards and past the end move nothing.
			read(ag, 1)
			read(v, reply.Seq+5)
			v.ping()
			ag.ping()
			c, err := st.Workspace(ts.site.WorkspaceID).Conversation(ctx, conv.ID)
			if err != nil || c.AgentReadSeq != ack.Seq || c.VisitorReadSeq != reply.Seq {
				t.Fatalf("stored cursors: agent %d visitor %d (%v), want %d %d", c.AgentReadSeq, c.VisitorReadSeq, err, ack.Seq, reply.Seq)
			}
			// A reconnect learns them from the conversation's info.
			w := admin.socketRaw(t).hello(nil)
			found := false
			for _, info := range w.Conversations {
				if info.ID == conv.ID {
					found = info.AgentReadSeq == ack.Seq && info.VisitorReadSeq == reply.Seq
				}
			}
			if !found {
				t.Fatalf("welcome has no read cursors for %s: %+v", conv.ID, w.Conversations)
			}
			// Another visitor cannot mark it read.
			stranger, _ := ts.visitorOnPage(t, "https://shop.example/")
			stranger.send(protocol.Read{Envelope: protocol.Envelope{Type: protocol.TypeRead, Ref: "r"}, Conversation: conv.ID, Seq: reply.Seq})
			stranger.expectError(protocol.CodeNotFound)
		})
	}
}
