package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/protocol"
)

// IdleOptions size the idle-connection density scenario.
type IdleOptions struct {
	Self       string        // this program's binary, run as "idle-client" children
	TokensFile string        // Parley: one visitor token per line; empty for the baseline
	Steps      []int         // cumulative connection counts to measure at
	PerClient  int           // connections per client process (each has its own fd limit and source address)
	Settle     time.Duration // wait before reading RSS at each step
	Hold       time.Duration
}

// RunIdle opens idle visitor WebSockets in steps, from several client
// processes and 127.0.0.x source addresses, and reads the server's RSS at
// each step. Parley connections say hello and get their welcome before they
// idle, as the widget does.
func RunIdle(ctx context.Context, tg Target, o IdleOptions) Result {
	r := Result{}
	ir := &IdleResult{}
	r.Idle = ir
	settle := func() {
		// Let the allocator settle a moment, then read RSS.
		time.Sleep(max(o.Settle, 500*time.Millisecond))
	}
	settle()
	ir.BaseRSSKB, _ = RSSKB(tg.PID)
	if !tg.Baseline {
		ir.BaseRuntime = goRuntime(tg.URL)
	}
	var (
		children []*exec.Cmd
		stdins   []io.WriteCloser
	)
	defer func() {
		for _, in := range stdins {
			in.Close()
		}
		for _, c := range children {
			done := make(chan struct{})
			go func() { c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				c.Process.Kill()
				<-done
			}
		}
	}()
	have := 0
	connectTime := 0.0
	for _, step := range o.Steps {
		for have < step {
			n := min(o.PerClient, step-have)
			ip := fmt.Sprintf("127.0.0.%d", 10+len(children))
			args := []string{"idle-client", "-url", tg.URL, "-from", ip, "-start", strconv.Itoa(have), "-n", strconv.Itoa(n),
				"-hold", o.Hold.String()}
			if o.TokensFile != "" {
				args = append(args, "-tokens", o.TokensFile)
			}
			cmd := exec.CommandContext(ctx, o.Self, args...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			cmd.Stderr = os.Stderr
			in, _ := cmd.StdinPipe()
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				r.Error = "start idle client: " + err.Error()
				return r
			}
			children, stdins = append(children, cmd), append(stdins, in)
			line, err := readLine(out, o.Hold)
			if err != nil {
				r.Error = fmt.Sprintf("idle client %d: %v", len(children), err)
				return r
			}
			var rep idleReport
			if err := json.Unmarshal([]byte(line), &rep); err != nil {
				r.Error = "idle client report: " + line
				return r
			}
			ir.Failed += rep.Failed
			connectTime += rep.Seconds
			have += rep.OK
			if rep.OK < n {
				r.Notes = append(r.Notes, fmt.Sprintf("client from %s opened %d of %d (first error: %s)", ip, rep.OK, n, rep.FirstError))
				break
			}
		}
		settle()
		kb, _ := RSSKB(tg.PID)
		pt := IdlePoint{Conns: have, RSSKB: kb, FDs: OpenFDs(tg.PID)}
		if !tg.Baseline {
			pt.Runtime = goRuntime(tg.URL)
		}
		ir.Points = append(ir.Points, pt)
		ir.MaxConns = have
		if have < step {
			break
		}
	}
	ir.Clients = len(children)
	if connectTime > 0 {
		ir.ConnectPerSec = float64(have) / connectTime
	}
	// Least-squares slope of RSS over connections, through every point
	// including zero connections.
	xs, ys := []float64{0}, []float64{float64(ir.BaseRSSKB)}
	for _, p := range ir.Points {
		xs, ys = append(xs, float64(p.Conns)), append(ys, float64(p.RSSKB))
	}
	var mx, my float64
	for i := range xs {
		mx, my = mx+xs[i], my+ys[i]
	}
	mx, my = mx/float64(len(xs)), my/float64(len(xs))
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx > 0 {
		ir.KBPerConn = sxy / sxx
		ir.At100kMB = (float64(ir.BaseRSSKB) + ir.KBPerConn*100000) / 1024
	}
	return r
}

// goRuntime reads the Go runtime's gauges from the server's /metrics
// (Prometheus Go collector): where an idle connection's memory goes.
func goRuntime(base string) *GoRuntime {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	g := &GoRuntime{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "go_goroutines":
			g.Goroutines = int64(v)
		case "go_memstats_stack_inuse_bytes":
			g.StackKB = int64(v) / 1024
		case "go_memstats_heap_inuse_bytes":
			g.HeapInuseKB = int64(v) / 1024
		case "go_memstats_sys_bytes":
			g.SysKB = int64(v) / 1024
		}
	}
	return g
}

func readLine(r io.Reader, timeout time.Duration) (string, error) {
	ch := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil {
			errc <- err
			return
		}
		ch <- strings.TrimSpace(line)
	}()
	select {
	case l := <-ch:
		return l, nil
	case err := <-errc:
		return "", err
	case <-time.After(timeout):
		return "", fmt.Errorf("no report in %s", timeout)
	}
}

type idleReport struct {
	OK         int     `json:"ok"`
	Failed     int     `json:"failed"`
	Seconds    float64 `json:"seconds"`
	FirstError string  `json:"first_error,omitempty"`
}

// IdleClient is the child process: it opens n idle connections from the
// source address from, prints one JSON report line, and holds them until its
// standard input closes or hold passes.
func IdleClient(url, tokensFile, from string, start, n int, hold time.Duration) error {
	var tokens []string
	if tokensFile != "" {
		b, err := os.ReadFile(tokensFile)
		if err != nil {
			return err
		}
		all := strings.Split(strings.TrimSpace(string(b)), "\n")
		if start+n > len(all) {
			return fmt.Errorf("need tokens %d..%d, file has %d", start, start+n, len(all))
		}
		tokens = all[start : start+n]
	}
	d := dialer(net.ParseIP(from), 256)
	ws := "ws" + strings.TrimPrefix(url, "http")
	var (
		mu       sync.Mutex
		conns    []*websocket.Conn
		failed   atomic.Int64
		firstErr atomic.Value
	)
	begin := time.Now()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := idleConnect(d, ws, url, tokens, start+i, i)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	rep := idleReport{OK: len(conns), Failed: int(failed.Load()), Seconds: time.Since(begin).Seconds()}
	if e, ok := firstErr.Load().(string); ok {
		rep.FirstError = e
	}
	b, _ := json.Marshal(rep)
	fmt.Println(string(b))
	// Keep reading so pings are answered; hold until stdin closes.
	for _, c := range conns {
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(hold):
	}
	for _, c := range conns {
		c.Close()
	}
	return nil
}

func idleConnect(d *websocket.Dialer, ws, origin string, tokens []string, global, i int) (*websocket.Conn, error) {
	hdr := http.Header{"Origin": {origin}}
	u := ws + "/ws?pair=idle-" + strconv.Itoa(global) + "&role=visitor"
	if tokens != nil {
		u = ws + "/ws/visitor?token=" + tokens[i]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		c    *websocket.Conn
		resp *http.Response
		err  error
	)
	for attempt := 0; attempt < 3; attempt++ {
		c, resp, err = d.DialContext(ctx, u, hdr)
		if err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, err
	}
	if tokens == nil {
		return c, nil
	}
	b, _ := json.Marshal(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: protocol.Version})
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, b); err != nil {
		c.Close()
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("waiting for welcome: %w", err)
		}
		var f frame
		if json.Unmarshal(data, &f) == nil && f.Type == protocol.TypeWelcome {
			break
		}
	}
	c.SetReadDeadline(time.Time{})
	return c, nil
}
