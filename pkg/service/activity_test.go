package service

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// activityPost sends a widget report as the frame does (its origin, its
// token in the body), with extra headers; it answers the status and
// decodes the reply into out.
func (ts *testServer) activityPost(t *testing.T, path string, body map[string]any, out any, headers ...string) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", ts.URL+path, bytes.NewReader(b))
	req.Header.Set("Origin", ts.origin())
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

type pagesReply struct {
	Pages []struct {
		URL, Title, Referrer string
		UTM                  struct{ Source, Medium, Campaign, Term, Content string }
		StartedAt            time.Time `json:"started_at"`
		Seconds              int
	}
	Current *struct{ URL string }
}

// The page trail: views reach the server only when the site turned the
// trail on and (if it respects Do-Not-Track) the browser does not ask not
// to be tracked; agents read them newest first, without query strings
// (UTM parameters kept apart), with the page the visitor is on now.
func TestPageTrail(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		_, s := ts.session(t, widgetSessionReq{})
		view := func(id, url string, started time.Time, seconds int, ended bool) map[string]any {
			return map[string]any{"id": id, "url": url, "title": "Title " + id, "referrer": "https://search.example/?q=boots",
				"started_at": started.Format(time.RFC3339Nano), "seconds": seconds, "ended": ended}
		}
		now := time.Now().UTC()
		var stored struct{ Stored int }
		report := func(headers []string, views ...map[string]any) int {
			t.Helper()
			stored.Stored = -1
			return ts.activityPost(t, "/api/widget/pages", map[string]any{"token": s.Token, "views": views}, &stored, headers...)
		}

		// Off by default: nothing is kept.
		if code := report(nil, view("view-0001", "https://shop.example/a", now, 0, false)); code != 200 || stored.Stored != 0 {
			t.Fatalf("trail off: %d stored %d, want 200 stored 0", code, stored.Stored)
		}
		if code := admin.call(t, "PUT", "/api/sites/"+ts.site.ID+"/proactive", map[string]any{"page_trail": true, "respect_dnt": true}, nil); code != 200 {
			t.Fatalf("turn the trail on: %d", code)
		}
		if code := report([]string{"DNT", "1"}, view("view-0001", "https://shop.example/a", now, 0, false)); code != 200 || stored.Stored != 0 {
			t.Fatalf("DNT: %d stored %d, want 200 stored 0", code, stored.Stored)
		}
		if code := report(nil,
			view("view-0001", "https://shop.example/boots?utm_source=news&utm_medium=email&utm_campaign=winter&reset=secret#x", now.Add(-time.Minute), 40, true),
			view("view-0002", "https://shop.example/checkout", now, 0, false)); code != 200 || stored.Stored != 2 {
			t.Fatalf("report: %d stored %d", code, stored.Stored)
		}
		// The second view grows; a resent batch changes nothing more.
		for range 2 {
			if code := report(nil, view("view-0002", "https://shop.example/checkout", now, 12, false)); code != 200 {
				t.Fatalf("update: %d", code)
			}
		}
		var got pagesReply
		if code := admin.call(t, "GET", "/api/visitors/"+s.Visitor.ID+"/pages", nil, &got); code != 200 {
			t.Fatalf("pages: %d", code)
		}
		if len(got.Pages) != 2 || got.Pages[0].URL != "https://shop.example/checkout" || got.Pages[0].Seconds != 12 {
			t.Fatalf("pages, newest first: %+v", got.Pages)
		}
		old := got.Pages[1]
		if old.URL != "https://shop.example/boots" || old.Title != "Title view-0001" || old.Referrer != "https://search.example/" ||
			old.UTM.Source != "news" || old.UTM.Medium != "email" || old.UTM.Campaign != "winter" || old.Seconds != 40 {
			t.Fatalf("first page: %+v", old)
		}
		if got.Current == nil || got.Current.URL != "https://shop.example/checkout" {
			t.Fatalf("current: %+v, want the checkout page", got.Current)
		}
		// Leaving it: the visitor is on no page now.
		report(nil, view("view-0002", "https://shop.example/checkout", now, 15, true))
		got = pagesReply{}
		admin.call(t, "GET", "/api/visitors/"+s.Visitor.ID+"/pages", nil, &got)
		if got.Current != nil || got.Pages[0].Seconds != 15 {
			t.Fatalf("after leaving: current %+v, seconds %d", got.Current, got.Pages[0].Seconds)
		}

		// Bad reports are refused with a reason.
		for name, v := range map[string]map[string]any{
			"not http":  view("view-0003", "javascript:alert(1)", now, 0, false),
			"bad id":    view("x", "https://shop.example/", now, 0, false),
			"no url":    {"id": "view-0004"},
			"bad types": {"id": "view-0005", "url": "https://shop.example/", "seconds": "many"},
		} {
			var e struct{ Code string }
			if code := ts.activityPost(t, "/api/widget/pages", map[string]any{"token": s.Token, "views": []any{v}}, &e); code != 400 || e.Code != "invalid" {
				t.Errorf("%s: %d %q, want 400 invalid", name, code, e.Code)
			}
		}
		many := make([]map[string]any, maxViewsPerReport+1)
		for i := range many {
			many[i] = view("view-1"+string(rune('a'+i%26))+"000"+string(rune('a'+i/26)), "https://shop.example/", now, 0, false)
		}
		if code := report(nil, many...); code != 400 {
			t.Errorf("%d views in one report: %d, want 400", len(many), code)
		}
		if code := ts.activityPost(t, "/api/widget/pages", map[string]any{"token": "forged", "views": []any{}}, nil); code != 401 {
			t.Errorf("forged token: %d, want 401", code)
		}
	})
}

