package service

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Workspace isolation, generated from the server's own lists: every route
// with a path parameter (Server.routes) and every client frame that names a
// conversation (protocol.ClientFrames) is called by a second workspace's
// admin with the first workspace's ids, and must answer 404 / not_found —
// never 403, which would reveal that the id exists. A new route or frame
// that is not covered here fails the test until it is added below.

// idRoutes says which of the first workspace's ids each id-bearing route is
// called with, by "METHOD path"; body is a valid request body.
var idRoutes = map[string]struct {
	id   string // which of the first workspace\'s ids (the ids map below)
	body map[string]any
	// upload: the body is a multipart file upload (http_attachments.go).
	upload bool
}{
	"GET /api/conversations/:id/messages":         {id: "conversation"},
	"GET /api/conversations/:id/routing":          {id: "conversation"},
	"POST /api/conversations/:id/transfer":        {id: "conversation", body: map[string]any{"to_team": "billing"}},
	"POST /api/conversations/:id/accept":          {id: "conversation"},
	"POST /api/conversations/:id/decline":         {id: "conversation"},
	"PATCH /api/conversations/:id/routing":        {id: "conversation", body: map[string]any{"priority": 1}},
	"GET /api/agents/:id":                         {id: "agent"},
	"PATCH /api/agents/:id":                       {id: "agent", body: map[string]any{"capacity": 1}},
	"DELETE /api/agents/:id/sessions":             {id: "agent"},
	"POST /api/agents/:id/disable":                {id: "agent"},
	"POST /api/agents/:id/enable":                 {id: "agent"},
	"POST /api/agents/:id/totp/reset":             {id: "agent"},
	"GET /api/sites/:id":                          {id: "site"},
	"PATCH /api/sites/:id":                        {id: "site", body: map[string]any{"allowed_origins": []string{}}},
	"DELETE /api/sites/:id":                       {id: "site"},
	"POST /api/sites/:id/secret":                  {id: "site"},
	"GET /api/sites/:id/routing":                  {id: "site"},
	"PATCH /api/sites/:id/routing":                {id: "site", body: map[string]any{"mode": "auto"}},
	"PUT /api/sites/:id/calls":                    {id: "site", body: map[string]any{"visitor_calls": true}},
	"DELETE /api/invites/:id":                     {id: "invite"},
	"GET /api/sites/:id/proactive":                {id: "site"},
	"PUT /api/sites/:id/proactive":                {id: "site", body: map[string]any{"page_trail": true}},
	"GET /api/visitors/:id/pages":                 {id: "visitor"},
	"GET /api/visitors/:id/events":                {id: "visitor"},
	"GET /api/visitors/:id/attributes":            {id: "visitor"},
	"POST /api/email/outbox/:id/retry":            {id: "mail"},
	"GET /api/conversations/:id/notes":            {id: "conversation"},
	"POST /api/conversations/:id/notes":           {id: "conversation", body: map[string]any{"body": "intruder note"}},
	"PATCH /api/canned/:id":                       {id: "canned", body: map[string]any{"shortcut": "x", "body": "intruder"}},
	"DELETE /api/canned/:id":                      {id: "canned"},
	"POST /api/conversations/:id/state":           {id: "conversation", body: map[string]any{"state": "pending"}},
	"GET /api/conversations/:id/tags":             {id: "conversation"},
	"POST /api/conversations/:id/attachments":     {id: "conversation", upload: true},
	"GET /api/conversations/:id/attachments/:aid": {id: "conversation"},
	"PUT /api/conversations/:id/tags":             {id: "conversation", body: map[string]any{"tags": []string{}}},
	"DELETE /api/tags/:id":                        {id: "tag"},
	"GET /api/visitors/:id/export":                {id: "visitor"},
	"DELETE /api/visitors/:id":                    {id: "visitor"},
	"GET /api/visitors/:id":                       {id: "visitor"},
	"PATCH /api/visitors/:id":                     {id: "visitor", body: map[string]any{"phone": "+351 21 000 0000"}},
	"GET /api/agents/:id/status-history":          {id: "agent"},
	"DELETE /api/tokens/:id":                      {id: "token"},
	"DELETE /api/webhooks/:id":                    {id: "webhook"},
	"GET /api/webhooks/:id/deliveries":            {id: "webhook"},
	"PATCH /api/webhooks/:id":                     {id: "webhook", body: map[string]any{"url": "https://hooks.example.com/intruder", "events": []string{"message.created"}}},
	"POST /api/webhooks/:id/secret":               {id: "webhook"},
	"POST /api/webhooks/:id/test":                 {id: "webhook"},
	"POST /api/conversations/:id/transcript":      {id: "conversation"},
	"POST /api/webhook-deliveries/:id/replay":     {id: "delivery"},
	// /api/v1 is called with the other workspace's write token.
	"GET /api/v1/conversations/:id":           {id: "conversation"},
	"GET /api/v1/conversations/:id/messages":  {id: "conversation"},
	"POST /api/v1/conversations/:id/messages": {id: "conversation", body: map[string]any{"agent_id": "x", "body": "intruder"}},
	"POST /api/v1/conversations/:id/close":    {id: "conversation", body: map[string]any{}},
	"GET /api/v1/visitors/:id":                {id: "visitor"},
	"GET /api/v1/contacts/:id":                {id: "contact"},
	"PATCH /api/v1/contacts/:id":              {id: "contact", body: map[string]any{"status": "lost"}},
	"GET /api/contacts/:id":                   {id: "contact"},
	"PATCH /api/contacts/:id":                 {id: "contact", body: map[string]any{"status": "lost"}},
	"DELETE /api/contacts/:id":                {id: "contact"},
	"DELETE /api/v1/contacts/:id":             {id: "contact"},
	"GET /api/v1/sites/:id":                   {id: "site"},
	"GET /api/sites/:id/articles":             {id: "site"},
	"POST /api/sites/:id/articles":            {id: "site", body: map[string]any{"title": "intruder"}},
	"POST /api/sites/:id/articles/import":     {id: "site", body: map[string]any{"files": []map[string]any{{"name": "a.md", "content": "# Returns\n\nThirty days."}}}},
	"GET /api/articles/:id":                   {id: "article"},
	"PATCH /api/articles/:id":                 {id: "article", body: map[string]any{"title": "intruder"}},
	"DELETE /api/articles/:id":                {id: "article"},
	"GET /api/sites/:id/assistant":            {id: "site"},
	"PUT /api/sites/:id/assistant":            {id: "site", body: map[string]any{"mode": "first", "provider": "builtin"}},
	"GET /api/sites/:id/translation":          {id: "site"},
	"PUT /api/sites/:id/translation":          {id: "site", body: map[string]any{"provider": "off"}},
	"POST /api/sites/:id/translation/test":    {id: "site", body: map[string]any{"provider": "apertium"}},
}

