package turn_test

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/turn"
	"github.com/parleychat/parley/pkg/turn/turntest"
	pionturn "github.com/pion/turn/v5"
	"go.uber.org/goleak"
)

const testSecret = "parley-test-secret-5f1c"

// allocate asks coturn for a relayed address with the given credentials.
func allocate(t *testing.T, addr, username, password string) (net.PacketConn, func(), error) {
	relayed, _, done, err := allocateClient(t, addr, username, password)
	return relayed, done, err
}

func allocateClient(t *testing.T, addr, username, password string) (net.PacketConn, *pionturn.Client, func(), error) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr,
		TURNServerAddr: addr,
		Conn:           conn,
		Username:       username,
		Password:       password,
		Realm:          turntest.Realm,
		RTO:            200 * time.Millisecond,
		LoggerFactory:  turntest.Quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	cleanup := func() { c.Close(); _ = conn.Close() }
	if err := c.Listen(); err != nil {
		cleanup()
		t.Fatal(err)
	}
	relayed, err := c.Allocate()
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	return relayed, c, func() { _ = relayed.Close(); cleanup() }, nil
}

// echoPeer is a UDP peer on loopback that echoes one datagram.
func echoPeer(t *testing.T) net.PacketConn {
	t.Helper()
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	go func() {
		buf := make([]byte, 1500)
		n, from, err := peer.ReadFrom(buf)
		if err == nil {
			_, _ = peer.WriteTo(buf[:n], from)
		}
	}()
	return peer
}

func expectEcho(t *testing.T, relayed net.PacketConn, peer net.Addr) {
	t.Helper()
	if _, err := relayed.WriteTo([]byte("through coturn"), peer); err != nil {
		t.Fatal(err)
	}
	_ = relayed.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := relayed.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "through coturn" {
		t.Fatalf("echo through the relay: %q, %v", buf[:n], err)
	}
}

func TestCoturnAcceptsMintedCredentials(t *testing.T) {
	srv := turntest.Start(t, testSecret)
	now := time.Now()

	user, pass := turn.Credentials(testSecret, "session-1", time.Hour, now)
	relayed, done, err := allocate(t, srv.Addr, user, pass)
	if err != nil {
		t.Fatalf("allocation with minted credentials refused: %v", err)
	}
	defer done()

	// The allocation really relays: a UDP peer on loopback echoes.
	expectEcho(t, relayed, echoPeer(t).LocalAddr())
}

func TestCoturnRefusesExpiredAndForgedCredentials(t *testing.T) {
	srv := turntest.Start(t, testSecret)
	now := time.Now()

	expiredUser, expiredPass := turn.Credentials(testSecret, "session-2", -time.Minute, now)
	forgedUser, forgedPass := turn.Credentials("not-the-secret", "session-3", time.Hour, now)
	goodUser, _ := turn.Credentials(testSecret, "session-4", time.Hour, now)
	for _, tc := range []struct{ name, user, pass string }{
		{"expired", expiredUser, expiredPass},
		{"forged with another secret", forgedUser, forgedPass},
		{"valid username, wrong password", goodUser, forgedPass},
		{"username without expiry", "session-5", forgedPass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, done, err := allocate(t, srv.Addr, tc.user, tc.pass)
			if err == nil {
				done()
				t.Fatal("coturn allocated with bad credentials")
			}
			if !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
				t.Fatalf("refused, but not with 401 Unauthorized: %v", err)
			}
		})
	}
}

// turn.conf at the repository root uses the same scheme and has no
// static accounts.
func TestTurnConfUsesAuthSecretOnly(t *testing.T) {
	f, err := os.Open("../../turn.conf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	options := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, _ := strings.Cut(line, "=")
		options[strings.TrimSpace(key)] = append(options[strings.TrimSpace(key)], strings.TrimSpace(value))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"use-auth-secret", "static-auth-secret", "realm", "fingerprint", "no-cli", "no-multicast-peers", "no-tlsv1", "no-tlsv1_1", "cert", "pkey"} {
		if _, ok := options[key]; !ok {
			t.Errorf("turn.conf lacks %s", key)
		}
	}
	for _, key := range []string{"user", "lt-cred-mech", "no-auth", "allow-loopback-peers", "cli-password"} {
		if _, ok := options[key]; ok {
			t.Errorf("turn.conf must not set %s", key)
		}
	}
	for _, deny := range []string{"10.0.0.0-10.255.255.255", "127.0.0.0-127.255.255.255", "169.254.0.0-169.254.255.255", "172.16.0.0-172.31.255.255", "192.168.0.0-192.168.255.255", "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::1"} {
		found := false
		for _, v := range options["denied-peer-ip"] {
			found = found || v == deny
		}
		if !found {
			t.Errorf("turn.conf does not deny peers in %s", deny)
		}
	}
}

