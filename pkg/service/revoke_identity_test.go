package service

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// expectClosed reads until the server closes c, and checks the code.
func expectClosed(t *testing.T, c *client, code int) {
	t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			t.Fatalf("socket ended with %v, want close %d", err, code)
		}
		return
	}
}

// Rotating a site's identity secret revokes the verified visitors proven
// with the old one: their sockets close at once (4401), their tokens open
// no new socket, and nothing renews them; turning identity_required on
// does the same to anonymous visitors. Others chat on.
func TestIdentityChangesRevokeVisitors(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	h := http.Header{"Origin": {ts.origin()}}
	verified := func() (string, *client) {
		t.Helper()
		code, out := ts.session(t, widgetSessionReq{UserID: "cust-1", UserHash: auth.UserHash([]byte(ts.siteSecret(t)), "cust-1")})
		if code != http.StatusOK || !out.Visitor.Verified {
			t.Fatalf("verified session: %d %+v", code, out)
		}
		c := dial(t, ts.wsURL("/ws/visitor?token="+out.Token), h)
		c.hello(nil)
		return out.Token, c
	}
	oldToken, stolen := verified()
	anonymous := ts.visitor(t)
	anonymous.hello(nil)

	if code := admin.call(t, "POST", "/api/sites/"+ts.site.ID+"/secret", nil, nil); code != http.StatusOK {
		t.Fatalf("rotate: %d", code)
	}
	expectClosed(t, stolen, CloseRevoked)
	if _, res, err := websocket.DefaultDialer.Dial(ts.wsURL("/ws/visitor?token="+oldToken), h); err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a token proven with the old secret opened a socket: %v %v", err, res)
	}
	anonymous.ping() // not a verified visitor: untouched

	// Proven again with the new secret, the user chats; then the site
	// requires identity, and the anonymous visitor goes.
	_, again := verified()
	if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID, map[string]any{"identity_required": true}, nil); code != http.StatusOK {
		t.Fatalf("identity_required: %d", code)
	}
	expectClosed(t, anonymous, CloseRevoked)
	again.ping()
}

// A socket does not outlive its token by more than one renewal period,
// whatever keeps the renewal from happening (here the visitor is gone).
func TestSocketDoesNotOutliveItsToken(t *testing.T) {
	ts := newTestServerWith(t, storetest.SQLite(t), nil, ratelimit.Rules{}, "-visitor-token-ttl", "10s")
	v := ts.visitor(t)
	w := v.hello(nil)
	start := time.Now()
	if err := ts.st.Gorm().Exec("DELETE FROM visitors WHERE id = ?", w.Session).Error; err != nil {
		t.Fatal(err)
	}
	for {
		v.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, _, err := v.ws.ReadMessage()
		if err == nil {
			continue // pings and the like
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != CloseRevoked {
			t.Fatalf("socket ended with %v, want close %d", err, CloseRevoked)
		}
		break
	}
	if d := time.Since(start); d > 10*time.Second+10*time.Second/4+3*time.Second {
		t.Fatalf("socket lived %s past a 10 s token", d)
	}
}

// siteSecret reads the site's current identity secret.
func (ts *testServer) siteSecret(t *testing.T) string {
	t.Helper()
	site, err := ts.st.SiteByID(context.Background(), ts.site.ID)
	if err != nil {
		t.Fatal(err)
	}
	return site.Secret
}
