package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/translate"
)

// nextTranslation reads frames until the translation of conv's message seq
// for side arrives; Apertium runs as processes, slow on a busy machine.
func nextTranslation(c *client, conv string, seq int64, side string) protocol.Translation {
	c.t.Helper()
	return nextTranslations(c, conv, side, seq)[seq]
}

// nextTranslations reads frames until the translations of each of conv's
// messages seqs for side arrived, in whatever order they come.
func nextTranslations(c *client, conv, side string, seqs ...int64) map[int64]protocol.Translation {
	c.t.Helper()
	out := map[int64]protocol.Translation{}
	c.ws.SetReadDeadline(time.Now().Add(60 * time.Second))
	for len(out) < len(seqs) {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for the translations of %v for the %s (have %d): %v", seqs, side, len(out), err)
		}
		var f protocol.Translation
		json.Unmarshal(data, &f)
		if f.Type == protocol.TypeTranslation && f.Conversation == conv && f.For == side && slices.Contains(seqs, f.Seq) {
			out[f.Seq] = f
		}
	}
	return out
}

// history resumes conv from the start on c and returns its messages.
func history(c *client, conv string) map[int64]protocol.Message {
	c.t.Helper()
	c.send(protocol.Resume{Envelope: protocol.Envelope{Type: protocol.TypeResume, Ref: "r"}, Conversations: map[string]int64{conv: 0}})
	out := map[int64]protocol.Message{}
	c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("resume: %v", err)
		}
		var env protocol.Envelope
		json.Unmarshal(data, &env)
		switch env.Type {
		case protocol.TypeMessage:
			var m protocol.Message
			json.Unmarshal(data, &m)
			if m.Conversation == conv {
				out[m.Seq] = m
			}
		case protocol.TypeSynced:
			return out
		}
	}
}

func apertiumOrSkip(t *testing.T) {
	t.Helper()
	if a, err := translate.NewApertium(context.Background(), ""); err != nil || !a.Supports("es", "en") {
		if os.Getenv("CI") != "" {
			t.Fatalf("apertium with eng-spa is needed under CI (make test-deps): %v", err)
		}
		t.Skipf("apertium not installed (make test-deps installs it): %v", err)
	}
}

// A Spanish visitor and an agent who speaks English only: the agent gets
// each visitor message in English, the visitor each reply in Spanish, both
// as Translation frames after the original, which is what is stored, and
// the agent also what its reply became; resuming brings the cached
// translations with the messages, each side only its own.
func TestAutoTranslationSpanishVisitorEnglishAgent(t *testing.T) {
	apertiumOrSkip(t)
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		if code := admin.call(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"languages": []string{"en"}}, nil); code != 200 {
			t.Fatalf("languages: %d", code)
		}
		ag := admin.socket(t)
		v, _ := ts.visitorWithLocale(t, "es-ES")
		conv, _ := startSeeing(v)
		v.sendMsg(conv.ID, "m1", "Hola, mi pedido no ha llegado todavía.")
		// The English agent answers the waiting Spanish visitor, and so
		// takes the conversation routing held for a Spanish speaker.
		reply := ag.sendMsg(conv.ID, "a1", "Your package arrives tomorrow.")

		agentGot := nextTranslations(ag, conv.ID, protocol.AudienceAgent, 1, reply.Seq)
		toAgent := agentGot[1]
		if tr := agentGot[reply.Seq].Translation; tr.Language != "es" || tr.From != "en" || !strings.Contains(tr.Text, "mañana") {
			t.Fatalf("the agent's own reply as the visitor reads it: %+v", tr)
		}
		if tr := toAgent.Translation; tr.Language != "en" || tr.From != "es" || tr.Provider != "apertium" || !strings.Contains(tr.Text, "has not arrived") {
			t.Fatalf("visitor's message for the agent: %+v", tr)
		}
		toVisitor := nextTranslation(v, conv.ID, reply.Seq, protocol.AudienceVisitor)
		if tr := toVisitor.Translation; tr.Language != "es" || tr.From != "en" || !strings.Contains(tr.Text, "mañana") {
			t.Fatalf("agent's reply for the visitor: %+v", tr)
		}

		ms, err := ts.st.Workspace(ts.site.WorkspaceID).MessagesAfter(context.Background(), conv.ID, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Seq == 1 && m.Body != "Hola, mi pedido no ha llegado todavía." || m.Seq == reply.Seq && m.Body != "Your package arrives tomorrow." {
				t.Fatalf("stored message %d is %q: the original must be kept", m.Seq, m.Body)
			}
		}

		vh := history(v, conv.ID)
		if tr := vh[reply.Seq].Translation; tr == nil || tr.Text != toVisitor.Translation.Text || vh[reply.Seq].Body != "Your package arrives tomorrow." {
			t.Fatalf("visitor's history of the reply: %+v", vh[reply.Seq])
		}
		if vh[1].Translation != nil {
			t.Fatalf("the visitor got the agent's translation of its own message: %+v", vh[1].Translation)
		}
		ah := history(ag, conv.ID)
		if tr := ah[1].Translation; tr == nil || tr.Text != toAgent.Translation.Text || ah[1].Body != "Hola, mi pedido no ha llegado todavía." {
			t.Fatalf("agent's history of the visitor's message: %+v", ah[1])
		}
		if tr := ah[reply.Seq].Translation; tr == nil || tr.Language != "es" || tr.Text != toVisitor.Translation.Text {
			t.Fatalf("agent's history of its reply lacks what the visitor read: %+v", tr)
		}
	})
}

// A pair Apertium lacks goes to the site's OpenAI-compatible endpoint; when
// that fails, the message stays as written (the agent already has it) and
// the next one is translated: never a dead end.
func TestAutoTranslationProviderFailureLeavesTheOriginal(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		var calls atomic.Int32
		failed := make(chan struct{}, 1)
		model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				Messages []struct{ Content string }
			}
			json.NewDecoder(r.Body).Decode(&req)
			calls.Add(1)
			if strings.Contains(req.Messages[len(req.Messages)-1].Content, "最初") {
				http.Error(w, `{"error":{"message":"model overloaded"}}`, http.StatusServiceUnavailable)
				failed <- struct{}{}
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"Second message\"}}]}\n\ndata: [DONE]\n\n")
		}))
		defer model.Close()
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		if code := admin.call(t, "PUT", "/api/sites/"+ts.site.ID+"/assistant", map[string]any{"mode": "off", "provider": "openai", "url": model.URL + "/v1", "model": "m"}, nil); code != 200 {
			t.Fatalf("assistant settings: %d", code)
		}
		admin.call(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"languages": []string{"en"}}, nil)
		ag := admin.socket(t)
		v, _ := ts.visitorWithLocale(t, "ja-JP")
		conv, _ := startSeeing(v)
		ag.sendMsg(conv.ID, "a1", "Hello") // takes the conversation
		v.sendMsg(conv.ID, "m1", "最初のメッセージです")
		<-failed
		ack := v.sendMsg(conv.ID, "m2", "二番目のメッセージです")
		tr := nextTranslation(ag, conv.ID, ack.Seq, protocol.AudienceAgent)
		if tr.Translation.Text != "Second message" || tr.Translation.Provider != "openai" {
			t.Fatalf("second message: %+v", tr.Translation)
		}
		ah := history(ag, conv.ID)
		first := ah[ack.Seq-1]
		if first.Body != "最初のメッセージです" || first.Translation != nil {
			t.Fatalf("the failed message: %+v, want the original untranslated", first)
		}
	})
}
