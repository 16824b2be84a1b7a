package routing

import (
	"errors"
	"testing"
)

func TestMatchPage(t *testing.T) {
	rules := []PageRule{
		{Pattern: "/pricing*", Skill: "sales"},
		{Pattern: "/docs/*", Skill: "support"},
		{Pattern: "/docs/billing/*", Team: "billing"}, // never reached: /docs/* is first
		{Pattern: "shop.example.com/*", Team: "shop"},
		{Pattern: "/*/checkout", Skill: "payments"},
		{Pattern: "/about", Skill: "press"},
	}
	for _, tc := range []struct {
		url, want string // want: the pattern, "" for none
	}{
		{"https://example.com/pricing", "/pricing*"},
		{"https://example.com/pricing/teams?plan=pro#faq", "/pricing*"},
		{"https://example.com/PRICING", "/pricing*"},
		{"https://example.com/docs/start", "/docs/*"},
		{"https://example.com/docs/billing/vat", "/docs/*"},
		{"https://example.com/docs", ""}, // "/docs/*" needs the slash
		{"https://shop.example.com/cart", "shop.example.com/*"},
		{"https://shop.example.com/pricing", "/pricing*"}, // first match wins
		{"https://example.com/fr/checkout", "/*/checkout"},
		{"https://example.com/fr/checkout/done", ""},
		{"https://example.com/about", "/about"},
		{"https://example.com/about-us", ""},
		{"https://example.com/", ""},
		{"https://example.com", ""},
		{"", ""},
		{"::not a url", ""},
	} {
		r, ok := MatchPage(rules, tc.url)
		if ok != (tc.want != "") || r.Pattern != tc.want {
			t.Errorf("MatchPage(%q) = %q, %v; want %q", tc.url, r.Pattern, ok, tc.want)
		}
	}
	if _, ok := MatchPage(nil, "https://example.com/pricing"); ok {
		t.Error("no rules matched a page")
	}
}

func TestValidateEntryRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rules   []PageRule
		choices []Choice
		ok      bool
	}{
		{"empty", nil, nil, true},
		{"good", []PageRule{{Pattern: "/pricing*", Skill: "sales"}}, []Choice{{Label: "Sales", Skill: "sales"}, {Label: "Billing", Team: "billing"}}, true},
		{"rule without need", []PageRule{{Pattern: "/x"}}, nil, false},
		{"rule without pattern", []PageRule{{Pattern: " ", Skill: "s"}}, nil, false},
		{"skill with comma", []PageRule{{Pattern: "/x", Skill: "a,b"}}, nil, false},
		{"choice without label", nil, []Choice{{Skill: "s"}}, false},
		{"choice twice", nil, []Choice{{Label: "A", Skill: "s"}, {Label: "A", Team: "t"}}, false},
		{"choice without need", nil, []Choice{{Label: "A"}}, false},
		{"too many rules", make([]PageRule, MaxPageRules+1), nil, false},
	} {
		err := ValidatePageRules(tc.rules)
		if err == nil {
			err = ValidateChoices(tc.choices)
		}
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidRules)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