// Proactive triggers: each fires once per visitor, and no visitor gets
// more than the site's limit; a returning-visitor trigger does not fire
// for a new visitor; the settings are checked.
func TestTriggersFireOnceWithinLimit(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		var set struct {
			Proactive proactiveJSON
		}
		code := admin.call(t, "PUT", "/api/sites/"+ts.site.ID+"/proactive", map[string]any{
			"trigger_limit": 2,
			"triggers": []map[string]any{
				{"id": "trig-time", "kind": "time", "seconds": 5, "message": "Need help choosing?", "agent_id": admin.id},
				{"id": "trig-exit", "kind": "exit", "message": "Before you go: 10% off"},
				{"id": "trig-scroll", "kind": "scroll", "scroll_percent": 50, "url_contains": "/blog", "message": "Enjoying the read?"},
				{"id": "trig-back", "kind": "returning", "message": "Welcome back!"},
			},
		}, &set)
		if code != 200 || len(set.Proactive.Triggers) != 4 || set.Proactive.Triggers[0].From == "Assistant" || set.Proactive.Triggers[1].From != "Assistant" {
			t.Fatalf("set triggers: %d %+v", code, set.Proactive)
		}
		_, s := ts.session(t, widgetSessionReq{})
		fire := func(id string) (int, string, string) {
			t.Helper()
			var out struct {
				Code    string
				Trigger struct{ Message, From string }
			}
			code := ts.activityPost(t, "/api/widget/triggers/fire", map[string]any{"token": s.Token, "trigger": id}, &out)
			return code, out.Code, out.Trigger.From
		}
		if code, e, _ := fire("trig-back"); code != 409 || e != "not_returning" {
			t.Errorf("returning trigger for a new visitor: %d %q, want 409 not_returning", code, e)
		}
		if code, _, from := fire("trig-time"); code != 200 || from == "" || from == "Assistant" {
			t.Fatalf("first fire: %d from %q", code, from)
		}
		if code, e, _ := fire("trig-time"); code != 409 || e != "trigger_spent" {
			t.Errorf("the same trigger again: %d %q, want 409 trigger_spent", code, e)
		}
		if code, _, from := fire("trig-exit"); code != 200 || from != "Assistant" {
			t.Errorf("second trigger: %d from %q", code, from)
		}
		if code, e, _ := fire("trig-scroll"); code != 409 || e != "trigger_spent" {
			t.Errorf("third trigger over the limit of 2: %d %q, want 409", code, e)
		}
		if code, e, _ := fire("no-such-trigger"); code != 404 || e != "not_found" {
			t.Errorf("unknown trigger: %d %q", code, e)
		}
		// Another visitor has their own count.
		_, s2 := ts.session(t, widgetSessionReq{})
		if code := ts.activityPost(t, "/api/widget/triggers/fire", map[string]any{"token": s2.Token, "trigger": "trig-time"}, nil); code != 200 {
			t.Errorf("another visitor: %d", code)
		}
		// The widget reads the triggers without agent ids.
		res, err := http.Get(ts.URL + "/api/widget/proactive?site=" + ts.site.ID)
		if err != nil {
			t.Fatal(err)
		}
		var pub proactiveJSON
		json.NewDecoder(res.Body).Decode(&pub)
		res.Body.Close()
		if len(pub.Triggers) != 4 || pub.Triggers[0].AgentID != "" || pub.Triggers[0].From == "" || pub.TriggerLimit != 2 {
			t.Errorf("widget's view: %+v", pub)
		}

		for name, bad := range map[string]map[string]any{
			"unknown kind":  {"kind": "hover", "message": "x"},
			"no seconds":    {"kind": "time", "message": "x"},
			"scroll 0":      {"kind": "scroll", "message": "x"},
			"url without":   {"kind": "url", "message": "x"},
			"empty message": {"kind": "exit", "message": " "},
			"stranger":      {"kind": "exit", "message": "x", "agent_id": "00000000-0000-0000-0000-000000000000"},
		} {
			var e struct{ Code string }
			if code := admin.call(t, "PUT", "/api/sites/"+ts.site.ID+"/proactive", map[string]any{"triggers": []any{bad}}, &e); code != 400 || e.Code != "invalid" {
				t.Errorf("%s: %d %q, want 400 invalid", name, code, e.Code)
			}
		}
		if code := admin.call(t, "PUT", "/api/sites/"+ts.site.ID+"/proactive", map[string]any{"trigger_limit": 99}, nil); code != 400 {
			t.Errorf("limit 99: %d, want 400", code)
		}
	})
}

