package service

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// newAPIToken makes an API token as an admin does in the dashboard and
// returns its secret and id.
func newAPIToken(t *testing.T, admin *session, name, scope string) (secret, id string) {
	t.Helper()
	var out struct{ Token tokenJSON }
	if code := admin.call(t, "POST", "/api/tokens", map[string]string{"name": name, "scope": scope}, &out); code != http.StatusCreated {
		t.Fatalf("make a %s token: %d", scope, code)
	}
	if !strings.HasPrefix(out.Token.Secret, "pk_") || !strings.HasPrefix(out.Token.Secret, out.Token.Prefix) {
		t.Fatalf("token %+v: want a pk_ secret beginning with its prefix", out.Token)
	}
	return out.Token.Secret, out.Token.ID
}

// apiResult is one answer of /api/v1.
type apiResult struct {
	status int
	header http.Header
	body   []byte
	req    *http.Request
}

func (r apiResult) code() string {
	var e struct{ Code string }
	json.Unmarshal(r.body, &e)
	return e.Code
}

// apiCall calls ts with an API token ("" sends none) and extra headers.
func apiCall(t *testing.T, ts *testServer, token, method, path string, body any, headers ...string) apiResult {
	t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, ts.URL+path, bytes.NewReader(raw))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	req.Body = io.NopCloser(bytes.NewReader(raw))
	return apiResult{status: res.StatusCode, header: res.Header, body: b, req: req}
}

// loadOpenAPI reads the served document and checks it is valid OpenAPI 3.
func loadOpenAPI(t *testing.T, ts *testServer) *openapi3.T {
	t.Helper()
	res, err := http.Get(ts.URL + "/api/openapi.json")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /api/openapi.json: %v %v", err, res)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	return doc
}

