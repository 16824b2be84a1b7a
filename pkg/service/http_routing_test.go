package service

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store"
)

// session is a signed-in agent: an HTTP client with the session cookie and
// the CSRF token, and (after socket) a live connection.
type session struct {
	ts   *testServer
	hc   *http.Client
	csrf string
	id   string
}

func (ts *testServer) signIn(t *testing.T, email, password string) *session {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &session{ts: ts, hc: &http.Client{Jar: jar}}
	var out struct{ Agent struct{ ID string } }
	if code := s.call(t, "POST", "/api/auth/login", map[string]string{"email": email, "password": password}, &out); code != 200 {
		t.Fatalf("login %s: %d", email, code)
	}
	s.id = out.Agent.ID
	u, _ := url.Parse(ts.URL)
	for _, c := range jar.Cookies(u) {
		if c.Name == csrfCookie {
			s.csrf = c.Value
		}
	}
	return s
}

// call sends a JSON request with the CSRF header and decodes the answer.
func (s *session) call(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	return s.callCSRF(t, method, path, body, out, s.csrf)
}

func (s *session) callCSRF(t *testing.T, method, path string, body, out any, csrf string) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.ts.URL+path, r)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", s.ts.origin())
	if csrf != "" {
		req.Header.Set(csrfHeader, csrf)
	}
	res, err := s.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	if out != nil {
		json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

// socket opens the agent's live connection and says hello.
func (s *session) socket(t *testing.T) *client {
	t.Helper()
	c := s.socketRaw(t)
	c.hello(nil)
	return c
}

// socketRaw opens the agent's live connection.
func (s *session) socketRaw(t *testing.T) *client {
	t.Helper()
	h := http.Header{"Origin": {s.ts.origin()}}
	u, _ := url.Parse(s.ts.URL)
	for _, c := range s.hc.Jar.Cookies(u) {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	return dial(t, s.ts.wsURL("/ws/agent"), h)
}

// newAgent creates an agent through the admin API and signs it in.
func (s *session) newAgent(t *testing.T, name string, profile map[string]any) *session {
	t.Helper()
	email := strings.ToLower(name) + "-" + uuid.NewString()[:8] + "@parley.test"
	body := map[string]any{"email": email, "name": name, "password": "a long enough password"}
	for k, v := range profile {
		body[k] = v
	}
	if code := s.call(t, "POST", "/api/agents", body, nil); code != http.StatusCreated {
		t.Fatalf("create agent %s: %d", name, code)
	}
	return s.ts.signIn(t, email, "a long enough password")
}

// visitorWithLocale opens a widget session with the browser's locale.
func (ts *testServer) visitorWithLocale(t *testing.T, locale string) (*client, string) {
	t.Helper()
	body, _ := json.Marshal(widgetSessionReq{SiteID: ts.site.ID, Locale: locale})
	req, _ := http.NewRequest("POST", ts.URL+"/api/widget/session", bytes.NewReader(body))
	req.Header.Set("Origin", ts.origin())
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("widget session: %v %v", err, res)
	}
	defer res.Body.Close()
	var out struct{ Token string }
	json.NewDecoder(res.Body).Decode(&out)
	c := dial(t, ts.wsURL("/ws/visitor?token="+out.Token), http.Header{"Origin": {ts.origin()}})
	c.hello(nil)
	return c, out.Token
}

// startSeeing sends start and returns the conversation with every frame
// that arrived before the answer (queue and offline frames are published
// while the conversation is being routed, before start is answered).
func startSeeing(c *client) (protocol.ConversationInfo, map[string][]byte) {
	c.t.Helper()
	c.send(protocol.Start{Envelope: protocol.Envelope{Type: protocol.TypeStart, Ref: "s"}})
	seen := map[string][]byte{}
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for the answer to start: %v", err)
		}
		var env protocol.Envelope
		json.Unmarshal(data, &env)
		if env.Type == protocol.TypeConversation && env.Ref == "s" {
			var f protocol.Conversation
			json.Unmarshal(data, &f)
			return f.Conversation, seen
		}
		seen[env.Type] = data
	}
}

// frame returns the frame of type typ seen before start's answer, or the
// next one.
func frame(c *client, seen map[string][]byte, typ string, v any) {
	c.t.Helper()
	if b, ok := seen[typ]; ok {
		json.Unmarshal(b, v)
		return
	}
	c.next(typ, v)
}

