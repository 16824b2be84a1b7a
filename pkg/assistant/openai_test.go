package assistant_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/assistant"
	"github.com/parleychat/parley/pkg/knowledge"
)

// chatServer is a local HTTP server speaking the chat-completions API:
// it records each request and answers with what reply says.
type chatServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	Auth string
	Body struct {
		Model    string                  `json:"model"`
		Stream   bool                    `json:"stream"`
		Messages []assistant.ChatMessage `json:"messages"`
	}
}

func newChatServer(t *testing.T, reply func(w http.ResponseWriter, r *http.Request)) *chatServer {
	cs := &chatServer{}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		var rec recorded
		rec.Auth = r.Header.Get("Authorization")
		if err := json.NewDecoder(r.Body).Decode(&rec.Body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		cs.mu.Lock()
		cs.requests = append(cs.requests, rec)
		cs.mu.Unlock()
		reply(w, r)
	}))
	t.Cleanup(cs.Close)
	return cs
}

// stream writes pieces as server-sent events, flushing each, then [DONE].
func stream(w http.ResponseWriter, pieces ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, p := range pieces {
		b, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": p}}}})
		fmt.Fprintf(w, "data: %s\n\n", b)
		w.(http.Flusher).Flush()
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

var passages = []knowledge.Hit{
	{ArticleID: "a1", Title: "Refunds", Text: "We refund within 5 working days.", Coverage: 1},
	{ArticleID: "a2", Title: "Returns", Text: "You have 30 days to return an item.", Coverage: 0.5},
}

func TestOpenAIStreamsAnAnswerWithItsSources(t *testing.T) {
	cs := newChatServer(t, func(w http.ResponseWriter, r *http.Request) {
		stream(w, "You get", " your money", " back within 5 working days [1].")
	})
	p := assistant.OpenAI{URL: cs.URL + "/v1", Model: "tiny", Key: "sk-test"}
	var pieces []string
	a, err := p.Answer(context.Background(), assistant.Question{Site: "Acme", Text: "when is my refund?", Passages: passages,
		History: []assistant.Turn{{Text: "hello"}, {Assistant: true, Text: "Hi! How can I help?"}}}, func(s string) { pieces = append(pieces, s) })
	if err != nil {
		t.Fatal(err)
	}
	if a.Text != "You get your money back within 5 working days [1]." || a.Unsure {
		t.Fatalf("answer %+v", a)
	}
	if len(a.Sources) != 1 || a.Sources[0].ArticleID != "a1" {
		t.Fatalf("sources %+v, want the cited passage a1", a.Sources)
	}
	if len(pieces) < 2 || strings.Join(pieces, "") != a.Text {
		t.Fatalf("emitted %q: want the answer piece by piece", pieces)
	}
	req := cs.requests[0]
	if req.Auth != "Bearer sk-test" || req.Body.Model != "tiny" || !req.Body.Stream {
		t.Fatalf("request %+v", req)
	}
	m := req.Body.Messages
	if len(m) != 4 || m[0].Role != "system" || m[1].Role != "user" || m[2].Role != "assistant" || m[3].Content != "when is my refund?" {
		t.Fatalf("messages %+v", m)
	}
	for _, want := range []string{"[1] Refunds", "We refund within 5 working days.", "[2] Returns", "only", assistant.NoAnswerMark} {
		if !strings.Contains(m[0].Content, want) {
			t.Errorf("system prompt lacks %q:\n%s", want, m[0].Content)
		}
	}
}

func TestOpenAISaysWhenItDoesNotKnow(t *testing.T) {
	cs := newChatServer(t, func(w http.ResponseWriter, r *http.Request) {
		stream(w, "NO_", "ANSWER I do not know that.")
	})
	var emitted string
	a, err := assistant.OpenAI{URL: cs.URL + "/v1/chat/completions", Model: "m"}.Answer(context.Background(),
		assistant.Question{Text: "what is the meaning of life", Passages: passages}, func(s string) { emitted += s })
	if err != nil {
		t.Fatal(err)
	}
	if !a.Unsure || len(a.Sources) != 0 || a.Text != assistant.NotFound("") {
		t.Fatalf("answer %+v, want unsure without sources", a)
	}
	if strings.Contains(emitted, "NO_") {
		t.Fatalf("the mark reached the visitor: %q", emitted)
	}
	if cs.requests[0].Auth != "" {
		t.Fatalf("no key configured, yet Authorization %q", cs.requests[0].Auth)
	}
}

func TestOpenAIErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reply  func(w http.ResponseWriter, r *http.Request)
		status int
		msg    string
	}{
		{"unauthorized", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}`)
		}, 401, "Incorrect API key"},
		{"unknown model", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":{"message":"model \"nope\" not found, try pulling it first"}}`)
		}, 404, "not found"},
		{"server error without JSON", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(503)
			fmt.Fprint(w, "overloaded")
		}, 503, "overloaded"},
		{"error in the stream", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"error\":{\"message\":\"context length exceeded\"}}\n\n")
		}, 200, "context length exceeded"},
		{"garbage in the stream", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "data: {not json\n\n")
		}, 200, "bad stream data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := newChatServer(t, tc.reply)
			_, err := assistant.OpenAI{URL: cs.URL + "/v1", Model: "nope"}.Answer(context.Background(), assistant.Question{Text: "hi", Passages: passages}, nil)
			var pe *assistant.ProviderError
			if !errors.As(err, &pe) || pe.Status != tc.status || !strings.Contains(pe.Message, tc.msg) {
				t.Fatalf("error %v, want HTTP %d with %q", err, tc.status, tc.msg)
			}
		})
	}
	t.Run("empty stream", func(t *testing.T) {
		cs := newChatServer(t, func(w http.ResponseWriter, r *http.Request) { stream(w) })
		_, err := assistant.OpenAI{URL: cs.URL + "/v1"}.Answer(context.Background(), assistant.Question{Text: "hi"}, nil)
		if !errors.Is(err, assistant.ErrNoAnswer) {
			t.Fatalf("error %v, want ErrNoAnswer", err)
		}
	})
	t.Run("nobody listening", func(t *testing.T) {
		cs := newChatServer(t, nil)
		url := cs.URL
		cs.Close()
		_, err := assistant.OpenAI{URL: url + "/v1"}.Answer(context.Background(), assistant.Question{Text: "hi"}, nil)
		var pe *assistant.ProviderError
		if !errors.As(err, &pe) || pe.Status != 0 {
			t.Fatalf("error %v, want a transport error", err)
		}
	})
}

