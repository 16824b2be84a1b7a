package service

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// expectClosed reads until the server closes the socket. A read that times
// out means the socket stayed open: a failure, not a close.
func (c *client) expectClosed(what string) {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("%s: socket still open", what)
		}
		return
	}
}

// on is the same browser (the same cookies) talking to another node.
func (s *session) on(ts *testServer) *session {
	return &session{ts: ts, hc: s.hc, csrf: s.csrf, id: s.id}
}

// rolesOn lists the roles the agent's live sockets on a node carry.
func rolesOn(ts *testServer, agentID string) []string {
	ts.srv.mu.Lock()
	defer ts.srv.mu.Unlock()
	var out []string
	for c := range ts.srv.conns {
		if c.p.ID == agentID {
			out = append(out, c.p.Role)
		}
	}
	return out
}

// TestRevocationReachesEveryNode: two nodes on one store and one bus. The
// admin acts on node A; the agent's sockets live on node B.
func TestRevocationReachesEveryNode(t *testing.T) {
	buses := map[string]func(t *testing.T) (bus.Bus, bus.Bus){
		"memory": func(*testing.T) (bus.Bus, bus.Bus) { m := bus.NewMemory(); return m, m },
		"redis": func(t *testing.T) (bus.Bus, bus.Bus) {
			addr := os.Getenv("PARLEY_TEST_REDIS")
			if addr == "" {
				t.Skip("PARLEY_TEST_REDIS not set")
			}
			node := func() bus.Bus {
				rdb := redis.NewClient(&redis.Options{Addr: addr})
				b := bus.NewRedis(rdb, bus.RedisOptions{})
				t.Cleanup(func() { b.Close(); rdb.Close() })
				return b
			}
			return node(), node()
		},
	}
	for busName, newBuses := range buses {
		t.Run(busName, func(t *testing.T) {
			st := storetest.SQLite(t)
			ba, bb := newBuses(t)
			a := newTestNode(t, st, ba, nil, ratelimit.Rules{})
			b := newTestNode(t, st, bb, nil, ratelimit.Rules{})

			admin := a.signIn(t, "admin@parley.local", adminPassword)
			al := admin.newAgent(t, "Al", nil)
			alSock := al.on(b).socket(t)
			adminSock := admin.on(b).socket(t)

			// A new role: the socket on B closes, the reconnect carries it.
			if code := admin.call(t, "PATCH", "/api/agents/"+al.id, map[string]any{"role": "supervisor"}, nil); code != 200 {
				t.Fatalf("role change: %d", code)
			}
			alSock.expectClosed("after a role change")
			alSock = al.on(b).socket(t)
			// The closed socket leaves node B's list when its goroutine ends.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				got := rolesOn(b, al.id)
				if len(got) == 1 && got[0] == "supervisor" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("roles on node B after reconnect: %v", got)
				}
			}
			// The same role again, or no role in the change: nothing closes.
			admin.call(t, "PATCH", "/api/agents/"+al.id, map[string]any{"role": "supervisor", "capacity": 3}, nil)
			alSock.ping()

			// Sign out everywhere on A closes Al's socket on B; the admin's
			// stays open, and Al cannot come back.
			if code := admin.call(t, "DELETE", "/api/agents/"+al.id+"/sessions", nil, nil); code != 200 {
				t.Fatalf("sign out everywhere: %d", code)
			}
			alSock.expectClosed("after sign out everywhere on another node")
			adminSock.ping()
			if code := al.on(b).call(t, "GET", "/api/me", nil, nil); code != http.StatusUnauthorized {
				t.Fatalf("signed-out agent on node B: %d", code)
			}
		})
	}
}

// TestRecheckClosesWhatTheBusMissed: a node that missed revocations (its
// Redis link was down) closes the sockets they were for when it rechecks
// after the resync.
func TestRecheckClosesWhatTheBusMissed(t *testing.T) {
	st := storetest.SQLite(t)
	a := newTestNode(t, st, bus.NewMemory(), nil, ratelimit.Rules{})
	b := newTestNode(t, st, bus.NewMemory(), nil, ratelimit.Rules{}) // not a's bus: hears nothing
	admin := a.signIn(t, "admin@parley.local", adminPassword)
	al := admin.newAgent(t, "Al", nil)
	bo := admin.newAgent(t, "Bo", nil)
	cy := admin.newAgent(t, "Cy", nil)
	alSock, boSock, cySock := al.on(b).socket(t), bo.on(b).socket(t), cy.on(b).socket(t)
	adminSock := admin.on(b).socket(t)

	admin.call(t, "DELETE", "/api/agents/"+al.id+"/sessions", nil, nil)
	admin.call(t, "PATCH", "/api/agents/"+bo.id, map[string]any{"role": "admin"}, nil)
	admin.call(t, "PATCH", "/api/agents/"+cy.id, map[string]any{"capacity": 2}, nil)
	cySock.ping()
	if got := rolesOn(b, bo.id); len(got) != 1 || got[0] != "agent" {
		t.Fatalf("node B heard the role change: %v", got)
	}

	b.srv.recheckAgentConns(context.Background())
	alSock.expectClosed("signed out, after recheck")
	boSock.expectClosed("new role, after recheck")
	cySock.ping()
	adminSock.ping()
}

// Signing out of a session without sockets leaves the agent's other
// sockets alone; signing out of the one they were opened with closes them
// on every node (agents_admin_test.go: a session's sockets only).
func TestSignOutClosesItsSocketsOnEveryNode(t *testing.T) {
	st := storetest.SQLite(t)
	shared := bus.NewMemory()
	a := newTestNode(t, st, shared, nil, ratelimit.Rules{})
	b := newTestNode(t, st, shared, nil, ratelimit.Rules{})
	admin := a.signIn(t, "admin@parley.local", adminPassword)
	laptop := admin.newAgent(t, "Al", nil)
	phone := a.signIn(t, mustEmail(t, admin, laptop.id), "a long enough password")
	sock := laptop.on(b).socket(t)

	if code := phone.call(t, "POST", "/api/auth/logout", nil, nil); code != 200 {
		t.Fatalf("phone signs out: %d", code)
	}
	sock.ping() // the laptop's session still lives
	if code := laptop.call(t, "POST", "/api/auth/logout", nil, nil); code != 200 {
		t.Fatalf("laptop signs out: %d", code)
	}
	sock.expectClosed("after the last sign out")
}