func TestRoutingFrenchVisitorReachesTheFrenchAgent(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		if code := admin.call(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"languages": []string{"en"}}, nil); code != 200 {
			t.Fatalf("patch admin languages: %d", code)
		}
		fleur := admin.newAgent(t, "Fleur", map[string]any{"languages": []string{"fr"}, "capacity": 3})
		admin.socket(t)
		fleur.socket(t)

		fr, _ := ts.visitorWithLocale(t, "fr-FR")
		conv := fr.start()
		if conv.Status != protocol.ConversationOpen || conv.AgentID != fleur.id || conv.Language != "fr-FR" {
			t.Fatalf("French visitor: %+v, want Fleur (%s)", conv, fleur.id)
		}
		en, _ := ts.visitorWithLocale(t, "en-GB")
		if c := en.start(); c.AgentID != admin.id {
			t.Fatalf("English visitor went to %s, want the admin", c.AgentName)
		}
		// The agent's own profile is readable by the agent; another's is not.
		var me struct{ Agent agentProfileJSON }
		if code := fleur.call(t, "GET", "/api/agents/me", nil, &me); code != 200 || me.Agent.Languages[0] != "fr" || me.Agent.Routing != "online" || me.Agent.Load != 1 {
			t.Fatalf("own profile %d %+v", code, me.Agent)
		}
		if code := fleur.call(t, "GET", "/api/agents/"+admin.id, nil, nil); code != http.StatusForbidden {
			t.Fatalf("another agent's profile: %d", code)
		}
		// Only admins edit profiles.
		if code := fleur.call(t, "PATCH", "/api/agents/"+fleur.id, map[string]any{"capacity": 50}, nil); code != http.StatusForbidden {
			t.Fatalf("agent edits own capacity: %d", code)
		}
	})
}

func TestRoutingQueuePositionsThenAssignedWhenCapacityFrees(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		if code := admin.call(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"capacity": 1}, nil); code != 200 {
			t.Fatalf("capacity: %d", code)
		}
		ag := admin.socket(t)
		v1, _ := ts.visitorWithLocale(t, "en-US")
		first := v1.start()
		if first.Status != protocol.ConversationOpen {
			t.Fatalf("first: %+v", first)
		}
		v2, _ := ts.visitorWithLocale(t, "en-US")
		second, seen := startSeeing(v2)
		if second.Status != protocol.ConversationQueued {
			t.Fatalf("second should wait: %+v", second)
		}
		var q protocol.Queue
		frame(v2, seen, protocol.TypeQueue, &q)
		if q.Conversation != second.ID || q.Position != 1 || q.EstimatedWaitSeconds <= 0 {
			t.Fatalf("queue frame %+v", q)
		}
		var queue struct{ Queue []queueEntryJSON }
		if code := admin.call(t, "GET", "/api/routing/queue", nil, &queue); code != 200 || len(queue.Queue) != 1 || queue.Queue[0].Conversation != second.ID || queue.Queue[0].Position != 1 {
			t.Fatalf("dashboard queue %d %+v", code, queue)
		}
		ag.send(protocol.Close{Envelope: protocol.Envelope{Type: protocol.TypeClose}, Conversation: first.ID})
		var f protocol.Conversation
		for f.Conversation.ID != second.ID || f.Conversation.Status != protocol.ConversationOpen {
			v2.next(protocol.TypeConversation, &f)
		}
		if f.Conversation.AgentID != admin.id {
			t.Fatalf("assigned to %+v", f.Conversation)
		}
	})
}

