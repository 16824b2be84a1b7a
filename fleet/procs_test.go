package fleet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freePort returns a loopback TCP port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitFor polls ok until it is true or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func portOpen(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// redisServer is a redis-server of the test's own, so that restarting it
// disturbs no other test.
type redisServer struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	r := &redisServer{t: t, port: freePort(t), dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log"))
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	waitFor(r.t, "redis to listen", 10*time.Second, func() bool { return portOpen(r.port) })
}

func (r *redisServer) stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

// restart stops Redis the hard way (its data is gone, as with --save "")
// and starts it again on the same port.
func (r *redisServer) restart() {
	r.stop()
	waitFor(r.t, "redis port to close", 10*time.Second, func() bool { return !portOpen(r.port) })
	r.start()
}

// postgres is a PostgreSQL cluster of the test's own (initdb in a temp dir,
// its own port and socket dir), so that restarting it disturbs no other
// test. PostgreSQL refuses to run as root: as root it runs as the postgres
// user.
type postgres struct {
	t       *testing.T
	bin     string
	dir     string
	port    int
	asUser  string // "" or the user to run as
	logPath string
}

func startPostgres(t *testing.T) *postgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Skip("PostgreSQL server binaries (initdb) not installed")
	}
	p := &postgres{t: t, bin: filepath.Dir(bins[len(bins)-1]), port: freePort(t)}
	dir, err := os.MkdirTemp("", "parley-fleet-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir, p.logPath = dir, filepath.Join(dir, "postgres.log")
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		p.asUser = "postgres"
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root and there is no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	p.run("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	p.ctl("start")
	t.Cleanup(func() { p.ctlQuiet("stop", "-m", "immediate") })
	p.run("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", "postgres", "parley")
	return p
}

func (p *postgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/parley?sslmode=disable", p.port)
}

func (p *postgres) command(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(p.bin, name)
	if p.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", p.asUser, "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

func (p *postgres) run(name string, args ...string) {
	p.t.Helper()
	out, err := p.command(name, args...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (p *postgres) ctlArgs(action string, extra ...string) []string {
	return append([]string{action, "-D", filepath.Join(p.dir, "data"), "-w", "-t", "60", "-l", p.logPath,
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", p.port, p.dir)}, extra...)
}

func (p *postgres) ctl(action string, extra ...string) {
	p.t.Helper()
	p.run("pg_ctl", p.ctlArgs(action, extra...)...)
}

func (p *postgres) ctlQuiet(action string, extra ...string) {
	p.command("pg_ctl", p.ctlArgs(action, extra...)...).Run()
}

// restart stops PostgreSQL at once (open connections are cut, as when the
// database server restarts) and starts it again.
func (p *postgres) restart() { p.ctl("restart", "-m", "fast") }

// node is one signaling or relay process.
type node struct {
	t    *testing.T
	name string
	bin  string
	env  []string
	addr string
	log  string
	cmd  *exec.Cmd
	dead bool
	// exited closes when the process has ended.
	exited chan struct{}
}

func (n *node) url() string { return "http://" + n.addr }

// start starts the process and waits until it is ready.
func (n *node) start() {
	n.t.Helper()
	n.launch()
	n.waitReady()
}

func (n *node) waitReady() {
	n.t.Helper()
	waitFor(n.t, n.name+" to be ready", 60*time.Second, n.ready)
}

// launch starts the process without waiting for it.
func (n *node) launch() {
	n.t.Helper()
	f, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	n.cmd = exec.Command(n.bin)
	n.cmd.Env = append(os.Environ(), n.env...)
	n.cmd.Stdout, n.cmd.Stderr = f, f
	// Pdeathsig: a test binary killed by its timeout takes its nodes along.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	exited := make(chan struct{})
	n.exited = exited
	go func() { n.cmd.Wait(); f.Close(); close(exited) }()
}

func (n *node) ready() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", n.url()+"/readyz", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// kill ends the node with SIGKILL: no drain, no goodbye to its clients.
func (n *node) kill() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	n.dead = true
}

// drain sends SIGTERM and waits for the process to finish its drain and
// exit, as a rolling deploy does.
func (n *node) drain() {
	n.t.Helper()
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		n.t.Fatalf("%s did not exit within 30 s of SIGTERM", n.name)
	}
}

func (n *node) tail() string {
	b, _ := os.ReadFile(n.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// build builds one of the module's binaries (signaling, relay) for the test.
func build(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, "./"+name)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./%s: %v\n%s", name, err, out)
	}
	return bin
}

// gauge reads one unlabelled series from a process's /metrics.
func (n *node) gauge(series string) float64 {
	res, err := http.Get(n.url() + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return -1
}
