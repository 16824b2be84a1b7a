// Package turntest runs a real coturn (Debian package coturn,
// /usr/bin/turnserver) on 127.0.0.1 for tests, configured with the TURN
// REST scheme (use-auth-secret) that package turn mints credentials for.
package turntest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
)

// Binary is where Debian's coturn package installs the server.
const Binary = "/usr/bin/turnserver"

// Realm is the realm the test server runs with.
const Realm = "parley.test"

// Server is a running coturn.
type Server struct {
	// Addr is the UDP (and TCP) listening address, "127.0.0.1:port".
	Addr string
	// Secret is the static-auth-secret.
	Secret string

	cmd *exec.Cmd
	out *lockedBuffer
}

// Log returns what coturn printed so far.
func (s *Server) Log() string { return s.out.String() }

// Start runs coturn on a free loopback port with use-auth-secret and
// secret, allowing loopback peers (so a relay on 127.0.0.1 is reachable
// through it), and stops it when the test ends. It skips the test when
// coturn is not installed.
func Start(t testing.TB, secret string) *Server {
	t.Helper()
	return start(t, secret, func(port int, dir string) []string {
		return []string{
			"-n", // no configuration file: everything is on the command line
			"--listening-ip=127.0.0.1",
			"--relay-ip=127.0.0.1",
			fmt.Sprintf("--listening-port=%d", port),
			"--min-port=49152", "--max-port=65535",
			"--use-auth-secret",
			"--static-auth-secret=" + secret,
			"--realm=" + Realm,
			"--allow-loopback-peers",
			"--no-cli", "--no-tls", "--no-dtls",
			"--log-file=stdout", "--simple-log",
			"--pidfile=" + filepath.Join(dir, "turnserver.pid"),
			"--db=" + filepath.Join(dir, "turndb"),
		}
	})
}

// StartConfig runs coturn with a configuration file: config receives the
// free port and a private directory and returns the file's text. secret
// must be the file's static-auth-secret.
func StartConfig(t testing.TB, secret string, config func(port int, dir string) string) *Server {
	t.Helper()
	return start(t, secret, func(port int, dir string) []string {
		path := filepath.Join(dir, "turnserver.conf")
		if err := os.WriteFile(path, []byte(config(port, dir)), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{"-c", path}
	})
}

func start(t testing.TB, secret string, args func(port int, dir string) []string) *Server {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Skipf("coturn is not installed (%s missing): apt-get install coturn to run this test", Binary)
	}
	// A free port can be taken by another process before coturn binds it
	// (other tests share this machine): then try another.
	var lastErr error
	for range 3 {
		s, err := startOnce(t, secret, args)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatal(lastErr)
	return nil
}

func startOnce(t testing.TB, secret string, args func(port int, dir string) []string) (*Server, error) {
	dir := t.TempDir()
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	cmd := exec.CommandContext(ctx, Binary, args(port, dir)...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start coturn: %w", err)
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Secret: secret, cmd: cmd, out: out}
	stop := func() {
		cancel()
		_ = cmd.Wait()
	}
	if err := s.waitReady(); err != nil {
		stop()
		return nil, err
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("coturn log:\n%s", s.Log())
		}
	})
	return s, nil
}

// waitReady polls with STUN binding requests until coturn answers.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		c, err := turn.NewClient(&turn.ClientConfig{
			STUNServerAddr: s.Addr,
			TURNServerAddr: s.Addr,
			Conn:           conn,
			RTO:            100 * time.Millisecond,
			LoggerFactory:  Quiet(),
		})
		if err == nil {
			err = c.Listen()
			if err == nil {
				_, err = c.SendBindingRequest()
			}
			c.Close()
		}
		_ = conn.Close()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("coturn did not answer STUN on %s within 10s: %v\n%s", s.Addr, err, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Quiet is a Pion logger factory that only prints errors.
func Quiet() logging.LoggerFactory {
	return &logging.DefaultLoggerFactory{DefaultLogLevel: logging.LogLevelError, ScopeLevels: map[string]logging.LogLevel{}}
}

// freePort finds a port free for both UDP and TCP on 127.0.0.1 (coturn
// listens on both).
func freePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		_ = u.Close()
		if err == nil {
			_ = l.Close()
			return port
		}
	}
	t.Fatal("no free UDP+TCP port on 127.0.0.1")
	return 0
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 { // keep memory bounded on chatty runs
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Clone(b.buf.String())
}