// A visitor who answers a proactive message starts a conversation that
// opens with it: stored first, as its own kind, in the name of the agent
// the admin chose, before the visitor's answer; a trigger the visitor was
// not shown opens nothing, and a second start stores it no second time.
func TestAnsweredProactiveMessageOpensTheConversation(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		if code := admin.call(t, "PUT", "/api/sites/"+ts.site.ID+"/proactive", map[string]any{
			"trigger_limit": 1,
			"triggers": []map[string]any{
				{"id": "trig-time", "kind": "time", "seconds": 5, "message": "Need help choosing?", "agent_id": admin.id},
				{"id": "trig-exit", "kind": "exit", "message": "Before you go: 10% off"},
			},
		}, nil); code != 200 {
			t.Fatalf("set triggers: %d", code)
		}
		ctx := context.Background()
		sc := ts.st.Workspace(ts.site.WorkspaceID)
		startWith := func(v *client, trigger string) protocol.ConversationInfo {
			t.Helper()
			v.send(protocol.Start{Envelope: protocol.Envelope{Type: protocol.TypeStart, Ref: "s"}, Trigger: trigger})
			var f protocol.Conversation
			for f.Ref != "s" {
				v.next(protocol.TypeConversation, &f)
			}
			return f.Conversation
		}
		visitorWith := func(token string) *client {
			v := dial(t, ts.wsURL("/ws/visitor?token="+token), http.Header{"Origin": {ts.origin()}})
			v.hello(nil)
			return v
		}

		// Never shown to this visitor: nothing in its name.
		_, stranger := ts.session(t, widgetSessionReq{})
		conv := startWith(visitorWith(stranger.Token), "trig-exit")
		if ms, err := sc.MessagesAfter(ctx, conv.ID, 0, 10); err != nil || len(ms) != 0 {
			t.Fatalf("a trigger the visitor was not shown: %d messages (%v)", len(ms), err)
		}

		_, s := ts.session(t, widgetSessionReq{})
		if code := ts.activityPost(t, "/api/widget/triggers/fire", map[string]any{"token": s.Token, "trigger": "trig-time"}, nil); code != 200 {
			t.Fatalf("fire: %d", code)
		}
		v := visitorWith(s.Token)
		conv = startWith(v, "trig-time")
		if ack := v.sendMsg(conv.ID, "11111111-1111-4111-8111-111111111111", "Which plan has SSO?"); ack.Seq != 2 {
			t.Fatalf("the visitor's answer has seq %d, want 2", ack.Seq)
		}
		if again := startWith(v, "trig-time"); again.ID != conv.ID {
			t.Fatal("a second start made another conversation")
		}
		ms, err := sc.MessagesAfter(ctx, conv.ID, 0, 10)
		if err != nil || len(ms) != 2 {
			t.Fatalf("messages: %d (%v), want the proactive message and the answer", len(ms), err)
		}
		m := ms[0]
		if m.Seq != 1 || m.AuthorKind != protocol.AuthorProactive || m.AuthorID != admin.id || m.AuthorName == "" || m.Body != "Need help choosing?" {
			t.Fatalf("first message: %+v", m)
		}
		if ms[1].AuthorKind != protocol.AuthorVisitor || ms[1].Body != "Which plan has SSO?" {
			t.Fatalf("second message: %+v", ms[1])
		}
	})
}

