package service

import (
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// Who the client is: the TCP peer, unless the peer is a trusted proxy; then
// the right-most hop of its header that is not a trusted proxy.
func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	for _, tc := range []struct {
		name, peer, header string
		values             []string
		want               string
	}{
		{"no proxy configured", "192.0.2.7:5000", "X-Forwarded-For", []string{"198.51.100.1"}, "192.0.2.7"},
		{"untrusted peer's header is ignored", "192.0.2.7:5000", "X-Forwarded-For", []string{"10.0.0.1"}, "192.0.2.7"},
		{"trusted proxy names the client", "10.0.0.2:5000", "X-Forwarded-For", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client-written hops are not believed", "10.0.0.2:5000", "X-Forwarded-For", []string{"6.6.6.6, 7.7.7.7", "198.51.100.1"}, "198.51.100.1"},
		{"chain of trusted proxies", "10.0.0.2:5000", "X-Forwarded-For", []string{"6.6.6.6, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"all hops trusted: the left-most", "10.0.0.2:5000", "X-Forwarded-For", []string{"10.1.1.1, 10.2.2.2"}, "10.1.1.1"},
		{"no header from a trusted proxy", "10.0.0.2:5000", "X-Forwarded-For", nil, "10.0.0.2"},
		{"garbage hop: the proxy that wrote it", "10.0.0.2:5000", "X-Forwarded-For", []string{"198.51.100.1, bogus"}, "10.0.0.2"},
		{"hop with a port", "10.0.0.2:5000", "X-Forwarded-For", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"IPv6 hop in brackets", "[2001:db8:ffff::1]:443", "X-Forwarded-For", []string{"[2001:db8:1::5]"}, "2001:db8:1::5"},
		{"mapped IPv4 peer is IPv4", "[::ffff:10.0.0.2]:5000", "X-Forwarded-For", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"Forwarded", "10.0.0.2:5000", "Forwarded", []string{`for=6.6.6.6, for="[2001:db8:1::5]:4711";proto=https`, "for=10.3.3.3;by=10.0.0.2"}, "2001:db8:1::5"},
		{"Forwarded unknown hop", "10.0.0.2:5000", "Forwarded", []string{"for=198.51.100.1, for=unknown"}, "10.0.0.2"},
		{"the other header is not read", "10.0.0.2:5000", "Forwarded", nil, "10.0.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.values {
				r.Header.Add(tc.header, v)
			}
			if tc.header == "Forwarded" {
				r.Header.Set("X-Forwarded-For", "198.51.100.9") // passed on by a proxy that writes Forwarded
			}
			if got := clientAddr(r, proxies, tc.header); got.String() != tc.want {
				t.Fatalf("client %v, want %s", got, tc.want)
			}
		})
	}
	if clientAddr(&http.Request{RemoteAddr: "10.0.0.2:1"}, nil, "X-Forwarded-For").String() != "10.0.0.2" {
		t.Fatal("without trusted proxies the peer is the client")
	}
}

// Behind a trusted proxy each client has its own sign-in budget (one
// attacker no longer spends everyone's), an IPv6 client's budget is its
// /64's, and the audit log names the client, not the proxy. Without the
// setting the header is ignored.
func TestRateLimitsBehindProxy(t *testing.T) {
	rules := ratelimit.DefaultRules()
	rules.SignInPerIP.Limit = ratelimit.Limit{Rate: 2, Burst: 2, Period: time.Hour}
	login := func(t *testing.T, ts *testServer, xff, password string) int {
		t.Helper()
		req := loginRequest(ts.URL, "admin@parley.local", password)
		req.Header.Set("X-Forwarded-For", xff)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	t.Run("trusted", func(t *testing.T) {
		ts := newTestServerWith(t, storetest.SQLite(t), ratelimit.NewMemory(), rules, "-trusted-proxies", "127.0.0.1")
		for i := 0; i < 2; i++ {
			if code := login(t, ts, "203.0.113.5", "a wrong guess "+string(rune('a'+i))); code != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %d", i, code)
			}
		}
		if code := login(t, ts, "203.0.113.5", "a third guess"); code != http.StatusTooManyRequests {
			t.Fatalf("attacker's 3rd attempt: %d, want 429", code)
		}
		// Another client behind the same proxy signs in.
		if code := login(t, ts, "198.51.100.20", adminPassword); code != http.StatusOK {
			t.Fatalf("bystander behind the proxy: %d, want 200", code)
		}
		// An IPv6 client's /64 is one subject.
		login(t, ts, "2001:db8:1:2::1", "wrong one")
		login(t, ts, "2001:db8:1:2:ffff::9", "wrong two")
		if code := login(t, ts, "2001:db8:1:2:aaaa::3", adminPassword); code != http.StatusTooManyRequests {
			t.Fatalf("third address of one /64: %d, want 429", code)
		}
		if code := login(t, ts, "2001:db8:1:3::1", adminPassword); code != http.StatusOK {
			t.Fatalf("next /64: %d, want 200", code)
		}
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		var audit struct{ Entries []auditJSON }
		admin.call(t, "GET", "/api/audit", nil, &audit)
		failed := map[string]bool{}
		for _, e := range audit.Entries {
			if e.Action == "sign_in_failed" {
				failed[e.IP] = true
			}
		}
		if !failed["203.0.113.5"] || !failed["2001:db8:1:2::1"] || failed["127.0.0.1"] {
			t.Fatalf("failed sign-ins audited from %v, want the clients (203.0.113.5, 2001:db8:1:2::1), not the proxy", failed)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		ts := newTestServerWith(t, storetest.SQLite(t), ratelimit.NewMemory(), rules)
		login(t, ts, "203.0.113.5", "guess one")
		login(t, ts, "203.0.113.6", "guess two")
		if code := login(t, ts, "198.51.100.20", adminPassword); code != http.StatusTooManyRequests {
			t.Fatalf("forged X-Forwarded-For from an untrusted peer escaped the limit: %d", code)
		}
	})
}

// Wrong guesses on an account lock out the address guessing, not the
// account: its owner signs in from elsewhere with the right password.
func TestSignInGuessesDoNotLockTheOwnerOut(t *testing.T) {
	rules := ratelimit.DefaultRules()
	// 5 per account and address, as by default, but per hour: at 5 a
	// minute a slow run (seven bcrypt checks under the race detector took
	// 19 s) earns a sixth guess back before it is made.
	rules.SignInPerAccount.Limit = ratelimit.Limit{Rate: 5, Burst: 5, Period: time.Hour}
	rules.SignInPerIP.Limit = ratelimit.PerMinute(1000)
	ts := newTestServerWith(t, storetest.SQLite(t), ratelimit.NewMemory(), rules, "-trusted-proxies", "127.0.0.1")
	login := func(xff, password string) int {
		req := loginRequest(ts.URL, "Admin@parley.local", password)
		req.Header.Set("X-Forwarded-For", xff)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for i := 0; i < 5; i++ {
		if code := login("203.0.113.5", "wrong guess"); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i+1, code)
		}
	}
	if code := login("203.0.113.5", "wrong guess"); code != http.StatusTooManyRequests {
		t.Fatalf("6th guess from the attacker's address: %d, want 429", code)
	}
	if code := login("198.51.100.20", adminPassword); code != http.StatusOK {
		t.Fatalf("the owner from another address: %d, want 200", code)
	}
}
