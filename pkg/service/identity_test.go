package service

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/store/storetest"
)

type sessionReply struct {
	Token   string
	Visitor struct {
		ID       string
		Verified bool
	}
	Code string
}

func (ts *testServer) session(t *testing.T, req widgetSessionReq) (int, sessionReply) {
	t.Helper()
	req.SiteID = ts.site.ID
	body, _ := json.Marshal(req)
	r, _ := http.NewRequest("POST", ts.URL+"/api/widget/session", bytes.NewReader(body))
	r.Header.Set("Origin", ts.origin())
	r.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out sessionReply
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func TestIdentityVerification(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	secret := []byte(ts.site.Secret)

	// The same verified user on two devices is one visitor.
	code, laptop := ts.session(t, widgetSessionReq{UserID: "cust-42", UserHash: auth.UserHash(secret, "cust-42")})
	if code != 200 || !laptop.Visitor.Verified {
		t.Fatalf("valid hash: %d %+v", code, laptop)
	}
	_, phone := ts.session(t, widgetSessionReq{UserID: "cust-42", UserHash: auth.UserHash(secret, "cust-42")})
	if phone.Visitor.ID != laptop.Visitor.ID {
		t.Fatal("a verified user must be the same visitor on every device")
	}

	// Claiming a user without the right proof is refused.
	for name, req := range map[string]widgetSessionReq{
		"wrong hash":        {UserID: "cust-42", UserHash: auth.UserHash([]byte("another secret"), "cust-42")},
		"hash of other id":  {UserID: "cust-42", UserHash: auth.UserHash(secret, "cust-43")},
		"user without hash": {UserID: "cust-42"},
		"forged jwt":        {IdentityToken: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjdXN0LTQyIn0."},
	} {
		if code, out := ts.session(t, req); code != 403 || out.Code != codeIdentity {
			t.Errorf("%s: %d %+v", name, code, out)
		}
	}

	// A verified user's token, replayed without proof, is not that user.
	code, anon := ts.session(t, widgetSessionReq{Token: laptop.Token})
	if code != 200 || anon.Visitor.ID == laptop.Visitor.ID || anon.Visitor.Verified {
		t.Fatalf("token replay without proof: %d %+v", code, anon)
	}

	// A site that requires identity refuses anonymous visitors.
	if err := ts.st.Workspace(ts.site.WorkspaceID).UpdateSite(context.Background(), ts.site.ID, ts.site.AllowedOrigins, true); err != nil {
		t.Fatal(err)
	}
	if code, out := ts.session(t, widgetSessionReq{}); code != 403 || out.Code != codeIdentity {
		t.Fatalf("required identity: %d %+v", code, out)
	}
}

func TestSitesAPI(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	_, hc := ts.agent(t)
	res, _ := hc.Get(ts.URL + "/api/sites")
	var list struct{ Sites []siteJSON }
	json.NewDecoder(res.Body).Decode(&list)
	res.Body.Close()
	if res.StatusCode != 200 || len(list.Sites) != 1 || list.Sites[0].IdentitySecret == "" {
		t.Fatalf("sites: %d %+v", res.StatusCode, list)
	}
	u, _ := url.Parse(ts.URL)
	csrf := ""
	for _, c := range hc.Jar.(*cookiejar.Jar).Cookies(u) {
		if c.Name == csrfCookie {
			csrf = c.Value
		}
	}
	patch := func(id, body, token string) int {
		r, _ := http.NewRequest("PATCH", ts.URL+"/api/sites/"+id, bytes.NewBufferString(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Origin", ts.origin())
		if token != "" {
			r.Header.Set(csrfHeader, token)
		}
		res, err := hc.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	id := list.Sites[0].ID
	if c := patch(id, `{"allowed_origins":["https://shop.example"]}`, ""); c != 403 {
		t.Fatalf("without csrf: %d", c)
	}
	if c := patch(id, `{"allowed_origins":["javascript:alert(1)"]}`, csrf); c != 400 {
		t.Fatalf("bad origin: %d", c)
	}
	if c := patch("not-a-site", `{"allowed_origins":[]}`, csrf); c != 404 {
		t.Fatalf("unknown site: %d", c)
	}
	if c := patch(id, `{"allowed_origins":["https://shop.example","`+ts.origin()+`"],"identity_required":true}`, csrf); c != 200 {
		t.Fatalf("update: %d", c)
	}
	site, _ := ts.st.Workspace(ts.site.WorkspaceID).Site(context.Background(), id)
	if site.AllowedOrigins != "https://shop.example "+ts.origin() || !site.IdentityRequired {
		t.Fatalf("stored %+v", site)
	}
}
