package service

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// A client that sends its request body slowly is cut off once
// PARLEY_HTTP_TIMEOUT has passed since its request began, whatever it
// still trickles; a WebSocket opened before it lives on past that time.
func TestSlowRequestBodyIsCutAfterTheTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	ts := newTestServerWith(t, storetest.SQLite(t), nil, ratelimit.Rules{}, "-http-timeout", timeout.String())
	v := ts.visitor(t)
	v.hello(nil)

	nc, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	io.WriteString(nc, "POST /api/widget/session HTTP/1.1\r\nHost: "+ts.Listener.Addr().String()+"\r\nOrigin: "+ts.origin()+
		"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	// The client keeps trickling a byte every 100 ms; the server must end
	// the connection anyway. Held for 20 times the timeout is a failure.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := nc.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	nc.SetReadDeadline(start.Add(20 * timeout))
	_, err = io.Copy(io.Discard, nc) // until the server closes it
	held := time.Since(start)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("a slow request body held its connection for %v (timeout %v)", held.Round(time.Millisecond), timeout)
	}
	if held < timeout {
		t.Fatalf("connection closed after %v, before the timeout %v", held, timeout)
	}
	t.Logf("slow body cut after %v (timeout %v)", held.Round(time.Millisecond), timeout)

	// The WebSocket began before the slow request, so it has been open for
	// longer than the timeout: it still answers.
	v.ping()
}

// Connections held open by one client address are capped
// (PARLEY_MAX_CONNS_PER_ADDRESS): one more is answered 429
// too_many_connections at once and closed, while another address still
// connects; a WebSocket stops counting once upgraded, and a closed
// connection frees its place.
func TestConnectionsPerAddressAreCapped(t *testing.T) {
	const max = 3
	ts := newTestServerWith(t, storetest.SQLite(t), ratelimit.NewMemory(), ratelimit.DefaultRules(), "-max-conns-per-address", "3")
	capped, ok := ts.Listener.(*capListener)
	if !ok {
		t.Fatal("the server's listener has no per-address cap")
	}
	counted := func() int {
		capped.mu.Lock()
		defer capped.mu.Unlock()
		return capped.open["127.0.0.1"]
	}
	addr := ts.Listener.Addr().String()
	get := func(local string) (*http.Response, error) {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
		return hc.Get(ts.URL + "/healthz")
	}

	// Sockets: more than the cap, each counted only until its upgrade.
	var visitors []*client
	for range max + 1 {
		token := ts.visitorToken(t)
		http.DefaultClient.CloseIdleConnections()
		waitFor(t, "the widget session's connection is closed", func() bool { return counted() == 0 })
		v := dial(t, ts.wsURL("/ws/visitor?token="+token), http.Header{"Origin": {ts.origin()}})
		v.hello(nil)
		visitors = append(visitors, v)
	}

	var held []net.Conn
	for range max {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		held = append(held, nc)
	}
	waitFor(t, "the held connections are accepted", func() bool { return counted() == max })

	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(nc, "GET /healthz HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("connection over the cap: %v, want a 429 answer", err)
	}
	body, _ := io.ReadAll(res.Body)
	var e struct{ Error, Code string }
	json.NewDecoder(bytes.NewReader(body)).Decode(&e)
	if res.StatusCode != http.StatusTooManyRequests || e.Code != "too_many_connections" || e.Error == "" {
		t.Fatalf("connection over the cap: HTTP %d %s, want 429 too_many_connections", res.StatusCode, body)
	}

	if res, err := get("127.0.0.2"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("another address while 127.0.0.1 is at the cap: %v %v", err, res)
	}
	for _, v := range visitors {
		v.ping()
	}

	held[0].Close()
	waitFor(t, "a closed connection frees its place", func() bool {
		res, err := get("127.0.0.1")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	if n := counted(); n > max {
		t.Fatalf("%d connections counted, cap %d", n, max)
	}
}