// checkAgainstDoc validates an answer against the document's response
// schema for its route and status.
func checkAgainstDoc(t *testing.T, doc *openapi3.T, r apiResult) {
	t.Helper()
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	route, params, err := router.FindRoute(r.req)
	if err != nil {
		t.Fatalf("%s %s is not in the OpenAPI document: %v", r.req.Method, r.req.URL.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: r.req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Errorf("%s %s: the request does not match the document: %v", r.req.Method, r.req.URL.Path, err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.status, Header: r.header,
		Body: io.NopCloser(bytes.NewReader(r.body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s %d: the answer does not match the document: %v", r.req.Method, r.req.URL.Path, r.status, err)
	}
}

func TestOpenAPIDocumentListsExactlyTheServedV1Routes(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		doc := loadOpenAPI(t, ts)
		var inDoc, served []string
		for path, item := range doc.Paths.Map() {
			for method := range item.Operations() {
				inDoc = append(inDoc, method+" "+path)
			}
		}
		for _, r := range ts.srv.engine.Routes() {
			if strings.HasPrefix(r.Path, "/api/v1/") {
				served = append(served, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
			}
		}
		slices.Sort(inDoc)
		slices.Sort(served)
		if len(served) < 10 || !slices.Equal(inDoc, served) {
			t.Fatalf("the document lists\n%v\nthe server serves\n%v", inDoc, served)
		}
	})
}

// apiFixture is a workspace with a conversation, its admin's tokens, and
// a second workspace with its own token.
type apiFixture struct {
	admin                      *session
	read, write, revoked       string
	other                      string
	conv, visitor, site, agent string
	contact                    string
}

func newAPIFixture(t *testing.T, ts *testServer) apiFixture {
	t.Helper()
	ctx := context.Background()
	f := apiFixture{admin: ts.signIn(t, "admin@parley.local", adminPassword)}
	v := ts.visitor(t)
	w := v.hello(nil)
	conv := v.start()
	v.sendMsg(conv.ID, "m1", "hello from the visitor")
	f.conv, f.visitor, f.site, f.agent = conv.ID, w.Self.ID, ts.site.ID, f.admin.id
	link, err := ts.st.Workspace(ts.site.WorkspaceID).LinkContact(ctx, f.visitor, store.ContactFacts{Email: "crm@example.com"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.contact = link.Contact.ID
	f.read, _ = newAPIToken(t, f.admin, "reporting", "read")
	f.write, _ = newAPIToken(t, f.admin, "crm", "write")
	var revokedID string
	f.revoked, revokedID = newAPIToken(t, f.admin, "old", "write")
	if code := f.admin.call(t, "DELETE", "/api/tokens/"+revokedID, nil, nil); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	hash, _ := auth.HashPassword("intruder password")
	otherSite := store.Site{ID: uuid.NewString(), Name: "other", Secret: "s", AllowedOrigins: ts.origin()}
	intruder := store.Agent{ID: uuid.NewString(), Email: "intruder@other.test", Name: "Intruder", Role: "admin", PasswordHash: hash, Status: "online", Capacity: 5}
	if err := ts.st.CreateWorkspace(ctx, store.Workspace{ID: uuid.NewString(), Name: "Other"}, otherSite, intruder); err != nil {
		t.Fatal(err)
	}
	f.other, _ = newAPIToken(t, ts.signIn(t, intruder.Email, "intruder password"), "intruder", "write")
	return f
}

// v1Call is how each /api/v1 route is called in the tests: its path with
// the fixture's ids, and a valid body.
func (f apiFixture) v1Call(r route) (path string, body any) {
	path = r.Path
	if i := strings.Index(path, ":id"); i >= 0 {
		id := map[string]string{"/api/v1/conversations/": f.conv, "/api/v1/visitors/": f.visitor, "/api/v1/sites/": f.site, "/api/v1/contacts/": f.contact}[path[:i]]
		path = path[:i] + id + path[i+3:]
	}
	switch r.Doc.ID {
	case "postMessage":
		body = map[string]string{"agent_id": f.agent, "body": "hello from the CRM"}
	case "closeConversation":
		body = map[string]string{}
	case "updateContact":
		body = map[string]string{"status": "contacted"}
	}
	return path, body
}

func TestAPIv1EveryRouteWithNoReadRevokedAndAnotherWorkspacesToken(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		f := newAPIFixture(t, ts)
		doc := loadOpenAPI(t, ts)
		n := 0
		for _, r := range ts.srv.routes() {
			if r.Doc == nil {
				continue
			}
			n++
			key := r.Method + " " + r.Path
			path, body := f.v1Call(r)
			if res := apiCall(t, ts, "", r.Method, path, body); res.status != 401 || res.code() != codeUnauthorized || res.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s with no token: %d %s", key, res.status, res.body)
			}
			// A session cookie is not a token: sessions do not reach /api/v1.
			if code := f.admin.call(t, r.Method, path, body, nil); code != 401 {
				t.Errorf("%s with the admin's session: %d, want 401", key, code)
			}
			if res := apiCall(t, ts, "pk_not-a-real-token", r.Method, path, body); res.status != 401 || res.code() != codeInvalidToken {
				t.Errorf("%s with an unknown token: %d %s", key, res.status, res.body)
			}
			if res := apiCall(t, ts, f.revoked, r.Method, path, body); res.status != 401 || res.code() != codeTokenRevoked {
				t.Errorf("%s with a revoked token: %d %s", key, res.status, res.body)
			}
			other := apiCall(t, ts, f.other, r.Method, path, body)
			if strings.Contains(r.Path, ":id") {
				if other.status != 404 || other.code() != protocol.CodeNotFound {
					t.Errorf("%s with another workspace's token: %d %s, want 404", key, other.status, other.body)
				}
			} else {
				for _, id := range []string{f.conv, f.visitor, f.site, f.agent, f.contact} {
					if other.status != 200 || bytes.Contains(other.body, []byte(id)) {
						t.Errorf("%s with another workspace's token: %d, shows the first workspace's %s", key, other.status, id)
					}
				}
			}
			read := apiCall(t, ts, f.read, r.Method, path, body)
			want := http.StatusOK
			if r.Doc.Status != 0 {
				want = r.Doc.Status
			}
			if r.Doc.Write {
				if read.status != 403 || read.code() != codeInsufficientScope {
					t.Errorf("%s with a read token: %d %s, want 403 insufficient_scope", key, read.status, read.body)
				}
				read = apiCall(t, ts, f.write, r.Method, path, body)
			}
			if read.status != want {
				t.Errorf("%s: %d %s, want %d", key, read.status, read.body, want)
				continue
			}
			checkAgainstDoc(t, doc, read)
		}
		if n < 10 {
			t.Fatalf("%d /api/v1 routes tested", n)
		}
		// The writes happened: the CRM's message, then the close.
		ms, _ := ts.st.Workspace(ts.site.WorkspaceID).MessagesAfter(context.Background(), f.conv, 0, 100)
		var bodies []string
		for _, m := range ms {
			bodies = append(bodies, m.AuthorKind+": "+m.Body)
		}
		if !slices.Contains(bodies, "agent: hello from the CRM") {
			t.Errorf("messages %q: the posted one is missing", bodies)
		}
		if c, _ := ts.st.Workspace(ts.site.WorkspaceID).Conversation(context.Background(), f.conv); c.Status != protocol.ConversationClosed {
			t.Errorf("conversation %s after the API closed it", c.Status)
		}
	})
}

func TestAPIv1CursorPagination(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		token, _ := newAPIToken(t, admin, "export", "read")
		var convs, visitors []string
		var last string
		for i := range 5 {
			v := ts.visitor(t)
			w := v.hello(nil)
			c := v.start()
			convs, visitors = append(convs, c.ID), append(visitors, w.Self.ID)
			if i == 4 {
				for j := range 7 {
					v.sendMsg(c.ID, uuid.NewString(), "message "+string(rune('a'+j)))
				}
				last = c.ID
			}
		}
		walk := func(path string) (ids []string, pages int) {
			cursor := ""
			for {
				res := apiCall(t, ts, token, "GET", path+"&cursor="+cursor, nil)
				var page struct {
					Data []struct {
						ID  string
						Seq int64
					}
					NextCursor string `json:"next_cursor"`
				}
				if res.status != 200 || json.Unmarshal(res.body, &page) != nil {
					t.Fatalf("GET %s: %d %s", path, res.status, res.body)
				}
				pages++
				for _, d := range page.Data {
					if d.ID == "" {
						d.ID = string(rune('0' + d.Seq))
					}
					ids = append(ids, d.ID)
				}
				if page.NextCursor == "" {
					return ids, pages
				}
				cursor = page.NextCursor
			}
		}
		got, pages := walk("/api/v1/conversations?limit=2")
		slices.Reverse(convs)
		if !slices.Equal(got, convs) || pages != 3 {
			t.Errorf("conversations over %d pages: %v, want newest first %v", pages, got, convs)
		}
		got, _ = walk("/api/v1/visitors?limit=2")
		slices.Reverse(visitors)
		if !slices.Equal(got, visitors) {
			t.Errorf("visitors: %v, want newest first %v", got, visitors)
		}
		got, pages = walk("/api/v1/conversations/" + last + "/messages?limit=3")
		if len(got) != 7 || pages != 3 || got[0] != "1" || got[6] != "7" {
			t.Errorf("messages over %d pages: seqs %q, want 1 to 7 over 3", pages, got)
		}
		for _, bad := range []string{"/api/v1/conversations?limit=0", "/api/v1/conversations?limit=101", "/api/v1/conversations?cursor=zzz", "/api/v1/conversations?status=lost"} {
			if res := apiCall(t, ts, token, "GET", bad, nil); res.status != 400 || res.code() != protocol.CodeInvalid {
				t.Errorf("GET %s: %d %s, want 400 invalid", bad, res.status, res.body)
			}
		}
	})
}

