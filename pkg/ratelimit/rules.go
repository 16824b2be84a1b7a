package ratelimit

import (
	"context"
	"net/netip"
	"time"
)

// Rule is a named limit: what is limited (Name, the key namespace) and how
// much (Limit). Keys are "rl:<Name>:<subject>".
type Rule struct {
	Name  string
	Limit Limit
}

// Key is the Limiter key for subject (an account id, a visitor id, an
// IPSubject, …).
func (r Rule) Key(subject string) string { return "rl:" + r.Name + ":" + subject }

// Allow asks l whether subject may act once more under this rule.
func (r Rule) Allow(ctx context.Context, l Limiter, subject string) (Result, error) {
	return l.Allow(ctx, r.Key(subject), r.Limit)
}

// Rules are the limits the server applies. Start from DefaultRules and
// override fields from configuration.
type Rules struct {
	// SignInPerAccount: agent sign-in attempts on one account from one
	// client address (the subject is the pair), against guessing one
	// account's password. Not per account alone: then anyone could keep
	// the owner out with a few wrong guesses a minute.
	SignInPerAccount Rule
	// SignInPerIP: sign-in attempts per client address, against one address
	// trying many accounts.
	SignInPerIP Rule
	// SecondFactorPerAccount: two-factor codes (or recovery codes) tried on
	// one account from any address, after a right password. Per account
	// alone: whoever has the password could otherwise guess 6-digit codes
	// from many addresses at once. Only someone who knows the password
	// can spend it, so it locks the owner out only of an account whose
	// password must be changed anyway.
	SecondFactorPerAccount Rule
	// VisitorSessionPerIP: new visitor sessions per client address.
	VisitorSessionPerIP Rule
	// VisitorSessionPerSite: new visitor sessions per site, a ceiling that
	// protects the workspace when a site's widget is abused from many
	// addresses.
	VisitorSessionPerSite Rule
	// MessagePerVisitor: messages a visitor may send, across connections.
	MessagePerVisitor Rule
	// MessagePerConnection: frames one WebSocket connection may send, agent
	// or visitor, so one socket cannot flood the node.
	MessagePerConnection Rule
	// ResumePerConnection: resume frames one connection may send, a budget
	// of their own: gap repair must not be refused because the connection
	// chatted (a dashboard then kept holes it did not know about). Each
	// frame is bounded (protocol.MaxResumeTopics).
	ResumePerConnection Rule
	// OfflineFormPerIP: offline-form (leave a message) posts per address.
	OfflineFormPerIP Rule
	// ConversationPerVisitor and ConversationPerSite: new conversations
	// one visitor, and one site's visitors together, may open (a visitor
	// closing and starting chats in a loop fills the agents' queues).
	ConversationPerVisitor Rule
	ConversationPerSite    Rule
	// VisitorActivityPerVisitor: reports of one visitor's widget beyond
	// chat (page views, tracked events, attributes, triggers), which it
	// batches: a page that floods them is cut off.
	VisitorActivityPerVisitor Rule
	// APIPerToken: requests one API token may make (/api/v1), so one
	// integration in a loop cannot take the node from the others.
	APIPerToken Rule
	// AssistantPerSite: answers a site's assistant gives (provider calls),
	// so a flood of questions cannot run up a hosted model's bill or hold
	// a local one; over it, visitors are handed to a person.
	AssistantPerSite Rule
	// TranslationPerSite: messages auto-translated for a site (provider
	// calls); over it, messages go through untranslated.
	TranslationPerSite Rule
}

// DefaultRules returns the limits Parley ships with.
func DefaultRules() Rules {
	return Rules{
		SignInPerAccount:          Rule{Name: "signin:acct", Limit: PerMinute(5)},
		SignInPerIP:               Rule{Name: "signin:ip", Limit: PerMinute(20)},
		SecondFactorPerAccount:    Rule{Name: "2fa:acct", Limit: Limit{Rate: 10, Burst: 10, Period: 10 * time.Minute}},
		VisitorSessionPerIP:       Rule{Name: "visitor:ip", Limit: PerMinute(30)},
		VisitorSessionPerSite:     Rule{Name: "visitor:site", Limit: PerMinute(600)},
		MessagePerVisitor:         Rule{Name: "msg:visitor", Limit: Limit{Rate: 20, Burst: 20, Period: 10 * time.Second}},
		MessagePerConnection:      Rule{Name: "msg:conn", Limit: Limit{Rate: 10, Burst: 20, Period: time.Second}},
		ResumePerConnection:       Rule{Name: "resume:conn", Limit: Limit{Rate: 5, Burst: 20, Period: time.Second}},
		OfflineFormPerIP:          Rule{Name: "offline:ip", Limit: PerHour(5)},
		ConversationPerVisitor:    Rule{Name: "conv:visitor", Limit: PerHour(10)},
		ConversationPerSite:       Rule{Name: "conv:site", Limit: PerMinute(300)},
		VisitorActivityPerVisitor: Rule{Name: "activity:visitor", Limit: PerMinute(60)},
		APIPerToken:               Rule{Name: "api:token", Limit: Limit{Rate: 600, Burst: 100, Period: time.Minute}},
		AssistantPerSite:          Rule{Name: "assistant:site", Limit: PerMinute(120)},
		TranslationPerSite:        Rule{Name: "translate:site", Limit: Limit{Rate: 600, Burst: 120, Period: time.Minute}},
	}
}

// IPSubject is the subject for per-address rules: an IPv4 address as is
// (also when IPv4-mapped in IPv6), an IPv6 address as its /64, since one
// client usually controls a whole /64 and could otherwise rotate through
// 2^64 addresses. The zero Addr gives "invalid".
func IPSubject(addr netip.Addr) string {
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.WithZone("").Prefix(64)
		return p.String()
	}
	if !addr.IsValid() {
		return "invalid"
	}
	return addr.String()
}
