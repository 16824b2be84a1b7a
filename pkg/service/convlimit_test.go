package service

import (
	"net/http"
	"strings"
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// New conversations are limited per visitor and per site: a visitor who
// closes and starts chats in a loop gets a retryable rate_limited error
// (it opened 234 in 15 s), and a site's visitors together get it past the
// site's limit, on the live socket and on the offline form alike.
func TestNewConversationsAreLimited(t *testing.T) {
	ts := newTestServerWith(t, storetest.SQLite(t), ratelimit.NewMemory(), ratelimit.DefaultRules(),
		"-conversations-per-visitor", "2/1h", "-conversations-per-site", "3/1h")
	v := ts.visitor(t)
	v.hello(nil)
	for i := 0; i < 2; i++ {
		conv := v.start()
		if again := v.start(); again.ID != conv.ID {
			t.Fatal("a start with a conversation open made another one")
		}
		v.send(protocol.Close{Envelope: protocol.Envelope{Type: protocol.TypeClose}, Conversation: conv.ID})
	}
	v.send(protocol.Start{Envelope: protocol.Envelope{Type: protocol.TypeStart, Ref: "third"}})
	e := v.expectError(protocol.CodeRateLimited)
	if e.Ref != "third" || !e.Retryable || e.RetryAfterMs <= 0 || !strings.Contains(e.Message, "new conversations") {
		t.Fatalf("third conversation of the visitor: %+v", e)
	}

	// The site's third conversation is another visitor's; its fourth is
	// refused, whoever asks.
	other := ts.visitor(t)
	other.hello(nil)
	other.start()
	late := ts.visitor(t)
	late.hello(nil)
	late.send(protocol.Start{Envelope: protocol.Envelope{Type: protocol.TypeStart, Ref: "site"}})
	late.expectError(protocol.CodeRateLimited)
	req, _ := http.NewRequest("POST", ts.URL+"/api/widget/offline", strings.NewReader(
		`{"token":"`+ts.visitorToken(t)+`","name":"Ada","email":"ada@example.com","message":"hello"}`))
	req.Header.Set("Origin", ts.origin())
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("offline message over the site's limit: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	other.ping() // nobody's connection is touched
}
