package service

import (
	"net/http"
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
)

// A supervisor sees every open conversation, the queue, and each agent's
// status and load; an agent's status changes are kept as a history (a
// status the agent already had adds nothing); plain agents may read
// neither.
func TestSupervisionView(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		al := admin.newAgent(t, "Al", nil)
		var e struct{ Code string }
		if code := al.call(t, "GET", "/api/supervision", nil, &e); code != http.StatusForbidden {
			t.Fatalf("an agent reads supervision: %d %q", code, e.Code)
		}
		if code := al.call(t, "GET", "/api/agents/"+admin.id+"/status-history", nil, &e); code != http.StatusForbidden {
			t.Fatalf("an agent reads a status history: %d", code)
		}
		ac := al.socket(t)
		for _, st := range []string{protocol.StatusOnline, protocol.StatusOnline, protocol.StatusAway, protocol.StatusOnline} {
			ac.send(protocol.Status{Envelope: protocol.Envelope{Type: protocol.TypeStatus}, Status: st})
		}
		// Al was made online: the repeated online adds nothing; newest
		// first, online then away.
		var got []string
		waitFor(t, "Al's status changes in the history", func() bool {
			var hist struct{ Changes []statusChangeJSON }
			if code := admin.call(t, "GET", "/api/agents/"+al.id+"/status-history", nil, &hist); code != 200 {
				t.Fatalf("history: %d", code)
			}
			got = got[:0]
			for _, c := range hist.Changes {
				got = append(got, c.Status)
			}
			return len(got) >= 2 && got[0] == "online" && got[1] == "away"
		})
		if len(got) != 2 {
			t.Fatalf("Al's status history, newest first: %v", got)
		}

		v := ts.visitor(t)
		v.hello(nil)
		conv := v.start()
		v.sendMsg(conv.ID, "m1", "hello")

		var view struct {
			Agents []supervisedAgentJSON
			Queue  []struct{ ID string }
			Open   []struct {
				ID      string
				AgentID string `json:"agent_id"`
			}
		}
		waitFor(t, "the conversation assigned to Al and shown open", func() bool {
			if code := admin.call(t, "GET", "/api/supervision", nil, &view); code != 200 {
				t.Fatalf("supervision: %d", code)
			}
			return len(view.Open) == 1 && view.Open[0].ID == conv.ID && view.Open[0].AgentID == al.id
		})
		var alView supervisedAgentJSON
		for _, a := range view.Agents {
			if a.ID == al.id {
				alView = a
			}
		}
		if alView.Status != "online" || alView.Load != 1 || alView.StatusSince == nil {
			t.Fatalf("Al as supervised: %+v", alView)
		}
	})
}
