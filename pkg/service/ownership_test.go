package service

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// rtc opens the agent's live connection as an RTC test client.
func (s *session) rtc(t *testing.T) *rtcClient {
	t.Helper()
	h := http.Header{"Origin": {s.ts.origin()}}
	u, _ := http.NewRequest("GET", s.ts.URL, nil)
	for _, ck := range s.hc.Jar.Cookies(u.URL) {
		h.Add("Cookie", ck.Name+"="+ck.Value)
	}
	return dialRTC(t, s.ts.wsURL("/ws/agent"), h)
}

// answerTo waits for the ack or the error frame answering ref, and says
// over which transport it came.
func answerTo(c *rtcClient, ref string) (ack *protocol.Ack, refused *protocol.Error, via string) {
	c.t.Helper()
	for {
		f := nextAny(c, protocol.TypeAck, protocol.TypeError)
		var env protocol.Envelope
		json.Unmarshal(f.data, &env)
		if env.Ref != ref {
			continue
		}
		if f.typ == protocol.TypeAck {
			ack = &protocol.Ack{}
			json.Unmarshal(f.data, ack)
		} else {
			refused = &protocol.Error{}
			json.Unmarshal(f.data, refused)
		}
		return ack, refused, f.via
	}
}

// nextAny returns the next frame of one of types.
func nextAny(c *rtcClient, types ...string) frameIn {
	c.t.Helper()
	timeout := time.After(frameWait)
	for {
		select {
		case f := <-c.in:
			for _, typ := range types {
				if f.typ == typ {
					return f
				}
			}
		case <-timeout:
			c.t.Fatalf("no %v frame in %v", types, frameWait)
		}
	}
}

// Issue 20, defect 3: after Ann transfers a chat to Bob she may no longer
// write into it or close it, over her WebSocket or her data channel alike:
// each attempt gets a forbidden error frame on the transport it came on,
// nothing is stored, and the chat stays Bob's and open. Bob, and a
// supervisor stepping in, still may.
func TestOnlyTheOwnerSendsAndClosesAfterATransfer(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ts, shutdown := newRTCServer(t, st)
			defer shutdown()
			admin := ts.signIn(t, "admin@parley.local", adminPassword) // never connects: takes no chats
			annS := admin.newAgent(t, "Ann", map[string]any{"role": "agent"})
			ann := annS.rtc(t)
			ann.hello()
			ann.negotiate()
			v := ts.rtcVisitor(t, ts.visitorToken(t))
			v.hello()
			conv := v.start()
			if conv.AgentID != annS.id {
				t.Fatalf("start: %+v, want Ann", conv)
			}
			ann.sendDC(sendFrame(conv.ID, "a1", "Hello, Ann here"))
			if ack, refused, _ := answerTo(ann, "a1"); ack == nil {
				t.Fatalf("the owner's send: %+v", refused)
			}

			bobS := admin.newAgent(t, "Bob", map[string]any{"role": "agent"})
			bob := bobS.socket(t)
			if code := annS.call(t, "POST", "/api/conversations/"+conv.ID+"/transfer", map[string]any{"to_agent": bobS.id}, nil); code != 200 {
				t.Fatalf("transfer: %d", code)
			}
			var f protocol.Conversation
			for f.Conversation.ID != conv.ID || f.Conversation.AgentID != bobS.id {
				bob.next(protocol.TypeConversation, &f)
			}

			forbidden := func(what, ref, wantVia string) {
				t.Helper()
				ack, refused, via := answerTo(ann, ref)
				if ack != nil || refused.Code != protocol.CodeForbidden || !strings.Contains(refused.Message, "another agent") || via != wantVia {
					t.Fatalf("%s by the previous owner: ack %+v, error %+v over %s; want forbidden over %s", what, ack, refused, via, wantVia)
				}
			}
			ann.sendDC(sendFrame(conv.ID, "a2", "still me, over the data channel"))
			forbidden("send over the data channel", "a2", transportDataChannel)
			ann.send(sendFrame(conv.ID, "a3", "still me, over the WebSocket"))
			forbidden("send over the WebSocket", "a3", transportWebSocket)
			ann.sendDC(protocol.Close{Envelope: protocol.Envelope{Type: protocol.TypeClose, Ref: "c1"}, Conversation: conv.ID})
			forbidden("close over the data channel", "c1", transportDataChannel)
			ann.send(protocol.Close{Envelope: protocol.Envelope{Type: protocol.TypeClose, Ref: "c2"}, Conversation: conv.ID})
			forbidden("close over the WebSocket", "c2", transportWebSocket)

			sc := ts.st.Workspace(ts.site.WorkspaceID)
			c, _ := sc.Conversation(context.Background(), conv.ID)
			if c.Status != protocol.ConversationOpen || c.AgentID == nil || *c.AgentID != bobS.id {
				t.Fatalf("after the previous owner's attempts: %s, agent %v; want open, Bob's", c.Status, c.AgentID)
			}
			ms, _ := sc.MessagesAfter(context.Background(), conv.ID, 0, 100)
			for _, m := range ms {
				if strings.HasPrefix(m.Body, "still me") || strings.Contains(m.Body, "ended the chat") {
					t.Fatalf("stored from a refused attempt: %q", m.Body)
				}
			}

			// The owner writes; a supervisor (the admin) steps in; the owner closes.
			if a := bob.sendMsg(conv.ID, "b1", "Bob here"); a.Seq == 0 {
				t.Fatalf("the new owner's send: %+v", a)
			}
			sup := admin.socket(t)
			if a := sup.sendMsg(conv.ID, "s1", "A supervisor steps in"); a.Seq == 0 {
				t.Fatalf("the supervisor's send: %+v", a)
			}
			bob.send(protocol.Close{Envelope: protocol.Envelope{Type: protocol.TypeClose, Ref: "c3"}, Conversation: conv.ID})
			for f.Conversation.ID != conv.ID || f.Conversation.Status != protocol.ConversationClosed {
				bob.next(protocol.TypeConversation, &f)
			}
		})
	}
}

