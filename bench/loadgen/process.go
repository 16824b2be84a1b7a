package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a server under test running as a child process: Parley's real
// binary or the baseline forwarder. Its RSS and CPU time are read from /proc.
type Process struct {
	Name string // "parley" or "baseline"
	Addr string // 127.0.0.1:PORT
	Log  string // file with the process's stdout and stderr

	bin  string
	args []string
	env  []string
	cmd  *exec.Cmd
	done chan struct{}
}

// URL is the server's http base URL (also its Origin).
func (p *Process) URL() string { return "http://" + p.Addr }

// PID is the running process's id (0 when not running).
func (p *Process) PID() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// ParleyOptions say how to start the real server binary.
type ParleyOptions struct {
	Bin         string // the built signaling binary
	DataDir     string
	DatabaseURL string // empty: SQLite in DataDir
	Secret      string // PARLEY_SECRET, so the harness can mint visitor tokens
	Port        int
}

// NewParley prepares (does not start) a Parley process.
func NewParley(o ParleyOptions) *Process {
	env := append(os.Environ(),
		"PARLEY_ADDR=127.0.0.1:"+strconv.Itoa(o.Port),
		"PARLEY_DATA_DIR="+o.DataDir,
		"PARLEY_SECRET="+o.Secret,
		"PARLEY_ADMIN_PASSWORD=bench-password-123",
		"PARLEY_LOG_LEVEL=warn",
		"PARLEY_RATE_LIMITS=off", // bench clients send far faster than a person may
		"PARLEY_SHUTDOWN_GRACE=3s",
	)
	if o.DatabaseURL != "" {
		env = append(env, "PARLEY_DATABASE_URL="+o.DatabaseURL)
	}
	return &Process{Name: "parley", Addr: "127.0.0.1:" + strconv.Itoa(o.Port), Log: filepath.Join(o.DataDir, "server.log"),
		bin: o.Bin, env: env}
}

// NewBaseline prepares the baseline forwarder: this program's own binary
// run with the "forwarder" command.
func NewBaseline(self, logDir string, port int) *Process {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return &Process{Name: "baseline", Addr: addr, Log: filepath.Join(logDir, "baseline.log"),
		bin: self, args: []string{"forwarder", "-addr", addr}, env: os.Environ()}
}

// Start runs the process and waits until it answers /healthz (at most 30 s).
func (p *Process) Start(ctx context.Context) error {
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a harness that dies takes no server along by
	// accident, and cleanup can signal exactly this process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	p.cmd = cmd
	p.done = make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(p.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited at start; see %s", p.Name, p.Log)
		case <-ctx.Done():
			p.Kill()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := http.Get(p.URL() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
	}
	p.Kill()
	return fmt.Errorf("%s did not answer /healthz in 30s; see %s", p.Name, p.Log)
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Process) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop asks the process to drain (SIGTERM) and kills it after 10 s.
func (p *Process) Stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.Kill()
	}
}

// ErrNoProc is returned when /proc cannot be read for the process.
var ErrNoProc = errors.New("process statistics unavailable")

// RSSKB returns the process's resident set size (VmRSS) in KiB.
func RSSKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, ErrNoProc
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmRSS:" {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, ErrNoProc
}

// CPUTime returns the user+system CPU time the process has used.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, ErrNoProc
	}
	// Fields after the command name (which may hold spaces) start after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, ErrNoProc
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, ErrNoProc
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, nil
}

// OpenFDs counts the process's open file descriptors.
func OpenFDs(pid int) int {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(es)
}

// LogSummary counts WARN and ERROR lines of a server log and keeps a few
// distinct messages, for the report's "server-side problems" section.
func LogSummary(path string) (map[string]int, []string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil
	}
	counts := map[string]int{}
	seen := map[string]bool{}
	var samples []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "msg=\"generated ") {
			continue // first-run key generation in a fresh data dir: expected
		}
		for _, lvl := range []string{"level=WARN", "level=ERROR", "panic:", "fatal error:"} {
			if !strings.Contains(line, lvl) {
				continue
			}
			counts[strings.TrimPrefix(lvl, "level=")]++
			msg := line
			if j := strings.Index(line, "msg="); j >= 0 {
				msg = line[j:]
				if k := strings.Index(msg, " participant="); k > 0 {
					msg = msg[:k]
				}
			}
			if len(msg) > 200 {
				msg = msg[:200]
			}
			if !seen[msg] && len(samples) < 8 {
				seen[msg] = true
				samples = append(samples, msg)
			}
		}
	}
	return counts, samples
}