func TestRoutingOfflineWhenNobodyOnline(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		ts.srv.rules = ratelimit.Rules{OfflineFormPerIP: ratelimit.Rule{Name: "offline:ip", Limit: ratelimit.PerHour(2)}}
		ts.srv.limiter = ratelimit.NewMemory()
		get := func() map[string]any {
			req, _ := http.NewRequest("GET", ts.URL+"/api/widget/availability?site="+ts.site.ID, nil)
			req.Header.Set("Origin", ts.origin())
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("availability: %v %v", err, res)
			}
			defer res.Body.Close()
			var out map[string]any
			json.NewDecoder(res.Body).Decode(&out)
			return out
		}
		if av := get(); av["online"] != false || av["reason"] != "no_agent" {
			t.Fatalf("availability with nobody connected: %v", av)
		}
		v, token := ts.visitorWithLocale(t, "en-US")
		conv, seen := startSeeing(v)
		if conv.Status != protocol.ConversationOffline {
			t.Fatalf("start with nobody online: %+v", conv)
		}
		var off protocol.Offline
		frame(v, seen, protocol.TypeOffline, &off)
		if off.Reason != "no_agent" || off.Conversation != conv.ID {
			t.Fatalf("offline frame %+v", off)
		}
		post := func(body map[string]any) int {
			b, _ := json.Marshal(body)
			req, _ := http.NewRequest("POST", ts.URL+"/api/widget/offline", bytes.NewReader(b))
			req.Header.Set("Origin", ts.origin())
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		if code := post(map[string]any{"token": token, "name": "Zoé", "email": "not an email", "message": "hi"}); code != 400 {
			t.Fatalf("bad email: %d", code)
		}
		if code := post(map[string]any{"token": "forged", "name": "Zoé", "email": "zoe@example.com", "message": "hi"}); code != 401 {
			t.Fatalf("bad token: %d", code)
		}
		if code := post(map[string]any{"token": token, "client_id": "off-1", "name": "Zoé", "email": "zoe@example.com", "message": "Please call me back"}); code != 200 {
			t.Fatalf("offline form: %d", code)
		}
		// A resend (same client id) stores nothing new; the limit is per address.
		if code := post(map[string]any{"token": token, "client_id": "off-1", "name": "Zoé", "email": "zoe@example.com", "message": "Please call me back"}); code != 200 {
			t.Fatalf("offline form resend: %d", code)
		}
		if code := post(map[string]any{"token": token, "name": "Zoé", "email": "zoe@example.com", "message": "again"}); code != http.StatusTooManyRequests {
			t.Fatalf("third post within the hour: %d", code)
		}
		// An agent who signs in later sees it, with the contact and the message.
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		var list struct{ Conversations []protocol.ConversationInfo }
		admin.call(t, "GET", "/api/conversations", nil, &list)
		var found *protocol.ConversationInfo
		for i, c := range list.Conversations {
			if c.ID == conv.ID {
				found = &list.Conversations[i]
			}
		}
		if found == nil || found.Status != protocol.ConversationOffline || found.ContactEmail != "zoe@example.com" || found.ContactName != "Zoé" {
			t.Fatalf("inbox %+v", list.Conversations)
		}
		var msgs struct{ Messages []protocol.Message }
		admin.call(t, "GET", "/api/conversations/"+conv.ID+"/messages", nil, &msgs)
		if len(msgs.Messages) != 1 || msgs.Messages[0].Body != "Please call me back" {
			t.Fatalf("messages %+v", msgs.Messages)
		}
	})
}

func TestRoutingOutsideBusinessHours(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		admin.socket(t)
		// Open one minute a day, twelve hours from now: closed now.
		loc, _ := time.LoadLocation("Asia/Tokyo")
		at := time.Now().In(loc).Add(12 * time.Hour)
		slot := at.Format("15:04") + "-" + at.Add(time.Minute).Format("15:04")
		if at.Add(time.Minute).Format("15:04") == "00:00" {
			slot = at.Format("15:04") + "-24:00"
		}
		hours := map[string][]string{}
		for _, d := range []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} {
			hours[d] = []string{slot}
		}
		var out struct{ Routing siteRoutingJSON }
		code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID+"/routing", map[string]any{
			"mode": "auto", "business_hours": hours, "time_zone": "Asia/Tokyo", "relax_after_seconds": []int{30, 60}}, &out)
		if code != 200 || out.Routing.TimeZone != "Asia/Tokyo" || len(out.Routing.RelaxAfterSeconds) != 2 {
			t.Fatalf("set hours: %d %+v", code, out)
		}
		v, _ := ts.visitorWithLocale(t, "en-US")
		c, seen := startSeeing(v)
		if c.Status != protocol.ConversationOffline {
			t.Fatalf("outside hours: %+v", c)
		}
		var off protocol.Offline
		frame(v, seen, protocol.TypeOffline, &off)
		if off.Reason != "outside_hours" || off.ReopensAt == nil {
			t.Fatalf("offline frame %+v", off)
		}
		// Bad settings are refused with a reason; nothing is stored.
		for _, bad := range []map[string]any{
			{"mode": "lottery"},
			{"time_zone": "Mars/Olympus", "business_hours": map[string][]string{"mon": {"09:00-17:00"}}},
			{"business_hours": map[string][]string{"mon": {"17:00-09:00"}}},
			{"relax_after_seconds": []int{60, 30}},
		} {
			if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID+"/routing", bad, nil); code != 400 {
				t.Fatalf("bad settings %v: %d", bad, code)
			}
		}
	})
}