// Changing a conversation's needs (language, skill, team, priority)
// follows the same rule: after the transfer Ann gets 403, Bob and a
// supervisor may, and a waiting conversation is anyone's.
func TestOnlyTheOwnerChangesAConversationsNeeds(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword) // never connects
		ann := admin.newAgent(t, "Ann", map[string]any{"role": "agent"})
		ann.socket(t)
		v, _ := ts.visitorWithLocale(t, "en-US")
		conv := v.start()
		bob := admin.newAgent(t, "Bob", map[string]any{"role": "agent"})
		bob.socket(t)
		path := "/api/conversations/" + conv.ID + "/routing"
		if code := ann.call(t, "PATCH", path, map[string]any{"priority": 1}, nil); code != 200 {
			t.Fatalf("the owner changes the needs: %d", code)
		}
		if code := ann.call(t, "POST", "/api/conversations/"+conv.ID+"/transfer", map[string]any{"to_agent": bob.id}, nil); code != 200 {
			t.Fatalf("transfer: %d", code)
		}
		if code := ann.call(t, "PATCH", path, map[string]any{"priority": 2}, nil); code != http.StatusForbidden {
			t.Fatalf("the previous owner changes the needs: %d, want 403", code)
		}
		if code := bob.call(t, "PATCH", path, map[string]any{"skill": "billing"}, nil); code != 200 {
			t.Fatalf("the new owner: %d", code)
		}
		if code := admin.call(t, "PATCH", path, map[string]any{"priority": 3}, nil); code != 200 {
			t.Fatalf("a supervisor: %d", code)
		}
		c, _ := ts.st.Workspace(ts.site.WorkspaceID).Conversation(context.Background(), conv.ID)
		if c.Priority != 3 || c.Skill != "billing" {
			t.Fatalf("stored needs: priority %d skill %q", c.Priority, c.Skill)
		}
	})
}
