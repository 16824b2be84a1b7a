package loadgen

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Meta describes the machine and the run, for the report's header.
type Meta struct {
	Mode       string    `json:"mode"`
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished"`
	CPUs       int       `json:"cpus"`
	CPUModel   string    `json:"cpu_model"`
	MemTotal   string    `json:"mem_total"`
	GoVersion  string    `json:"go_version"`
	Commit     string    `json:"commit"`
	LoadStart  string    `json:"load_start"`
	LoadFinish string    `json:"load_finish"`
	FDLimit    string    `json:"fd_limit"`
}

// Machine reads what the report says about the machine.
func Machine(mode string) *Meta {
	m := &Meta{Mode: mode, Started: time.Now().UTC(), CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				m.MemTotal = strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:"))
			}
		}
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/self/limits"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Max open files") {
				m.FDLimit = strings.Join(strings.Fields(l)[3:5], " / ")
			}
		}
	}
	m.LoadStart = LoadAvg()
	return m
}

// Finish notes the end of the run.
func (m *Meta) Finish() {
	m.Finished = time.Now().UTC()
	m.LoadFinish = LoadAvg()
}

// LoadAvg is the 1, 5 and 15 minute load average (the machine is shared:
// a high one means noisy figures).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
