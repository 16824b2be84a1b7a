package loadgen

import (
	"encoding/json"
	"os"

	"github.com/parleychat/parley/bench/hist"
)

// Result is one scenario run against one target, as written to the run
// directory and read by the report.
type Result struct {
	Scenario string `json:"scenario"` // chat, burst, idle, store, resume
	Target   string `json:"target"`   // parley-sqlite, parley-postgres, baseline
	Error    string `json:"error,omitempty"`

	Conversations int     `json:"conversations,omitempty"`
	RatePerConv   float64 `json:"rate_per_conv,omitempty"`
	DurationS     float64 `json:"duration_s,omitempty"`
	SetupS        float64 `json:"setup_s,omitempty"`
	DrainS        float64 `json:"drain_s,omitempty"`
	// DrainTimedOut: the drain limit ran out with messages outstanding
	// (overload); acked but undelivered ones are then AckedInFlight, not Lost.
	DrainTimedOut bool  `json:"drain_timed_out,omitempty"`
	AckedInFlight int64 `json:"acked_in_flight,omitempty"`

	Offered         int64            `json:"offered,omitempty"`
	Sent            int64            `json:"sent"`
	Acked           int64            `json:"acked"`
	Delivered       int64            `json:"delivered"`
	DeliveredPerSec float64          `json:"delivered_per_s"`
	Lost            int64            `json:"lost"`
	Duplicated      int64            `json:"duplicated"`
	Redelivered     int64            `json:"redelivered"`
	Unfinished      int64            `json:"unfinished"`
	Unacked         int64            `json:"unacked"`
	Gaps            int64            `json:"gaps"`
	GapResumes      int64            `json:"gap_resumes"`
	Disconnects     int64            `json:"disconnects"`
	Watchers        int              `json:"watchers,omitempty"`       // fan-out: extra agents per workspace
	WatcherFrames   int64            `json:"watcher_frames,omitempty"` // fan-out: frames they received
	Resent          int64            `json:"resent"`
	LateSends       int64            `json:"late_sends"`
	ConnectErrors   int64            `json:"connect_errors"`
	WriteErrors     int64            `json:"write_errors"`
	ErrorFrames     map[string]int64 `json:"error_frames,omitempty"`

	Latency hist.Summary  `json:"latency"`
	Ack     *hist.Summary `json:"ack,omitempty"`

	// Data-channel scenario: peer messages received per transport, the
	// peer connections held open at once, and the server's RSS before the
	// clients connected and once every channel was open.
	OverDC       int64   `json:"over_dc,omitempty"`
	OverWS       int64   `json:"over_ws,omitempty"`
	Peers        int     `json:"peers,omitempty"`
	BeforeRSSKB  int64   `json:"before_rss_kb,omitempty"`
	OpenRSSKB    int64   `json:"open_rss_kb,omitempty"`
	KBPerSession float64 `json:"kb_per_session,omitempty"` // (open − before) / sessions (WebSocket + peer each)

	ServerPeakRSSKB int64   `json:"server_peak_rss_kb,omitempty"`
	ServerCPUS      float64 `json:"server_cpu_s,omitempty"`

	Idle      *IdleResult    `json:"idle,omitempty"`
	Store     []StoreLevel   `json:"store,omitempty"`
	Resume    *ResumeResult  `json:"resume,omitempty"`
	ServerLog map[string]int `json:"server_log,omitempty"`
	LogLines  []string       `json:"log_lines,omitempty"`
	Profile   []string       `json:"profile,omitempty"`
	Notes     []string       `json:"notes,omitempty"`
	LoadAvg   string         `json:"load_avg,omitempty"` // machine load when the result was taken
}

// IdleResult is the idle-connection density measurement.
type IdleResult struct {
	Points        []IdlePoint `json:"points"`
	BaseRSSKB     int64       `json:"base_rss_kb"`
	BaseRuntime   *GoRuntime  `json:"base_runtime,omitempty"`
	KBPerConn     float64     `json:"kb_per_conn"`   // least-squares slope
	At100kMB      float64     `json:"at_100k_mb"`    // extrapolated RSS at 100k
	MaxConns      int         `json:"max_conns"`     // the most held at once
	ConnectPerSec float64     `json:"connect_per_s"` // connect+hello+welcome rate
	Failed        int         `json:"failed"`
	Clients       int         `json:"clients"` // client processes used
}

// IdlePoint is the server's RSS with Conns idle connections open.
type IdlePoint struct {
	Conns   int        `json:"conns"`
	RSSKB   int64      `json:"rss_kb"`
	FDs     int        `json:"fds"`
	Runtime *GoRuntime `json:"runtime,omitempty"` // Parley only (from /metrics)
}

// GoRuntime is the server's Go runtime memory at one point.
type GoRuntime struct {
	Goroutines  int64 `json:"goroutines"`
	StackKB     int64 `json:"stack_kb"`
	HeapInuseKB int64 `json:"heap_inuse_kb"`
	SysKB       int64 `json:"sys_kb"`
}

// StoreLevel is closed-loop store throughput at one concurrency.
type StoreLevel struct {
	Concurrency int          `json:"concurrency"`
	Stored      int64        `json:"stored"`
	PerSec      float64      `json:"per_s"`
	CPUS        float64      `json:"server_cpu_s"`
	Ack         hist.Summary `json:"ack"`
}

// ResumeResult is what the kill -9 scenario measured: its slowest round
// (promoted fields) and every round.
type ResumeResult struct {
	ResumeRound
	Rounds []ResumeRound `json:"rounds"`
}

// ResumeRound is one kill -9 and restart.
type ResumeRound struct {
	RestartS        float64 `json:"restart_s"`        // kill → server answers /healthz
	AllResumedS     float64 `json:"all_resumed_s"`    // kill → last side synced
	MedianResumedS  float64 `json:"median_resumed_s"` // kill → median side synced
	P99ResumedS     float64 `json:"p99_resumed_s"`    // kill → the 99th percentile side synced
	Sides           int     `json:"sides"`
	SidesResumed    int     `json:"sides_resumed"`
	AckedBeforeKill int64   `json:"acked_before_kill"`
	InFlightAtKill  int64   `json:"in_flight_at_kill"`
}

// worse: fewer sides resumed, or all of them later.
func (a ResumeRound) worse(b ResumeRound) bool {
	if a.Sides-a.SidesResumed != b.Sides-b.SidesResumed {
		return a.Sides-a.SidesResumed > b.Sides-b.SidesResumed
	}
	return a.AllResumedS > b.AllResumedS
}

// WriteJSON writes v to path.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
