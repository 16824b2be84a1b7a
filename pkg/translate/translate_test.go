package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/assistant"
)

// apertium returns the installed Apertium with the English-Spanish pairs.
// `make test-deps` installs it; outside CI a machine without it skips.
func apertium(t *testing.T) *Apertium {
	t.Helper()
	a, err := NewApertium(context.Background(), "")
	if err != nil || !a.Supports("es", "en") || !a.Supports("en", "es") {
		if os.Getenv("CI") != "" {
			t.Fatalf("apertium with eng-spa is needed under CI (make test-deps installs it): %v", err)
		}
		t.Skipf("apertium with eng-spa not installed (make test-deps installs it): %v", err)
	}
	return a
}

func TestApertiumTranslatesBothWays(t *testing.T) {
	a := apertium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct{ from, to, text, want string }{
		{"es", "en", "Hola, mi pedido no ha llegado todavía.", "my request has not arrived"},
		{"es-MX", "en", "¿Dónde está mi paquete?", "package"},
		{"en", "es", "Your package arrives tomorrow. Thank you!", "mañana"},
		{"en", "es", "Thank you", "Gracias"},
	} {
		got, err := a.Translate(ctx, tc.text, tc.from, tc.to)
		if err != nil {
			t.Fatalf("Translate(%q): %v", tc.text, err)
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("Translate(%q, %s→%s) = %q; want it to contain %q", tc.text, tc.from, tc.to, got, tc.want)
		}
	}
	// An unknown word comes through as written, without Apertium's mark.
	got, err := a.Translate(ctx, "Hola Xqzzyv", "es", "en")
	if err != nil || got != "Hello Xqzzyv" {
		t.Errorf("unknown word: %q, %v; want \"Hello Xqzzyv\"", got, err)
	}
}

func TestApertiumRefusesWhatItCannot(t *testing.T) {
	a := apertium(t)
	if a.Supports("en", "ja") {
		t.Fatal("no en→ja pair is packaged, yet Supports says yes")
	}
	if _, err := a.Translate(context.Background(), "hello", "en", "ja"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("en→ja: %v; want ErrUnsupported", err)
	}
	// A deadline already passed: an error at once, not a hang.
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	start := time.Now()
	if _, err := a.Translate(ctx, "Hola", "es", "en"); err == nil {
		t.Fatal("translated after its deadline")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a passed deadline took %v to fail", d)
	}
}

func TestApertiumMissing(t *testing.T) {
	if _, err := NewApertium(context.Background(), "/nonexistent/apertium"); !errors.Is(err, ErrNoApertium) {
		t.Fatalf("missing binary: %v; want ErrNoApertium", err)
	}
}

func TestParsePairs(t *testing.T) {
	p := parsePairs("  eng-spa\n  spa-eng\n  spa-eng_US\n  eng-spa-tagger\n  xxx-eng\n")
	if len(p) != 2 || p["en>es"] != "eng-spa" || p["es>en"] != "spa-eng" {
		t.Fatalf("pairs %v", p)
	}
}

// chatServer speaks the chat-completions API as OpenAI-compatible servers
// do: server-sent events, one delta a piece. It answers by handler.
func chatServer(t *testing.T, handle func(w http.ResponseWriter, req map[string]any)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		handle(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func stream(w http.ResponseWriter, pieces ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, p := range pieces {
		b, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"delta": map[string]any{"content": p}}}})
		fmt.Fprintf(w, "data: %s\n\n", b)
		w.(http.Flusher).Flush()
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func TestOpenAITranslates(t *testing.T) {
	var got map[string]any
	srv := chatServer(t, func(w http.ResponseWriter, req map[string]any) {
		got = req
		stream(w, "Where is ", "my order?")
	})
	o := OpenAI{Client: assistant.OpenAI{URL: srv.URL + "/v1", Model: "m", Key: "k"}}
	out, err := o.Translate(context.Background(), "¿Dónde está mi pedido?", "es", "en")
	if err != nil || out != "Where is my order?" {
		t.Fatalf("Translate = %q, %v", out, err)
	}
	msgs := got["messages"].([]any)
	sys := msgs[0].(map[string]any)["content"].(string)
	user := msgs[1].(map[string]any)["content"].(string)
	if !strings.Contains(sys, "from es into en") || user != "¿Dónde está mi pedido?" || got["model"] != "m" {
		t.Fatalf("request %v", got)
	}
	if !o.Supports("es", "en") || o.Supports("en", "en-GB") {
		t.Fatal("Supports")
	}
}

func TestOpenAIErrorsAndTimeouts(t *testing.T) {
	refuse := chatServer(t, func(w http.ResponseWriter, _ map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":{"message":"slow down"}}`)
	})
	o := OpenAI{Client: assistant.OpenAI{URL: refuse.URL + "/v1", Model: "m"}}
	_, err := o.Translate(context.Background(), "hola", "es", "en")
	var pe *assistant.ProviderError
	if !errors.As(err, &pe) || pe.Status != http.StatusTooManyRequests || pe.Message != "slow down" {
		t.Fatalf("refusal: %v", err)
	}

	// A server that never starts answering: the caller's deadline ends it.
	release := make(chan struct{})
	slow := chatServer(t, func(w http.ResponseWriter, _ map[string]any) {
		<-release
	})
	defer close(release)
	o = OpenAI{Client: assistant.OpenAI{URL: slow.URL + "/v1", Model: "m"}}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := o.Translate(ctx, "hola", "es", "en"); err == nil {
		t.Fatal("no error past the deadline")
	}

	// And the client's own first-token limit.
	o.Client.FirstToken = 100 * time.Millisecond
	if _, err := o.Translate(context.Background(), "hola", "es", "en"); !errors.Is(err, assistant.ErrFirstTokenTimeout) {
		t.Fatalf("first token: %v", err)
	}
}

func TestChainPicksTheFirstThatSupports(t *testing.T) {
	srv := chatServer(t, func(w http.ResponseWriter, _ map[string]any) { stream(w, "こんにちは") })
	o := OpenAI{Client: assistant.OpenAI{URL: srv.URL + "/v1", Model: "m"}}
	a := apertium(t)
	c := Chain{a, o}
	if c.For("es", "en") != "apertium" || c.For("en", "ja") != "openai" {
		t.Fatalf("For: %q %q", c.For("es", "en"), c.For("en", "ja"))
	}
	out, err := c.Translate(context.Background(), "hello", "en", "ja")
	if err != nil || out != "こんにちは" {
		t.Fatalf("en→ja through the chain: %q, %v", out, err)
	}
	if _, err := (Chain{a}).Translate(context.Background(), "hello", "en", "ja"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("unsupported: %v", err)
	}
}
