package service

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// Signing out of one session closes that session's sockets on every node;
// the agent's other sessions stay connected. A node that missed the sign
// out closes them at its recheck.
func TestSignOutClosesThatSessionsSockets(t *testing.T) {
	st := storetest.SQLite(t)
	shared := bus.NewMemory()
	a := newTestNode(t, st, shared, nil, ratelimit.Rules{})
	b := newTestNode(t, st, shared, nil, ratelimit.Rules{})
	deaf := newTestNode(t, st, bus.NewMemory(), nil, ratelimit.Rules{}) // hears nothing from a and b
	admin := a.signIn(t, "admin@parley.local", adminPassword)
	laptop := admin.newAgent(t, "Al", nil)
	email := mustEmail(t, admin, laptop.id)
	phone := a.signIn(t, email, "a long enough password")
	laptopSock, phoneSock := laptop.on(b).socket(t), phone.on(b).socket(t)
	phoneDeaf, laptopDeaf := phone.on(deaf).socket(t), laptop.on(deaf).socket(t)

	if code := phone.call(t, "POST", "/api/auth/logout", nil, nil); code != 200 {
		t.Fatalf("phone signs out: %d", code)
	}
	phoneSock.expectClosed("the phone's socket on another node")
	laptopSock.ping()
	phoneDeaf.ping() // not heard yet
	deaf.srv.recheckAgentConns(context.Background())
	phoneDeaf.expectClosed("the phone's socket after the recheck")
	laptopDeaf.ping()
	if code := laptop.call(t, "GET", "/api/me", nil, nil); code != 200 {
		t.Fatalf("the laptop's session: %d", code)
	}
}

// LiveSessions sees only the workspace's unexpired sessions.
func TestLiveSessionsIsScoped(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, st)
			admin := ts.signIn(t, "admin@parley.local", adminPassword)
			ctx, now := context.Background(), time.Now().UTC()
			u, _ := url.Parse(ts.URL)
			var hash string
			for _, c := range admin.hc.Jar.Cookies(u) {
				if c.Name == sessionCookie {
					hash = hashToken(c.Value)
				}
			}
			held := []string{hash, hashToken("no such session")}
			if live, err := st.Workspace(ts.site.WorkspaceID).LiveSessions(ctx, held, now); err != nil || !live[hash] || len(live) != 1 {
				t.Fatalf("own workspace: %v %v", live, err)
			}
			if live, err := st.Workspace("00000000-0000-0000-0000-000000000000").LiveSessions(ctx, held, now); err != nil || len(live) != 0 {
				t.Fatalf("other workspace: %v %v", live, err)
			}
			if live, _ := st.Workspace(ts.site.WorkspaceID).LiveSessions(ctx, held, now.Add(sessionTTL+time.Hour)); len(live) != 0 {
				t.Fatal("an expired session counts")
			}
		})
	}
}
