package loadgen

import (
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Perf is a flat CPU profile of a server process taken with Linux perf
// (sampling by the kernel: no change to the server is needed).
type Perf struct {
	out  string
	done chan error
}

// StartPerf samples pid for length after a delay. When perf is missing or
// not permitted the profile is simply empty.
func StartPerf(pid int, out string, delay, length time.Duration) *Perf {
	p := &Perf{out: out, done: make(chan error, 1)}
	go func() {
		time.Sleep(delay)
		cmd := exec.Command("perf", "record", "-g", "-F", "499", "-p", strconv.Itoa(pid), "-o", out, "--", "sleep", strconv.Itoa(int(length.Seconds())))
		p.done <- cmd.Run()
	}()
	return p
}

// Wait returns the profile's hottest symbols (at most 30 lines), or a line
// saying why there is none.
func (p *Perf) Wait() []string {
	var err error
	select {
	case err = <-p.done:
	case <-time.After(2 * time.Minute):
		return []string{"perf did not finish"}
	}
	if err != nil {
		return []string{"perf record failed: " + err.Error()}
	}
	b, err := exec.Command("perf", "report", "-i", p.out, "--stdio", "--no-children", "-g", "none", "--sort", "symbol", "--percent-limit", "0.7").Output()
	if err != nil {
		return []string{"perf report failed: " + err.Error()}
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, l)
		if len(lines) == 30 {
			break
		}
	}
	return lines
}