// Tracked events and typed custom attributes: stored for the visitor,
// read by agents, checked with limits.
func TestEventsAndAttributes(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		_, s := ts.session(t, widgetSessionReq{})
		post := func(path string, body map[string]any) (int, string) {
			t.Helper()
			body["token"] = s.Token
			var e struct{ Code string }
			return ts.activityPost(t, path, body, &e), e.Code
		}
		if code, _ := post("/api/widget/events", map[string]any{"name": "order_placed", "props": map[string]any{"total": 129, "currency": "EUR"}}); code != 204 {
			t.Fatalf("track: %d", code)
		}
		if code, _ := post("/api/widget/events", map[string]any{"name": "signup"}); code != 204 {
			t.Fatalf("track without props: %d", code)
		}
		for name, body := range map[string]map[string]any{
			"bad name":    {"name": "<script>"},
			"props array": {"name": "x", "props": []int{1}},
		} {
			if code, e := post("/api/widget/events", body); code != 400 || e != "invalid" {
				t.Errorf("%s: %d %q", name, code, e)
			}
		}
		big := map[string]any{"blob": string(bytes.Repeat([]byte("x"), maxEventProps))}
		if code, _ := post("/api/widget/events", map[string]any{"name": "big", "props": big}); code != 413 {
			t.Errorf("props over the limit: %d, want 413", code)
		}
		var events struct {
			Events []struct {
				Name  string
				Props map[string]any
			}
		}
		if code := admin.call(t, "GET", "/api/visitors/"+s.Visitor.ID+"/events", nil, &events); code != 200 || len(events.Events) != 2 ||
			events.Events[0].Name != "signup" || events.Events[1].Props["currency"] != "EUR" {
			t.Fatalf("events: %+v", events)
		}

		code, _ := post("/api/widget/attributes", map[string]any{"attributes": map[string]any{
			"plan":     map[string]any{"type": "string", "value": "pro"},
			"seats":    map[string]any{"type": "number", "value": 12},
			"trial":    map[string]any{"type": "boolean", "value": false},
			"renew_at": map[string]any{"type": "date", "value": "2027-01-31T10:00:00+01:00"},
		}})
		if code != 200 {
			t.Fatalf("set attributes: %d", code)
		}
		if code, _ := post("/api/widget/attributes", map[string]any{"attributes": map[string]any{"trial": nil, "plan": map[string]any{"type": "string", "value": "team"}}}); code != 200 {
			t.Fatalf("change attributes: %d", code)
		}
		for name, attrs := range map[string]map[string]any{
			"bad key":        {"Plan!": map[string]any{"type": "string", "value": "x"}},
			"wrong type":     {"seats": map[string]any{"type": "number", "value": "12"}},
			"bad date":       {"renew_at": map[string]any{"type": "date", "value": "tomorrow"}},
			"unknown type":   {"x": map[string]any{"type": "list", "value": []int{}}},
			"string too big": {"x": map[string]any{"type": "string", "value": string(bytes.Repeat([]byte("y"), maxAttributeString+1))}},
		} {
			if code, e := post("/api/widget/attributes", map[string]any{"attributes": attrs}); code != 400 || e != "invalid" {
				t.Errorf("%s: %d %q", name, code, e)
			}
		}
		var attrs struct{ Attributes map[string]store.Attribute }
		if code := admin.call(t, "GET", "/api/visitors/"+s.Visitor.ID+"/attributes", nil, &attrs); code != 200 {
			t.Fatalf("attributes: %d", code)
		}
		a := attrs.Attributes
		if len(a) != 3 || a["plan"].Value != "team" || a["seats"].Value != float64(12) || a["renew_at"].Value != "2027-01-31T09:00:00Z" || a["renew_at"].Type != "date" {
			t.Fatalf("attributes read back: %+v", a)
		}
		// Over the number of attributes a visitor may have: refused whole.
		many := map[string]any{}
		for i := range maxAttributes {
			many["k"+string(rune('a'+i%26))+string(rune('a'+i/26))] = map[string]any{"type": "boolean", "value": true}
		}
		if code, _ := post("/api/widget/attributes", map[string]any{"attributes": many}); code != 400 {
			t.Errorf("more than %d attributes in all: %d, want 400", maxAttributes, code)
		}
	})
}

