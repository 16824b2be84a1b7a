package service

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// cookieHeader is the Cookie header of a signed-in session.
func (s *session) cookieHeader() string {
	u, _ := url.Parse(s.ts.URL)
	var parts []string
	for _, c := range s.hc.Jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// upgradeStatus dials /ws/agent with the given headers and returns the
// HTTP status of the answer (101 when it upgraded).
func upgradeStatus(t *testing.T, ts *testServer, h http.Header) int {
	t.Helper()
	ws, res, err := websocket.DefaultDialer.Dial(ts.wsURL("/ws/agent"), h)
	if err == nil {
		ws.Close()
		return http.StatusSwitchingProtocols
	}
	if res == nil {
		t.Fatalf("dial /ws/agent: %v", err)
	}
	return res.StatusCode
}

// The agent socket and the agent app's origin checks compare the Origin
// with the configured public URL, never with the Host header, which the
// client writes: a page on evil.example sending Host: evil.example, and a
// request with Origin: null and no Host at all (HTTP/1.0), are refused;
// the agent app's own origin, and a site's allowed origin for the widget,
// still pass.
func TestOriginIsComparedWithThePublicURLNotHost(t *testing.T) {
	ts := newTestServerWith(t, storetest.SQLite(t), nil, ratelimit.Rules{})
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	cookie := admin.cookieHeader()

	h := http.Header{"Cookie": {cookie}, "Origin": {"http://evil.example"}, "Host": {"evil.example"}}
	if code := upgradeStatus(t, ts, h); code != http.StatusForbidden {
		t.Errorf("agent socket from evil.example with Host: evil.example: HTTP %d, want 403", code)
	}
	h = http.Header{"Cookie": {cookie}, "Origin": {"null"}}
	if code := upgradeStatus(t, ts, h); code != http.StatusForbidden {
		t.Errorf("agent socket with Origin: null: HTTP %d, want 403", code)
	}
	if code := upgradeStatus(t, ts, http.Header{"Cookie": {cookie}}); code != http.StatusForbidden {
		t.Errorf("agent socket without Origin: HTTP %d, want 403", code)
	}

	// HTTP/1.0 without a Host header: r.Host is empty, as is the host of
	// "null".
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /ws/agent HTTP/1.0\r\nCookie: " + cookie + "\r\nOrigin: null\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	var e struct{ Code string }
	json.NewDecoder(res.Body).Decode(&e)
	if res.StatusCode != http.StatusForbidden || e.Code != codeOrigin {
		t.Errorf("HTTP/1.0 upgrade without Host, Origin: null: HTTP %d %q, want 403 %q", res.StatusCode, e.Code, codeOrigin)
	}

	h = http.Header{"Cookie": {cookie}, "Origin": {ts.origin()}}
	if code := upgradeStatus(t, ts, h); code != http.StatusSwitchingProtocols {
		t.Errorf("agent socket from the public URL's origin: HTTP %d, want 101", code)
	}
	// A development run (no PARLEY_PUBLIC_URL, loopback listen address)
	// also knows itself as localhost on the same port, not on another.
	port := ts.Listener.Addr().(*net.TCPAddr).Port
	h = http.Header{"Cookie": {cookie}, "Origin": {"http://localhost:" + strconv.Itoa(port)}}
	if code := upgradeStatus(t, ts, h); code != http.StatusSwitchingProtocols {
		t.Errorf("agent socket from localhost on the dev server's port: HTTP %d, want 101", code)
	}
	h = http.Header{"Cookie": {cookie}, "Origin": {"http://localhost:" + strconv.Itoa(port+1)}}
	if code := upgradeStatus(t, ts, h); code != http.StatusForbidden {
		t.Errorf("agent socket from localhost on another port: HTTP %d, want 403", code)
	}

	// The widget: its session from a site's allowed origin passes, a Host
	// matching a foreign Origin does not.
	if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID, map[string]any{"allowed_origins": []string{"https://shop.example"}}, nil); code != http.StatusOK {
		t.Fatalf("set allowed origins: %d", code)
	}
	widget := func(origin, host string) int {
		body, _ := json.Marshal(widgetSessionReq{SiteID: ts.site.ID, Locale: "en-US"})
		req, _ := http.NewRequest("POST", ts.URL+"/api/widget/session", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		if host != "" {
			req.Host = host
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := widget("https://shop.example", ""); code != http.StatusOK {
		t.Errorf("widget session from an allowed origin: HTTP %d, want 200", code)
	}
	if code := widget(ts.origin(), ""); code != http.StatusOK {
		t.Errorf("widget session from the chat frame (the public URL): HTTP %d, want 200", code)
	}
	if code := widget("http://evil.example", "evil.example"); code != http.StatusForbidden {
		t.Errorf("widget session from evil.example with Host: evil.example: HTTP %d, want 403", code)
	}
}