// notIDBearing lists the routes whose path parameter is not a workspace's
// id, and why.
var notIDBearing = map[string]string{
	"POST /api/widget/conversations/:id/attachments":     "the visitor token's own conversation; a stranger's gets 404 (TestAttachmentsBothWays)",
	"GET /api/widget/conversations/:id/attachments/:aid": "the visitor token's own conversation; a stranger's gets 404 (TestAttachmentsBothWays)",
	"GET /widget/:file":                  "a static file of the widget",
	"GET /app/*file":                     "a static file of the agent app",
	"GET " + invitePathPrefix + ":token": "an invite token (the token itself is the credential; tested in security_test.go)",
	"GET /help/:site":                    "a site's public help page: published articles are public (TestHelpPages: a site's own only)",
	"GET /help/:site/:article":           "a published article's public page (TestHelpPages: under its own site only)",
}

// conversationFrames builds a valid frame of each client frame type that
// names a conversation, for conversation id conv.
var conversationFrames = map[string]func(conv string) any{
	protocol.TypeHello: func(conv string) any {
		return protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello, Ref: "x"}, V: 1, Resume: map[string]int64{conv: 0}}
	},
	protocol.TypeResume: func(conv string) any {
		return protocol.Resume{Envelope: protocol.Envelope{Type: protocol.TypeResume, Ref: "x"}, Conversations: map[string]int64{conv: 0}}
	},
	protocol.TypeSend: func(conv string) any {
		return protocol.Send{Envelope: protocol.Envelope{Type: protocol.TypeSend, Ref: "x"}, ClientID: "x", Conversation: conv, Body: "intruder"}
	},
	protocol.TypeTyping: func(conv string) any {
		return protocol.Typing{Envelope: protocol.Envelope{Type: protocol.TypeTyping, Ref: "x"}, Conversation: conv}
	},
	protocol.TypeRead: func(conv string) any {
		return protocol.Read{Envelope: protocol.Envelope{Type: protocol.TypeRead, Ref: "x"}, Conversation: conv, Seq: 1}
	},
	protocol.TypeClose: func(conv string) any {
		return protocol.Close{Envelope: protocol.Envelope{Type: protocol.TypeClose, Ref: "x"}, Conversation: conv}
	},
	"call": func(conv string) any {
		return map[string]any{"type": "call", "ref": "x", "conversation": conv, "action": "hangup"}
	},
}

