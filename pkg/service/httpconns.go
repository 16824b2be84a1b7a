package service

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/parleychat/parley/pkg/ratelimit"
)

// HTTP connections: timeouts, and a cap per client address. A client that
// sends its request slowly, or opens connections and sends nothing, holds
// a socket and a goroutine each; the timeouts end each such connection,
// the cap bounds how many one address holds at once. Upgraded WebSockets
// have neither: their deadlines are cleared at the upgrade (hijacker), they
// are kept alive by pings and capped by claimSocket.

// ServeOn prepares hs to serve s on ln and returns the listener to serve:
// ln with the per-address cap (PARLEY_MAX_CONNS_PER_ADDRESS), and hs with
// the handler and the timeouts (PARLEY_HTTP_TIMEOUT).
func (s *Server) ServeOn(hs *http.Server, ln net.Listener) net.Listener {
	t := s.cfg.HTTPTimeout
	hs.Handler = s.Handler()
	hs.ReadHeaderTimeout = min(10*time.Second, t)
	hs.ReadTimeout = t // the whole request, body included
	hs.WriteTimeout = t
	hs.IdleTimeout = 120 * time.Second
	// With rate limits off (benchmarks, whose clients all come from one
	// address) there is no cap, as for sockets.
	if s.limiter == nil || s.cfg.MaxConnsPerAddress == 0 {
		return ln
	}
	l := &capListener{Listener: ln, srv: s, open: keyCounts{}, tls: s.cfg.TLS()}
	hs.ConnState = l.state
	return l
}

// capListener counts the open HTTP connections of each client address
// (an IPv6 client's /64, as rate limits do) and refuses one over the cap
// as soon as it is accepted, before anything is read from it. A trusted
// proxy's connections carry many clients and are not capped; the proxy
// caps its own clients.
type capListener struct {
	net.Listener
	srv *Server
	tls bool

	mu   sync.Mutex
	open keyCounts
}

// tooManyConns is the whole answer a refused plain-HTTP connection gets.
var tooManyConns = func() string {
	body := `{"error":"too many connections from your address; close some and try again","code":"too_many_connections"}`
	return "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 5\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}()

func (l *capListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.claim(l.key(nc)) {
			return nc, nil
		}
		go l.refuse(nc)
	}
}

// key is the address nc counts under; "" is not counted.
func (l *capListener) key(nc net.Conn) string {
	peer := parseHop(nc.RemoteAddr().String())
	if !peer.IsValid() || isTrusted(peer, l.srv.cfg.TrustedProxies) {
		return ""
	}
	return ratelimit.IPSubject(peer)
}

func (l *capListener) claim(key string) bool {
	if key == "" {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open.full(key, l.srv.cfg.MaxConnsPerAddress) {
		return false
	}
	l.open.add(key)
	return true
}

// state is the http.Server's ConnState hook: a connection stops counting
// when it closes, or when it is hijacked (a WebSocket, counted by
// claimSocket from then on). Both happen once per connection.
func (l *capListener) state(nc net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	key := l.key(nc)
	if key == "" {
		return
	}
	l.mu.Lock()
	l.open.drop(key)
	l.mu.Unlock()
}

// refuse answers a connection over the cap with 429 and closes it. Over
// TLS nothing can be said before a handshake, which is what the cap saves,
// so the connection just closes. The request is not read; what the client
// sent is drained for a moment so that closing does not reset the
// connection before the client has read the answer.
func (l *capListener) refuse(nc net.Conn) {
	defer nc.Close()
	if l.tls {
		return
	}
	nc.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(nc, tooManyConns); err != nil {
		return
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.CloseWrite()
		io.Copy(io.Discard, io.LimitReader(nc, 64<<10))
	}
}