func TestRoutingTransferBetweenAgents(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		admin.socket(t)
		v, _ := ts.visitorWithLocale(t, "en-US")
		conv := v.start()
		if conv.AgentID != admin.id {
			t.Fatalf("start: %+v", conv)
		}
		v.sendMsg(conv.ID, "m1", "I need billing help")
		bob := admin.newAgent(t, "Bob", map[string]any{"teams": []string{"billing"}, "role": "agent"})
		bobWS := bob.socket(t)
		// Bob does not own it: an agent cannot take it over.
		if code := bob.call(t, "POST", "/api/conversations/"+conv.ID+"/transfer", map[string]any{"to_agent": bob.id}, nil); code != http.StatusForbidden {
			t.Fatalf("non-owner transfer: %d", code)
		}
		if code := admin.callCSRF(t, "POST", "/api/conversations/"+conv.ID+"/transfer", map[string]any{"to_team": "billing"}, nil, ""); code != http.StatusForbidden {
			t.Fatalf("transfer without CSRF: %d", code)
		}
		if code := admin.call(t, "POST", "/api/conversations/"+conv.ID+"/transfer", map[string]any{"to_team": "billing", "to_agent": bob.id}, nil); code != 400 {
			t.Fatalf("both targets: %d", code)
		}
		if code := admin.call(t, "POST", "/api/conversations/"+conv.ID+"/transfer", map[string]any{"to_team": "billing", "note": "wants a refund"}, nil); code != 200 {
			t.Fatalf("transfer: %d", code)
		}
		var m protocol.Message
		for m.Author.Kind != protocol.AuthorSystem || !strings.Contains(m.Body, "Bob") {
			v.next(protocol.TypeMessage, &m)
		}
		var f protocol.Conversation
		for f.Conversation.ID != conv.ID || f.Conversation.AgentID != bob.id {
			bobWS.next(protocol.TypeConversation, &f)
		}
		if f.Conversation.TransferNote != "wants a refund" {
			t.Fatalf("note %+v", f.Conversation)
		}
		// History stays whole: the visitor's message, the join, the transfer.
		var msgs struct{ Messages []protocol.Message }
		bob.call(t, "GET", "/api/conversations/"+conv.ID+"/messages", nil, &msgs)
		if len(msgs.Messages) < 3 || msgs.Messages[0].Seq != 1 {
			t.Fatalf("history %+v", msgs.Messages)
		}
		// A supervisor (the admin) reassigns it back.
		if code := admin.call(t, "POST", "/api/conversations/"+conv.ID+"/transfer", map[string]any{"to_agent": admin.id}, nil); code != 200 {
			t.Fatalf("reassign: %d", code)
		}
		c, _ := ts.st.Workspace(ts.site.WorkspaceID).Conversation(context.Background(), conv.ID)
		if c.AgentID == nil || *c.AgentID != admin.id {
			t.Fatalf("after reassign %+v", c)
		}
	})
}

func TestRoutingOfferModeAcceptAndDecline(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID+"/routing", map[string]any{"mode": "offer", "offer_timeout_seconds": 30, "max_misses": 2}, nil); code != 200 {
			t.Fatalf("offer mode: %d", code)
		}
		ag := admin.socket(t)
		v, _ := ts.visitorWithLocale(t, "en-US")
		conv := v.start()
		if conv.Status != protocol.ConversationQueued {
			t.Fatalf("offered, not yet accepted: %+v", conv)
		}
		var of protocol.Offer
		ag.next(protocol.TypeOffer, &of)
		if of.Conversation != conv.ID || of.Agent != admin.id || of.Ended {
			t.Fatalf("offer %+v", of)
		}
		if code := admin.call(t, "POST", "/api/conversations/"+conv.ID+"/decline", nil, nil); code != 200 {
			t.Fatalf("decline: %d", code)
		}
		// Declined by the only agent: offered again (nobody else can take it).
		for of.Ended || of.Conversation != conv.ID {
			ag.next(protocol.TypeOffer, &of)
		}
		if code := admin.call(t, "POST", "/api/conversations/"+conv.ID+"/accept", nil, nil); code != 200 {
			t.Fatalf("accept: %d", code)
		}
		var f protocol.Conversation
		for f.Conversation.Status != protocol.ConversationOpen {
			v.next(protocol.TypeConversation, &f)
		}
		if code := admin.call(t, "POST", "/api/conversations/"+conv.ID+"/accept", nil, nil); code != http.StatusConflict {
			t.Fatalf("second accept: %d", code)
		}
	})
}

