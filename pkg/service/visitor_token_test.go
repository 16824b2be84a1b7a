package service

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

type widgetSessionReply struct {
	Token   string
	Refresh string
	Visitor struct{ ID string }
}

func (ts *testServer) widgetSessionWith(t *testing.T, req widgetSessionReq) widgetSessionReply {
	t.Helper()
	body, _ := json.Marshal(req)
	r, _ := http.NewRequest("POST", ts.URL+"/api/widget/session", bytes.NewReader(body))
	r.Header.Set("Origin", ts.origin())
	res, err := http.DefaultClient.Do(r)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("widget session: %v %v", err, res)
	}
	defer res.Body.Close()
	var out widgetSessionReply
	json.NewDecoder(res.Body).Decode(&out)
	return out
}

// Visitor tokens are short-lived: a live connection gets fresh ones; a
// widget back after expiry keeps its visitor only with its refresh secret,
// which works once (plus a short grace for a second tab).
func TestShortLivedVisitorTokens(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ts := newTestServerWith(t, st, nil, ratelimit.Rules{}, "-visitor-token-ttl", "10s")
			signer := auth.NewTokenSigner([]byte("0123456789abcdef0123456789abcdef")) // the test server's key
			first := ts.widgetSessionWith(t, widgetSessionReq{SiteID: ts.site.ID})
			if first.Refresh == "" || first.Token == "" {
				t.Fatalf("first session: %+v", first)
			}
			claims, err := signer.Verify(first.Token, time.Now())
			if err != nil || time.Until(claims.Expires) > 11*time.Second {
				t.Fatalf("token lives until %v (%v), want 10 s", claims.Expires, err)
			}

			// The live connection is handed a fresh token before expiry.
			c := dial(t, ts.wsURL("/ws/visitor?token="+first.Token), http.Header{"Origin": {ts.origin()}})
			c.hello(nil)
			var tf protocol.Token
			c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			c.next(protocol.TypeToken, &tf)
			renewed, err := signer.Verify(tf.Token, time.Now())
			if err != nil || renewed.Visitor != first.Visitor.ID || !renewed.Expires.After(claims.Expires) {
				t.Fatalf("renewed token %+v (%v), want the same visitor, later expiry", renewed, err)
			}

			// Back after expiry: the refresh secret brings the visitor back
			// and is replaced.
			expired := signer.Sign(auth.VisitorClaims{Workspace: ts.site.WorkspaceID, Site: ts.site.ID, Visitor: first.Visitor.ID, Expires: time.Now().Add(-time.Hour)})
			if res, err := http.DefaultClient.Do(mustReq(t, ts.URL+"/ws/visitor?token="+expired, ts.origin())); err != nil || res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("socket with an expired token: %v %v", err, res)
			}
			back := ts.widgetSessionWith(t, widgetSessionReq{SiteID: ts.site.ID, Token: expired, Refresh: first.Refresh})
			if back.Visitor.ID != first.Visitor.ID || back.Refresh == "" || back.Refresh == first.Refresh {
				t.Fatalf("back with the refresh secret: %+v, want visitor %s and a new secret", back, first.Visitor.ID)
			}
			// Without the secret, with a wrong one, or with the secret for
			// another site's token: a new visitor.
			for what, req := range map[string]widgetSessionReq{
				"no secret":    {SiteID: ts.site.ID, Token: expired},
				"wrong secret": {SiteID: ts.site.ID, Token: expired, Refresh: randomToken()},
				"other site": {SiteID: ts.site.ID, Refresh: back.Refresh,
					Token: signer.Sign(auth.VisitorClaims{Workspace: ts.site.WorkspaceID, Site: "other", Visitor: first.Visitor.ID, Expires: time.Now().Add(-time.Hour)})},
				"verified user's token": {SiteID: ts.site.ID, Refresh: back.Refresh,
					Token: signer.Sign(auth.VisitorClaims{Workspace: ts.site.WorkspaceID, Site: ts.site.ID, Visitor: first.Visitor.ID, UserID: "u1", Expires: time.Now().Add(-time.Hour)})},
				"forged token": {SiteID: ts.site.ID, Refresh: back.Refresh,
					Token: auth.NewTokenSigner([]byte("another-key-another-key-another!!")).Sign(auth.VisitorClaims{Workspace: ts.site.WorkspaceID, Site: ts.site.ID, Visitor: first.Visitor.ID, Expires: time.Now().Add(-time.Hour)})},
			} {
				if got := ts.widgetSessionWith(t, req); got.Visitor.ID == first.Visitor.ID {
					t.Fatalf("%s: got the visitor back", what)
				}
			}
			// The replaced secret still works within the grace (a second tab)…
			tab2 := ts.widgetSessionWith(t, widgetSessionReq{SiteID: ts.site.ID, Token: expired, Refresh: first.Refresh})
			if tab2.Visitor.ID != first.Visitor.ID {
				t.Fatalf("second tab within the grace: %+v", tab2)
			}
			// …but once two rotations have passed, it is dead.
			if got := ts.widgetSessionWith(t, widgetSessionReq{SiteID: ts.site.ID, Token: expired, Refresh: first.Refresh}); got.Visitor.ID == first.Visitor.ID {
				t.Fatal("an old refresh secret got the visitor back")
			}
			if got := ts.widgetSessionWith(t, widgetSessionReq{SiteID: ts.site.ID, Token: expired, Refresh: tab2.Refresh}); got.Visitor.ID != first.Visitor.ID {
				t.Fatal("the latest refresh secret did not get the visitor back")
			}
		})
	}
}

func mustReq(t *testing.T, url, origin string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Origin", origin)
	return r
}
