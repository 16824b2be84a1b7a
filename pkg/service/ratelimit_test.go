package service

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// The same rate-limit behaviour through the real server, with the
// in-process limiter and with Redis.
func TestRateLimits(t *testing.T) {
	limiters := map[string]ratelimit.Limiter{"memory": ratelimit.NewMemory()}
	if addr := os.Getenv("PARLEY_TEST_REDIS"); addr != "" {
		rc := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { rc.Close() })
		limiters["redis"] = ratelimit.NewRedis(rc)
	} else {
		t.Log("PARLEY_TEST_REDIS is not set: Redis limiter not tested here")
	}
	for name, l := range limiters {
		t.Run(name, func(t *testing.T) {
			b := make([]byte, 4)
			rand.Read(b)
			run := hex.EncodeToString(b) // keys of this run only
			rules := ratelimit.DefaultRules()
			rules.MessagePerVisitor = ratelimit.Rule{Name: "t" + run + ":msg", Limit: ratelimit.Limit{Rate: 3, Burst: 3, Period: time.Minute}}
			// Few attempts and a long window: the test must not depend on how
			// fast bcrypt runs on a loaded machine.
			rules.SignInPerAccount = ratelimit.Rule{Name: "t" + run + ":acct", Limit: ratelimit.Limit{Rate: 2, Burst: 2, Period: time.Hour}}
			rules.SignInPerIP.Name = "t" + run + ":ip"
			rules.MessagePerConnection.Name = "t" + run + ":conn"
			rules.VisitorSessionPerIP.Name = "t" + run + ":vip"
			rules.VisitorSessionPerSite.Name = "t" + run + ":vsite"
			ts := newTestServerWith(t, storetest.SQLite(t), l, rules)

			v := ts.visitor(t)
			v.hello(nil)
			conv := v.start()
			for i := 0; i < 3; i++ {
				v.sendMsg(conv.ID, "ok"+string(rune('a'+i)), "hi")
			}
			v.send(protocol.Send{Envelope: protocol.Envelope{Type: protocol.TypeSend}, ClientID: "over", Conversation: conv.ID, Body: "one too many"})
			e := v.expectError(protocol.CodeRateLimited)
			if !e.Retryable || e.RetryAfterMs <= 0 || e.Ref != "over" {
				t.Fatalf("rate limit error must be retryable with a delay and the client id: %+v", e)
			}
			v.ping() // the connection stays open
			other := ts.visitor(t)
			other.hello(nil)
			oc := other.start()
			if a := other.sendMsg(oc.ID, "x", "another visitor is not limited"); a.Seq == 0 {
				t.Fatal("other visitor limited")
			}

			// Sign-in: the attempts the rule allows, then 429.
			var last *http.Response
			for i := 0; i < 3; i++ {
				res, err := http.DefaultClient.Do(loginRequest(ts.URL, "admin@parley.local", "guess guess guess"))
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				last = res
			}
			if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
				t.Fatalf("3rd sign-in: %d, Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
			}
		})
	}
}

// Gap repair is not starved by chat: a connection that used up its frame
// budget still gets its resumes answered, from a budget of their own; a
// resume refused by that budget is refused with its ref, so the client
// can match and retry it.
func TestResumeHasItsOwnBudget(t *testing.T) {
	rules := ratelimit.DefaultRules()
	rules.MessagePerConnection.Limit = ratelimit.Limit{Rate: 3, Burst: 3, Period: time.Hour}
	rules.ResumePerConnection.Limit = ratelimit.Limit{Rate: 2, Burst: 2, Period: time.Hour}
	ts := newTestServerWith(t, storetest.SQLite(t), ratelimit.NewMemory(), rules)
	v := ts.visitor(t)
	v.hello(nil)
	conv := v.start()
	a := v.sendMsg(conv.ID, "one", "hi")
	v.send(protocol.Send{Envelope: protocol.Envelope{Type: protocol.TypeSend, Ref: "two"}, ClientID: "two", Conversation: conv.ID, Body: "over"})
	if e := v.expectError(protocol.CodeRateLimited); e.Ref != "two" {
		t.Fatalf("send over the frame limit: %+v", e)
	}
	for _, ref := range []string{"r1", "r2"} {
		v.send(protocol.Resume{Envelope: protocol.Envelope{Type: protocol.TypeResume, Ref: ref}, Conversations: map[string]int64{conv.ID: 0}})
		var s protocol.Synced
		v.next(protocol.TypeSynced, &s)
		if s.Conversation != conv.ID || s.Seq < a.Seq {
			t.Fatalf("resume %s after the chat budget ran out: synced %+v", ref, s)
		}
	}
	v.send(protocol.Resume{Envelope: protocol.Envelope{Type: protocol.TypeResume, Ref: "r3"}, Conversations: map[string]int64{conv.ID: 0}})
	if e := v.expectError(protocol.CodeRateLimited); e.Ref != "r3" || !e.Retryable || e.RetryAfterMs <= 0 {
		t.Fatalf("resume over its own budget must be refused with its ref, retryable, with a delay: %+v", e)
	}
}
