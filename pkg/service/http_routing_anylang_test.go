package service

import (
	"slices"
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
)

// Issue 20, defect 1: one agent online at 0/5 who lists no languages,
// another away who lists French. Visitors of any language, English or
// French, reach the first at once through the widget's own API, instead of
// the offline form (or, with relaxation, minutes of waiting).
func TestRoutingAgentWithoutLanguagesTakesAnyLanguage(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword) // lists no languages
		fleur := admin.newAgent(t, "Fleur", map[string]any{"languages": []string{"fr"}})
		admin.socket(t)
		fl := fleur.socket(t)
		fl.send(protocol.Status{Envelope: protocol.Envelope{Type: protocol.TypeStatus}, Status: protocol.StatusAway})
		// Frames are handled in order: the pong means the status was applied.
		fl.send(protocol.Ping{Envelope: protocol.Envelope{Type: protocol.TypePing, Ref: "p"}})
		fl.next(protocol.TypePong, nil)

		en, _ := ts.visitorWithLocale(t, "en-US")
		conv, _ := startSeeing(en)
		en.write(conv.ID, "m1", "Hello, I would like to know where my order is please")
		if got := openedBy(en, conv.ID); got.AgentID != admin.id {
			t.Fatalf("English visitor: %+v, want the admin (%s)", got, admin.id)
		}
		// Fleur declares French, so a French visitor is routed at once, by
		// the widget's locale.
		fr, _ := ts.visitorWithLocale(t, "fr-FR")
		if got := fr.start(); got.Status != protocol.ConversationOpen || got.AgentID != admin.id {
			t.Fatalf("French visitor: %+v, want the admin (%s)", got, admin.id)
		}
	})
}

// A new site relaxes its rules by default (60, 120, 300 s), as stored
// values the dashboard shows and edits, and "never relax" stays a choice.
func TestNewSiteHasDefaultRelaxationSteps(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		var out struct{ Routing siteRoutingJSON }
		if code := admin.call(t, "GET", "/api/sites/"+ts.site.ID+"/routing", nil, &out); code != 200 || !slices.Equal(out.Routing.RelaxAfterSeconds, []int{60, 120, 300}) {
			t.Fatalf("new site's relaxation: %d %+v", code, out.Routing)
		}
		if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID+"/routing", map[string]any{"relax_after_seconds": []int{}}, &out); code != 200 || len(out.Routing.RelaxAfterSeconds) != 0 {
			t.Fatalf("never relax: %d %+v", code, out.Routing)
		}
		if code := admin.call(t, "GET", "/api/sites/"+ts.site.ID+"/routing", nil, &out); code != 200 || len(out.Routing.RelaxAfterSeconds) != 0 {
			t.Fatalf("never relax, read back: %d %+v", code, out.Routing)
		}
	})
}