// productionConf returns turn.conf as shipped, changed only where a test
// on loopback must: addresses and ports, the secret, no TLS certificate,
// logs and files in dir, no privilege drop. Quotas, nonce, denied peers and
// the auth scheme stay as shipped. extra lines are appended.
func productionConf(t *testing.T, port int, dir, secret string, extra ...string) string {
	t.Helper()
	raw, err := os.ReadFile("../../turn.conf")
	if err != nil {
		t.Fatal(err)
	}
	replace := map[string]string{
		"#listening-ip":      "listening-ip=127.0.0.1",
		"#relay-ip":          "relay-ip=127.0.0.1",
		"listening-port":     "listening-port=" + strconv.Itoa(port),
		"tls-listening-port": "no-tls\nno-dtls",
		"static-auth-secret": "static-auth-secret=" + secret,
		"cert":               "",
		"pkey":               "",
		"log-file":           "log-file=stdout",
		"no-stdout-log":      "",
		"proc-user":          "",
		"proc-group":         "",
		"pidfile":            "pidfile=" + filepath.Join(dir, "turnserver.pid"),
	}
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		key, _, _ := strings.Cut(strings.TrimSpace(line), "=")
		if repl, ok := replace[key]; ok {
			seen[key] = true
			line = repl
		}
		out = append(out, line)
	}
	for key := range replace {
		if !seen[key] {
			t.Fatalf("turn.conf no longer has %s: update productionConf", key)
		}
	}
	out = append(out, "db="+filepath.Join(dir, "turndb"))
	out = append(out, extra...)
	return strings.Join(out, "\n") + "\n"
}

// turn.conf as shipped runs, takes minted credentials, refuses expired
// ones, and refuses to relay to loopback (the denied-peer-ip ranges).
func TestProductionTurnConf(t *testing.T) {
	const secret = "production-conf-test-secret"
	srv := turntest.StartConfig(t, secret, func(port int, dir string) string {
		return productionConf(t, port, dir, secret)
	})
	now := time.Now()

	user, pass := turn.Credentials(secret, "session-9", time.Hour, now)
	_, client, done, err := allocateClient(t, srv.Addr, user, pass)
	if err != nil {
		t.Fatalf("allocation with minted credentials refused: %v", err)
	}
	defer done()
	err = client.CreatePermission(echoPeer(t).LocalAddr())
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("permission to a loopback peer = %v, want 403 Forbidden", err)
	}

	expUser, expPass := turn.Credentials(secret, "session-10", -time.Second, now)
	if _, done, err := allocate(t, srv.Addr, expUser, expPass); err == nil {
		done()
		t.Fatal("expired credentials accepted")
	}
}

// allowed-peer-ip, as turn.conf explains, lets one address through the
// denied ranges. Loopback needs allow-loopback-peers too (coturn's own
// gate), so this test uses 127.0.0.1 as "the relay's private address":
// with the gate open but no allowed-peer-ip, denied-peer-ip still refuses.
func TestProductionTurnConfAllowedPeer(t *testing.T) {
	const secret = "production-conf-test-secret"
	for _, tc := range []struct {
		name    string
		extra   []string
		allowed bool
	}{
		{"denied ranges hold", []string{"allow-loopback-peers"}, false},
		{"allowed-peer-ip opens one address", []string{"allow-loopback-peers", "allowed-peer-ip=127.0.0.1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := turntest.StartConfig(t, secret, func(port int, dir string) string {
				return productionConf(t, port, dir, secret, tc.extra...)
			})
			user, pass := turn.Credentials(secret, "session-11", time.Hour, time.Now())
			relayed, client, done, err := allocateClient(t, srv.Addr, user, pass)
			if err != nil {
				t.Fatalf("allocation refused: %v", err)
			}
			defer done()
			peer := echoPeer(t).LocalAddr()
			if !tc.allowed {
				if err := client.CreatePermission(peer); err == nil || !strings.Contains(err.Error(), "403") {
					t.Fatalf("permission to 127.0.0.1 = %v, want 403 Forbidden", err)
				}
				return
			}
			expectEcho(t, relayed, peer)
		})
	}
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