// namesConversation reports whether a frame struct has a conversation id
// field (a string or a map keyed by conversation id).
func namesConversation(f any) bool {
	t := reflect.TypeOf(f).Elem()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		if tag == "conversation" || tag == "conversations" || tag == "resume" {
			return true
		}
	}
	return false
}

// withParam puts id in place of the path's parameter.
func withParam(path, id string) string {
	i := strings.Index(path, ":")
	j := strings.IndexByte(path[i:], '/')
	if j < 0 {
		return path[:i] + id
	}
	return path[:i] + id + path[i+j:]
}

func TestCrossWorkspaceAccessIsNotFound(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		// The first workspace (the test server's): a conversation with a
		// message, its admin, its site, a pending invite.
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		v := ts.visitor(t)
		v.hello(nil)
		conv := v.start()
		v.sendMsg(conv.ID, "m1", "private")
		var inv struct{ Invite inviteJSON }
		if code := admin.call(t, "POST", "/api/invites", map[string]string{"email": "someone@example.com", "role": "agent"}, &inv); code != http.StatusCreated {
			t.Fatalf("invite: %d", code)
		}
		art := admin.addArticle(t, ts.site.ID, "Private draft", "first workspace only")
		var tag struct{ Tag tagJSON }
		if code := admin.call(t, "POST", "/api/tags", map[string]string{"name": "vip"}, &tag); code != http.StatusCreated {
			t.Fatalf("tag: %d", code)
		}
		ids := map[string]string{"conversation": conv.ID, "agent": admin.id, "site": ts.site.ID, "invite": inv.Invite.ID, "visitor": conv.VisitorID,
			"tag": tag.Tag.ID, "article": art.ID}
		first := ts.st.Workspace(ts.site.WorkspaceID)
		if err := first.QueueMail(ctx, "", 0, 0, []store.MailOut{{Kind: "test", ToAddress: "a@example.test", Subject: "s", Body: "b"}}); err != nil {
			t.Fatal(err)
		}
		mails, err := first.Mails(ctx, 1)
		if err != nil || len(mails) != 1 {
			t.Fatalf("queued mail: %v", err)
		}
		ids["mail"] = strconv.FormatInt(mails[0].ID, 10)
		var canned struct{ Canned cannedJSON }
		if code := admin.call(t, "POST", "/api/canned", map[string]string{"shortcut": "hi", "body": "Hello", "scope": "team"}, &canned); code != http.StatusCreated {
			t.Fatalf("canned reply: %d", code)
		}
		ids["canned"] = canned.Canned.ID
		_, tokenID := newAPIToken(t, admin, "first", "read")
		var hook struct{ Webhook webhookJSON }
		if code := admin.call(t, "POST", "/api/webhooks", map[string]any{"url": "https://hooks.example.com/parley", "events": []string{"conversation.closed"}}, &hook); code != http.StatusCreated {
			t.Fatalf("webhook: %d", code)
		}
		delivery := store.WebhookDelivery{ID: uuid.NewString(), WebhookID: hook.Webhook.ID, EventID: "evt_x", Event: "conversation.closed", Payload: "{}"}
		if err := ts.st.Workspace(ts.site.WorkspaceID).EnqueueDeliveries(ctx, []store.WebhookDelivery{delivery}); err != nil {
			t.Fatal(err)
		}
		ids["token"], ids["webhook"], ids["delivery"] = tokenID, hook.Webhook.ID, delivery.ID
		contact, err := first.LinkContact(ctx, conv.VisitorID, store.ContactFacts{Email: "first@example.com"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ids["contact"] = contact.Contact.ID

		// The second workspace, with its own admin and site.
		hash, _ := auth.HashPassword("intruder password")
		otherSite := store.Site{ID: uuid.NewString(), Name: "other", Secret: "s", AllowedOrigins: ts.origin()}
		intruder := store.Agent{ID: uuid.NewString(), Email: "intruder@other.test", Name: "Intruder", Role: "admin", PasswordHash: hash, Status: "online", Capacity: 5}
		if err := ts.st.CreateWorkspace(ctx, store.Workspace{ID: uuid.NewString(), Name: "Other"}, otherSite, intruder); err != nil {
			t.Fatal(err)
		}
		other := ts.signIn(t, intruder.Email, "intruder password")
		otherToken, _ := newAPIToken(t, other, "intruder", "write")

		// Search takes no id but reads every conversation: the first
		// workspace's message, indexed, is found there and not here.
		if _, err := ts.st.IndexMessages(ctx, 100, time.Now().Add(time.Minute), 0); err != nil {
			t.Fatal(err)
		}
		var found struct{ Messages []searchHitJSON }
		if code := admin.call(t, "GET", "/api/search?q=private", nil, &found); code != http.StatusOK || len(found.Messages) != 1 {
			t.Fatalf("the first workspace's search: %d %+v", code, found)
		}
		if code := other.call(t, "GET", "/api/search?q=private", nil, &found); code != http.StatusOK || len(found.Messages) != 0 {
			t.Fatalf("another workspace's search found %+v (%d)", found, code)
		}

		covered := map[string]bool{}
		for _, r := range ts.srv.routes() {
			key := r.Method + " " + r.Path
			if !strings.ContainsAny(r.Path, ":*") {
				continue
			}
			if _, ok := notIDBearing[key]; ok {
				covered[key] = true
				continue
			}
			spec, ok := idRoutes[key]
			if !ok {
				t.Errorf("%s takes an id but is not in idRoutes (or notIDBearing): add it to the cross-workspace test", key)
				continue
			}
			covered[key] = true
			path := withParam(r.Path, ids[spec.id])
			var e struct{ Code string }
			var code int
			if spec.upload {
				var up uploadResult
				code, up = upload(t, other.hc, ts.URL+path, "", other.csrf, "intruder-1", "x.png", pngBytes)
				e.Code = up.Code
			} else if strings.HasPrefix(r.Path, "/api/v1/") {
				res := apiCall(t, ts, otherToken, r.Method, path, spec.body)
				code, e.Code = res.status, res.code()
			} else {
				code = other.call(t, r.Method, path, spec.body, &e)
			}
			if code != http.StatusNotFound || e.Code != protocol.CodeNotFound {
				t.Errorf("%s with another workspace's %s id: %d %q, want 404 not_found", key, spec.id, code, e.Code)
			}
		}
		for key := range idRoutes {
			if !covered[key] {
				t.Errorf("idRoutes lists %s, which is no longer a route", key)
			}
		}

		// Every client frame that names a conversation, from the other
		// workspace's agent and visitor.
		otherVisitor := func() *client {
			body, _ := json.Marshal(widgetSessionReq{SiteID: otherSite.ID})
			req, _ := http.NewRequest("POST", ts.URL+"/api/widget/session", strings.NewReader(string(body)))
			req.Header.Set("Origin", ts.origin())
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("other visitor: %v %v", err, res)
			}
			defer res.Body.Close()
			var out struct{ Token string }
			json.NewDecoder(res.Body).Decode(&out)
			return dial(t, ts.wsURL("/ws/visitor?token="+out.Token), http.Header{"Origin": {ts.origin()}})
		}
		for typ, f := range protocol.ClientFrames() {
			if !namesConversation(f) {
				continue
			}
			example, ok := conversationFrames[typ]
			if !ok {
				t.Errorf("client frame %q names a conversation but is not in conversationFrames: add it to the cross-workspace test", typ)
				continue
			}
			for who, open := range map[string]func() *client{"agent": func() *client { return other.socketRaw(t) }, "visitor": otherVisitor} {
				c := open()
				if typ != protocol.TypeHello {
					c.hello(nil)
				}
				c.send(example(conv.ID))
				if e := c.expectError(protocol.CodeNotFound); e.Ref != "x" {
					t.Errorf("%s frame from the other workspace's %s: error ref %q", typ, who, e.Ref)
				}
				c.ws.Close()
			}
		}

		// Nothing reached the first workspace's conversation.
		var msgs struct{ Messages []protocol.Message }
		if code := admin.call(t, "GET", "/api/conversations/"+conv.ID+"/messages", nil, &msgs); code != 200 || len(msgs.Messages) != 1 {
			t.Fatalf("first workspace's conversation: %d, %d messages, want 1", code, len(msgs.Messages))
		}
		if c, err := ts.st.Workspace(ts.site.WorkspaceID).Conversation(ctx, conv.ID); err != nil || c.Status == "closed" {
			t.Fatalf("first workspace's conversation: %+v %v, want still open", c, err)
		}
	})
}
