package ratelimit

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

func TestDefaultRules(t *testing.T) {
	r := DefaultRules()
	tests := []struct {
		rule    Rule
		key     string
		limit   Limit
		subject string
	}{
		{r.SignInPerAccount, "rl:signin:acct:a-1", Limit{5, 5, time.Minute}, "a-1"},
		{r.SignInPerIP, "rl:signin:ip:203.0.113.7", Limit{20, 20, time.Minute}, "203.0.113.7"},
		{r.VisitorSessionPerIP, "rl:visitor:ip:203.0.113.7", Limit{30, 30, time.Minute}, "203.0.113.7"},
		{r.VisitorSessionPerSite, "rl:visitor:site:s-1", Limit{600, 600, time.Minute}, "s-1"},
		{r.MessagePerVisitor, "rl:msg:visitor:v-1", Limit{20, 20, 10 * time.Second}, "v-1"},
		{r.MessagePerConnection, "rl:msg:conn:c-1", Limit{10, 20, time.Second}, "c-1"},
		{r.OfflineFormPerIP, "rl:offline:ip:203.0.113.7", Limit{5, 5, time.Hour}, "203.0.113.7"},
	}
	for _, tt := range tests {
		if got := tt.rule.Key(tt.subject); got != tt.key {
			t.Errorf("key %q, want %q", got, tt.key)
		}
		if tt.rule.Limit != tt.limit {
			t.Errorf("%s: limit %s, want %s", tt.rule.Name, tt.rule.Limit, tt.limit)
		}
		if err := tt.rule.Limit.validate(); err != nil {
			t.Errorf("%s: %v", tt.rule.Name, err)
		}
	}
}

// What a person trying passwords sees: five tries a minute, then a wait.
func TestSignInRuleStopsGuessing(t *testing.T) {
	l, rule, ctx := NewMemory(), DefaultRules().SignInPerAccount, context.Background()
	for i := range 5 {
		if res, err := rule.Allow(ctx, l, "agent-7"); err != nil || !res.Allowed {
			t.Fatalf("try %d: %+v %v", i+1, res, err)
		}
	}
	res, err := rule.Allow(ctx, l, "agent-7")
	if err != nil || res.Allowed || res.RetryAfter < 11*time.Second || res.RetryAfter > 12*time.Second {
		t.Fatalf("sixth try: %+v %v, want denied for ~12s", res, err)
	}
	if res, _ := rule.Allow(ctx, l, "agent-8"); !res.Allowed {
		t.Fatal("another account blocked")
	}
}

func TestIPSubject(t *testing.T) {
	tests := []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
	}
	for _, tt := range tests {
		if got := IPSubject(netip.MustParseAddr(tt.in)); got != tt.want {
			t.Errorf("IPSubject(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := IPSubject(netip.Addr{}); got != "invalid" {
		t.Errorf("zero addr: %s", got)
	}
}
