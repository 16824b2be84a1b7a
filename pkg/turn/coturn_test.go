package turn_test

import (
	"bufio"
	"net"
	"os"
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
		return nil, nil, err
	}
	return relayed, func() { _ = relayed.Close(); cleanup() }, nil
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
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	go func() {
		buf := make([]byte, 1500)
		n, from, err := peer.ReadFrom(buf)
		if err == nil {
			_, _ = peer.WriteTo(buf[:n], from)
		}
	}()
	if _, err := relayed.WriteTo([]byte("through coturn"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	_ = relayed.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := relayed.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "through coturn" {
		t.Fatalf("echo through the relay: %q, %v", buf[:n], err)
	}
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

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