// Pages, event properties and attribute values are sealed on disk.
func TestVisitorActivitySealedOnDisk(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	st, err := store.Open(ctx, path, store.WithSealer(storetest.Keyring(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ts := newTestServer(t, st)
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	admin.call(t, "PUT", "/api/sites/"+ts.site.ID+"/proactive", map[string]any{"page_trail": true}, nil)
	_, s := ts.session(t, widgetSessionReq{})
	const page, title, prop, attr = "/planted-path-quixotic", "Planted Title Zebulon", "planted-prop-value", "planted-attribute-value"
	ts.activityPost(t, "/api/widget/pages", map[string]any{"token": s.Token, "views": []any{map[string]any{
		"id": "view-sealed", "url": "https://shop.example" + page, "title": title, "started_at": time.Now().UTC()}}}, nil)
	ts.activityPost(t, "/api/widget/events", map[string]any{"token": s.Token, "name": "e", "props": map[string]any{"p": prop}}, nil)
	ts.activityPost(t, "/api/widget/attributes", map[string]any{"token": s.Token, "attributes": map[string]any{"a": map[string]any{"type": "string", "value": attr}}}, nil)
	var got pagesReply
	if admin.call(t, "GET", "/api/visitors/"+s.Visitor.ID+"/pages", nil, &got); len(got.Pages) != 1 || got.Pages[0].Title != title {
		t.Fatalf("read back: %+v", got)
	}
	var raw []byte
	for _, f := range []string{path, path + "-wal"} {
		b, _ := os.ReadFile(f)
		raw = append(raw, b...)
	}
	for _, planted := range []string{page, title, prop, attr} {
		if bytes.Contains(raw, []byte(planted)) {
			t.Errorf("the database file holds %q in clear", planted)
		}
	}
}