// TestOpenAITimeouts: a model that does not begin within FirstToken is
// given up on; one that begins but stalls is given up on at the caller's
// deadline; a slow first token within the limit is waited for.
func TestOpenAITimeouts(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	silent := newChatServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	start := time.Now()
	_, err := assistant.OpenAI{URL: silent.URL + "/v1", FirstToken: 300 * time.Millisecond}.Answer(context.Background(), assistant.Question{Text: "hi"}, nil)
	if !errors.Is(err, assistant.ErrFirstTokenTimeout) {
		t.Fatalf("error %v, want ErrFirstTokenTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("gave up after %v", d)
	}

	stall := newChatServer(t, func(w http.ResponseWriter, r *http.Request) {
		stream(w, "Partly")
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var got string
	_, err = assistant.OpenAI{URL: stall.URL + "/v1", FirstToken: 5 * time.Second}.Answer(ctx, assistant.Question{Text: "hi"}, func(s string) { got += s })
	var pe *assistant.ProviderError
	if !errors.As(err, &pe) || !strings.Contains(pe.Message, "deadline") {
		t.Fatalf("error %v, want the deadline", err)
	}
	if got != "Partly" {
		t.Fatalf("emitted %q before the stall", got)
	}

	slow := newChatServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		timer := time.NewTimer(400 * time.Millisecond) // a model loading, then answering
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return
		}
		stream(w, "Late but fine [1].")
	})
	a, err := assistant.OpenAI{URL: slow.URL + "/v1", FirstToken: 3 * time.Second}.Answer(context.Background(), assistant.Question{Text: "hi", Passages: passages}, nil)
	if err != nil || a.Text != "Late but fine [1]." {
		t.Fatalf("slow first token: %+v, %v", a, err)
	}
}

func TestBuiltinAnswersWithTheBestPassageOrOffersAPerson(t *testing.T) {
	var b assistant.Builtin
	a, err := b.Answer(context.Background(), assistant.Question{Text: "refund?", Passages: passages}, nil)
	if err != nil || a.Unsure || a.Text != passages[0].Text || len(a.Sources) != 1 || a.Sources[0].ArticleID != "a1" {
		t.Fatalf("answer %+v, %v", a, err)
	}
	weak := []knowledge.Hit{{ArticleID: "a2", Text: "unrelated", Coverage: 0.2}}
	a, _ = b.Answer(context.Background(), assistant.Question{Text: "what is the meaning of life", Language: "es", Passages: weak}, nil)
	if !a.Unsure || len(a.Sources) != 0 || !strings.Contains(a.Text, "persona") {
		t.Fatalf("answer %+v, want unsure, in Spanish", a)
	}
}