func TestAPIv1IdempotencyKeys(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		token, _ := newAPIToken(t, admin, "crm", "write")
		v := ts.visitor(t)
		v.hello(nil)
		conv := v.start()
		path := "/api/v1/conversations/" + conv.ID + "/messages"
		body := map[string]string{"agent_id": admin.id, "body": "once only"}
		first := apiCall(t, ts, token, "POST", path, body, "Idempotency-Key", "order-42")
		again := apiCall(t, ts, token, "POST", path, body, "Idempotency-Key", "order-42")
		if first.status != 201 || again.status != 201 || !bytes.Equal(first.body, again.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("first %d %s, retry %d %s (replayed %q): want the same answer, replayed", first.status, first.body, again.status, again.body, again.header.Get("Idempotent-Replayed"))
		}
		other := apiCall(t, ts, token, "POST", path, map[string]string{"agent_id": admin.id, "body": "something else"}, "Idempotency-Key", "order-42")
		if other.status != 422 || other.code() != codeIdempotencyReused {
			t.Fatalf("the key with another body: %d %s, want 422", other.status, other.body)
		}
		// Keys are per workspace's token holder: without one, a retry writes again.
		apiCall(t, ts, token, "POST", path, body)
		ms, _ := ts.st.Workspace(ts.site.WorkspaceID).MessagesAfter(context.Background(), conv.ID, 0, 100)
		count := 0
		for _, m := range ms {
			if m.Body == "once only" {
				count++
			}
		}
		if count != 2 {
			t.Fatalf("%d copies stored, want 2 (one keyed request sent twice, one without a key)", count)
		}
		// The kept answer is sealed at rest like the message it holds.
		var raw string
		ts.st.Gorm().Raw("SELECT body FROM idempotency_keys WHERE idem_key = ?", "order-42").Scan(&raw)
		if raw == "" || strings.Contains(raw, "once only") {
			t.Fatalf("kept answer at rest: %q", raw)
		}
	})
}