func TestRoutingAPIsAreWorkspaceScoped(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		other := store.Agent{ID: uuid.NewString(), Email: uuid.NewString() + "@other.test", Name: "O", Role: "admin", PasswordHash: "x"}
		otherSite := store.Site{ID: uuid.NewString(), Name: "other", Secret: "s"}
		if err := ts.st.CreateWorkspace(ctx, store.Workspace{ID: uuid.NewString(), Name: "Other"}, otherSite, other); err != nil {
			t.Fatal(err)
		}
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		for _, c := range []struct{ method, path string }{
			{"PATCH", "/api/agents/" + other.ID},
			{"GET", "/api/agents/" + other.ID},
			{"GET", "/api/sites/" + otherSite.ID + "/routing"},
			{"PATCH", "/api/sites/" + otherSite.ID + "/routing"},
		} {
			if code := admin.call(t, c.method, c.path, map[string]any{"capacity": 1}, nil); code != http.StatusNotFound {
				t.Fatalf("%s %s: %d, want 404", c.method, c.path, code)
			}
		}
		if code := admin.callCSRF(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"capacity": 1}, nil, ""); code != http.StatusForbidden {
			t.Fatalf("without CSRF: %d", code)
		}
		if code := admin.call(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"capacity": -1}, nil); code != 400 {
			t.Fatalf("negative capacity: %d", code)
		}
		if code := admin.call(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"languages": []string{"<script>"}}, nil); code != 400 {
			t.Fatalf("bad language: %d", code)
		}
	})
}

// In offer mode a missed offer goes to the next agent, and after max_misses
// missed offers the agent is set away, in routing and in the store.
func TestRoutingMissedOfferGoesToTheNextAgentAndSetsAway(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID+"/routing", map[string]any{"mode": "offer", "offer_timeout_seconds": 2, "max_misses": 1}, nil); code != 200 {
			t.Fatalf("offer mode: %d", code)
		}
		ag := admin.socket(t)
		bob := admin.newAgent(t, "Bob", nil)
		bobWS := bob.socket(t)
		v, _ := ts.visitorWithLocale(t, "en-US")
		conv, _ := startSeeing(v)
		// Whoever gets the first offer lets it expire; the other gets it next.
		var first protocol.Offer
		ag.next(protocol.TypeOffer, &first)
		second := first
		for second.Agent == first.Agent || second.Ended {
			second = protocol.Offer{}
			ag.next(protocol.TypeOffer, &second)
		}
		if first.Conversation != conv.ID || second.Conversation != conv.ID {
			t.Fatalf("offers %+v then %+v", first, second)
		}
		missed := map[string]*session{admin.id: admin, bob.id: bob}[first.Agent]
		var me struct{ Agent agentProfileJSON }
		missed.call(t, "GET", "/api/agents/me", nil, &me)
		if me.Agent.Status != protocol.StatusAway || me.Agent.Routing != "away" {
			t.Fatalf("after a missed offer (max 1): %+v", me.Agent)
		}
		next := map[string]*session{admin.id: admin, bob.id: bob}[second.Agent]
		if code := next.call(t, "POST", "/api/conversations/"+conv.ID+"/accept", nil, nil); code != 200 {
			t.Fatalf("accept by the next agent: %d", code)
		}
		var f protocol.Conversation
		for f.Conversation.ID != conv.ID || f.Conversation.Status != protocol.ConversationOpen {
			bobWS.next(protocol.TypeConversation, &f)
		}
		if f.Conversation.AgentID != second.Agent {
			t.Fatalf("accepted conversation %+v", f.Conversation)
		}
	})
}

