package fleet

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

const (
	adminEmail    = "admin@fleet.test"
	adminPassword = "ocean lantern grammar 7"
)

// fleet is three signaling nodes, and relays, on a PostgreSQL and a Redis
// of the test's own, as README's "Running a fleet" lays them out.
type fleet struct {
	t        *testing.T
	postgres *postgres
	redis    *redisServer
	nodes    []*node
	relays   []*node
	public   string // the origin browsers send: the load balancer's URL
	admin    *session
	siteID   string

	mu sync.Mutex // guards node.dead for live
}

// startFleet starts the fleet with n relays; env is added to every
// signaling node's. It skips the test where the fleet cannot run.
func startFleet(t *testing.T, relays int, env ...string) *fleet {
	t.Helper()
	if os.Getenv("PARLEY_TEST_POSTGRES") == "" || os.Getenv("PARLEY_TEST_REDIS") == "" {
		t.Skip("PARLEY_TEST_POSTGRES and PARLEY_TEST_REDIS not set (the fleet tests run their own, but only where both are installed)")
	}
	if testing.Short() {
		t.Skip("the fleet tests take a minute each")
	}
	f := &fleet{t: t, postgres: startPostgres(t), redis: startRedis(t)}
	bin := build(t, "signaling")

	// What every node shares: the store, the bus, the visitor-token secret,
	// the encryption keys and the relay secret; the public URL is the load
	// balancer's, the origin browsers send whichever node they reach.
	secret, key, relaySecret := make([]byte, 32), make([]byte, 32), make([]byte, 32)
	rand.Read(secret)
	rand.Read(key)
	rand.Read(relaySecret)
	ports := []int{freePort(t), freePort(t), freePort(t)}
	f.public = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	shared := append([]string{
		"PARLEY_DATABASE_URL=" + f.postgres.url(), "PARLEY_REDIS_URL=" + f.redis.url(),
		"PARLEY_SECRET=" + hex.EncodeToString(secret), "PARLEY_ENCRYPTION_KEYS=k1:" + base64.StdEncoding.EncodeToString(key),
		"PARLEY_PUBLIC_URL=" + f.public, "PARLEY_ADMIN_EMAIL=" + adminEmail, "PARLEY_ADMIN_PASSWORD=" + adminPassword,
		"PARLEY_RELAY_SECRET=" + hex.EncodeToString(relaySecret), "PARLEY_SHUTDOWN_GRACE=2s",
	}, env...)
	logs := t.TempDir()
	for i, port := range ports {
		n := &node{t: t, name: fmt.Sprintf("node%d", i+1), bin: bin, addr: fmt.Sprintf("127.0.0.1:%d", port),
			log: fmt.Sprintf("%s/node%d.log", logs, i+1)}
		n.env = append(slices.Clone(shared), "PARLEY_ADDR="+n.addr, fmt.Sprintf("PARLEY_DATA_DIR=%s/data%d", logs, i+1))
		f.nodes = append(f.nodes, n)
	}
	t.Cleanup(func() {
		for _, n := range append(slices.Clone(f.nodes), f.relays...) {
			if n.cmd != nil && !n.isDead(&f.mu) {
				n.kill()
			}
			if t.Failed() {
				t.Logf("--- %s log (tail) ---\n%s", n.name, n.tail())
			}
		}
	})
	// All at once, as an orchestrator starts them: on the empty database
	// one node migrates and creates the workspace while the others wait
	// for the startup lock (two workspaces would make a node fail).
	for _, n := range f.nodes {
		n.launch()
	}
	for _, n := range f.nodes {
		n.waitReady()
	}
	if relays > 0 {
		relayBin := build(t, "relay")
		var urls []string
		for _, n := range f.nodes {
			urls = append(urls, n.url())
		}
		for i := range relays {
			r := &node{t: t, name: fmt.Sprintf("relay%d", i+1), bin: relayBin, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
				log: fmt.Sprintf("%s/relay%d.log", logs, i+1)}
			// The relays commit and deliver their data channels' chat
			// themselves, on the fleet's store and bus.
			r.env = []string{"PARLEY_RELAY_ID=" + r.name, "PARLEY_RELAY_ADDR=" + r.addr,
				"PARLEY_RELAY_SIGNALING_URLS=" + strings.Join(urls, ","),
				"PARLEY_RELAY_SECRET=" + hex.EncodeToString(relaySecret), "PARLEY_RELAY_HEARTBEAT=500ms",
				"PARLEY_DATABASE_URL=" + f.postgres.url(), "PARLEY_REDIS_URL=" + f.redis.url(),
				"PARLEY_ENCRYPTION_KEYS=k1:" + base64.StdEncoding.EncodeToString(key)}
			r.start() // ready: registered with signaling
			f.relays = append(f.relays, r)
		}
	}
	f.admin = signIn(t, f.nodes[0], f.public, adminEmail, adminPassword)
	var sites struct{ Sites []struct{ ID string } }
	f.admin.call(t, f.nodes[2], "GET", "/api/sites", nil, 200, &sites)
	f.siteID = sites.Sites[0].ID
	return f
}

// live lists the addresses of the signaling nodes that run.
func (f *fleet) live() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, n := range f.nodes {
		if !n.dead {
			out = append(out, n.addr)
		}
	}
	return out
}

// kill ends a node or relay with SIGKILL.
func (f *fleet) kill(n *node) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n.kill()
}

func (n *node) isDead(mu *sync.Mutex) bool {
	mu.Lock()
	defer mu.Unlock()
	return n.dead
}

// createAgent adds an agent through the admin API and signs it in.
func (f *fleet) createAgent(email, name, role string, capacity int) *session {
	f.t.Helper()
	f.admin.call(f.t, f.nodes[1], "POST", "/api/agents", map[string]any{
		"email": email, "name": name, "password": adminPassword, "capacity": capacity, "role": role,
	}, 201, nil)
	return signIn(f.t, f.nodes[2], f.public, email, adminPassword)
}
