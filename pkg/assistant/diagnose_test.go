package assistant_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/assistant"
)

// TestDiagnoseNamesEachFailure: each way an endpoint can fail, played by a
// local server, is told apart for the admin testing it, with the host
// named and neither the URL's path and query nor the key in what is said.
func TestDiagnoseNamesEachFailure(t *testing.T) {
	const key = "sk-diagnose-secret"
	answer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}
	}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	silent := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server then sees the client leave
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	// A port nobody listens on: one that was just free.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	l.Close()
	plain := httptest.NewServer(answer(200, "hello"))
	t.Cleanup(plain.Close)

	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		tls     bool
		url     string        // instead of a server's
		ctx     time.Duration // the caller's deadline
		first   time.Duration // the first-token limit, instead of 5 s
		want    assistant.Failure
		detail  string
	}{
		{name: "refused port", url: refused, want: assistant.FailUnreachable},
		{name: "no such host", url: "http://parley-no-such-host.invalid", want: assistant.FailUnreachable},
		{name: "401", handler: answer(401, `{"error":{"message":"Incorrect API key provided: `+key+`"}}`), want: assistant.FailAuth},
		{name: "403", handler: answer(403, "forbidden"), want: assistant.FailAuth},
		{name: "404", handler: answer(404, `{"error":{"message":"model \"llama9\" not found, try pulling it first"}}`), want: assistant.FailNotFound, detail: `model "llama9" not found, try pulling it first`},
		{name: "429", handler: answer(429, `{"error":{"message":"quota exceeded"}}`), want: assistant.FailRateLimited, detail: "quota exceeded"},
		{name: "500", handler: answer(500, "model failed to load"), want: assistant.FailServer, detail: "model failed to load"},
		{name: "400 quoting the key", handler: answer(400, "bad request for key "+key), want: assistant.FailRejected, detail: "bad request for key …"},
		{name: "error in the stream", handler: answer(200, "data: {\"error\":{\"message\":\"context length exceeded\"}}\n\n"), want: assistant.FailRejected, detail: "context length exceeded"},
		{name: "garbage body", handler: answer(200, "<html><body>Welcome to nginx!</body></html>"), want: assistant.FailBadResponse},
		{name: "garbage stream", handler: answer(200, "data: {not json\n\n"), want: assistant.FailBadResponse},
		{name: "empty reply", handler: answer(200, "data: [DONE]\n\n"), want: assistant.FailBadResponse},
		{name: "slow answer past the time limit", handler: silent, ctx: 300 * time.Millisecond, want: assistant.FailTimeout},
		{name: "no first token in time", handler: silent, first: 300 * time.Millisecond, want: assistant.FailTimeout},
		{name: "certificate not trusted", handler: answer(200, ""), tls: true, want: assistant.FailTLS},
		{name: "no HTTPS there", url: strings.Replace(plain.URL, "http:", "https:", 1), want: assistant.FailTLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := tc.url
			if tc.handler != nil {
				srv := httptest.NewUnstartedServer(tc.handler)
				if tc.tls {
					srv.StartTLS()
				} else {
					srv.Start()
				}
				t.Cleanup(srv.Close)
				base = srv.URL
			}
			ctx := context.Background()
			if tc.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
			}
			o := assistant.OpenAI{URL: base + "/v1?token=in-the-query", Model: "m", Key: key, FirstToken: 5 * time.Second}
			if tc.first > 0 {
				o.FirstToken = tc.first
			}
			start := time.Now()
			_, err := o.Complete(ctx, []assistant.ChatMessage{{Role: "user", Content: "hi"}})
			if err == nil {
				t.Fatal("no error")
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("gave up after %v", d)
			}
			d := assistant.Diagnose(err)
			if d.Failure != tc.want || d.Detail != tc.detail {
				t.Fatalf("%v: diagnosed %+v, want %s with detail %q", err, d, tc.want, tc.detail)
			}
			host := strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")
			if !strings.Contains(d.Message, host) {
				t.Errorf("the message %q does not name the host %s", d.Message, host)
			}
			if said := d.Message + d.Detail; strings.Contains(said, key) || strings.Contains(said, "in-the-query") || strings.Contains(said, "/v1") {
				t.Errorf("the diagnosis leaks the key, the query or the path: %+v", d)
			}
		})
	}
}