// Visitors choose only what an admin offered: a team agents belong to is
// not a choice (not listed, and a posted team name is ignored) until a
// pre-chat choice names it; then that choice routes to the team.
func TestRoutingPrechatTeamOnlyWhenOffered(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		admin.socket(t)
		bob := admin.newAgent(t, "Bob", map[string]any{"teams": []string{"billing"}})
		bob.socket(t)
		offered := func() string {
			res, err := http.Get(ts.URL + "/api/widget/availability?site=" + ts.site.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return string(b)
		}
		if av := offered(); strings.Contains(av, "billing") {
			t.Fatalf("an agent's team offered to visitors without an admin's choice: %s", av)
		}
		v, token := ts.visitorWithLocale(t, "en-US")
		if code := ts.widgetPost(t, "/api/widget/prechat", map[string]any{"token": token, "team": "billing"}, nil); code != 200 {
			t.Fatalf("prechat with a team name: %d", code)
		}
		if conv := v.start(); conv.Team != "" {
			t.Fatalf("a team nobody offered routed the conversation: %+v", conv)
		}

		choices := map[string]any{"prechat_choices": []map[string]string{{"label": "Invoices", "team": "billing"}}}
		if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID+"/routing", choices, nil); code != 200 {
			t.Fatalf("save choices: %d", code)
		}
		if av := offered(); !strings.Contains(av, `"choices":["Invoices"]`) || strings.Contains(av, "billing") {
			t.Fatalf("availability after the admin offered Invoices: %s", av)
		}
		for i := 0; i < 3; i++ { // whoever is idle longest, the team decides
			v, token := ts.visitorWithLocale(t, "en-US")
			if code := ts.widgetPost(t, "/api/widget/prechat", map[string]any{"token": token, "choice": "Invoices"}, nil); code != 200 {
				t.Fatalf("prechat: %d", code)
			}
			conv, _ := startSeeing(v)
			if conv.AgentID != bob.id || conv.Team != "billing" {
				t.Fatalf("visitor %d who chose Invoices: %+v", i, conv)
			}
		}
	})
}

// Relaxation step by step: a French visitor whose French agent is offline
// waits, then after the site's limits reaches the English agent, marked for
// translation; the reason is stored with the conversation.
func TestRoutingRelaxesToAnyLanguageWithAReason(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		admin.call(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"languages": []string{"en"}}, nil)
		admin.newAgent(t, "Fleur", map[string]any{"languages": []string{"fr"}}) // never connects
		if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID+"/routing", map[string]any{"relax_after_seconds": []int{1, 2}}, nil); code != 200 {
			t.Fatalf("relax settings: %d", code)
		}
		admin.socket(t)
		v, _ := ts.visitorWithLocale(t, "fr-CA")
		conv, _ := startSeeing(v)
		if conv.Status != protocol.ConversationQueued {
			t.Fatalf("French visitor with only an English agent online waits first: %+v", conv)
		}
		var f protocol.Conversation
		for f.Conversation.ID != conv.ID || f.Conversation.Status != protocol.ConversationOpen {
			v.next(protocol.TypeConversation, &f)
		}
		waited := time.Since(conv.CreatedAt)
		if f.Conversation.AgentID != admin.id || waited < 2*time.Second {
			t.Fatalf("assigned to %s after %v", f.Conversation.AgentName, waited)
		}
		c, _ := ts.st.Workspace(ts.site.WorkspaceID).Conversation(context.Background(), conv.ID)
		if !strings.Contains(c.RoutingReason, "relaxed to any language") || !strings.Contains(c.RoutingReason, "translat") {
			t.Fatalf("stored reason %q", c.RoutingReason)
		}
		// The visitor was told once, when the language was dropped; the
		// first step (skill) changed nothing for a conversation without one.
		ms, _ := ts.st.Workspace(ts.site.WorkspaceID).MessagesAfter(context.Background(), conv.ID, 0, 50)
		var told []string
		for _, m := range ms {
			if m.AuthorKind == protocol.AuthorSystem && strings.HasPrefix(m.ClientID, "sys:relax:") {
				told = append(told, m.Body)
			}
		}
		if len(told) != 1 || !strings.Contains(told[0], "speaks another language") {
			t.Fatalf("relaxation notices to the visitor: %q", told)
		}
	})
}
