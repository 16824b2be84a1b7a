// Package suite runs every benchmark scenario against fresh servers (Parley's
// real binary, and the baseline forwarder in the same run) and writes one
// JSON result per scenario and target into a run directory.
package suite

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parleychat/parley/bench/loadgen"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// Plan sizes the scenarios.
type Plan struct {
	Mode string
	// Chats run one after another, each on fresh servers (the forwarder,
	// then Parley on SQLite, then on PostgreSQL): each is its own number of
	// conversations at its own rates.
	Chats       []loadgen.ChatOptions
	Burst       loadgen.ChatOptions
	IdleSteps   []int
	IdlePer     int
	IdleSettle  time.Duration // wait before reading RSS at each step
	Fanout      loadgen.FanoutOptions
	StoreLevels []int
	StoreFor    time.Duration
	Resume      loadgen.ResumeOptions
	// DC is the data-channel scenario's load, run over WebSockets and over
	// data channels, on Parley and on the bare forwarder.
	DC loadgen.ChatOptions
	// DCSessions: conversations held open over data channels (a light load
	// keeps them busy) to read sessions per relay and memory per session.
	DCSessions []int
}

// Plans are the quick (about a minute) and full (15–25 minutes) sizes.
var Plans = map[string]Plan{
	"quick": {
		Mode: "quick",
		Chats: []loadgen.ChatOptions{
			{Conversations: 100, Levels: []loadgen.Level{{Rate: 1, Duration: 3 * time.Second, Drain: 10 * time.Second}}},
			{Conversations: 50, Levels: []loadgen.Level{{Rate: 10, Duration: 2 * time.Second, Drain: 5 * time.Second}}},
		},
		Burst:       loadgen.ChatOptions{Conversations: 50, Levels: []loadgen.Level{{Rate: 20, Duration: time.Second, Drain: 20 * time.Second}}},
		IdleSteps:   []int{250, 500, 1000},
		IdlePer:     500,
		StoreLevels: []int{1, 16},
		StoreFor:    2 * time.Second,
		Resume:      loadgen.ResumeOptions{Conversations: 50, Rate: 4, Before: 2 * time.Second, After: 2 * time.Second, Drain: 15 * time.Second, Restarts: 2, Between: time.Second},
		IdleSettle:  time.Second,
		Fanout:      loadgen.FanoutOptions{Conversations: 10, Rate: 2, Duration: 3 * time.Second, Watchers: []int{0, 5}},
		DC:          loadgen.ChatOptions{Conversations: 20, Levels: []loadgen.Level{{Rate: 2, Duration: 5 * time.Second, Drain: 10 * time.Second}}},
		DCSessions:  []int{50},
	},
	"full": {
		Mode: "full",
		// Issue 15's loads: 500 conversations × 1 msg/s (500 msgs/s, a
		// busy node) and 200 × 10 msgs/s (2,000 msgs/s, near the ceiling
		// of the store as it was), each briefly: tens of seconds keep the
		// whole run under 15 minutes on a shared machine.
		Chats: []loadgen.ChatOptions{
			{Conversations: 500, Levels: []loadgen.Level{{Rate: 1, Duration: 20 * time.Second, Drain: 20 * time.Second}}},
			{Conversations: 200, Levels: []loadgen.Level{{Rate: 10, Duration: 15 * time.Second, Drain: 20 * time.Second}}},
		},
		// A one-second spike of 500 conversations × 50 msgs/s (25,000
		// messages): how long until absorbed, and nothing lost.
		Burst:       loadgen.ChatOptions{Conversations: 500, Levels: []loadgen.Level{{Rate: 50, Duration: time.Second, Drain: 150 * time.Second}}},
		IdleSteps:   []int{1000, 5000, 10000},
		IdlePer:     5000,
		StoreLevels: []int{64, 256},
		StoreFor:    8 * time.Second,
		// 1,000 connections, killed and restarted 4 times on each store:
		// recovery percentiles over the restarts, and whether any stalled.
		Resume: loadgen.ResumeOptions{Conversations: 500, Rate: 0.2, Before: 5 * time.Second, After: 5 * time.Second, Drain: 30 * time.Second,
			Restarts: 4, Between: 2 * time.Second, Bound: 30 * time.Second},
		IdleSettle: 3 * time.Second,
		// 50 conversations × 2 msgs/s with 0, 10 and 50 more agents online
		// in each conversation's workspace (up to 2,500 agent connections).
		Fanout: loadgen.FanoutOptions{Conversations: 50, Rate: 2, Duration: 20 * time.Second, Watchers: []int{0, 10, 50}},
		// 100 conversations × 2 msgs/s (200 peer connections on the relay,
		// 200 msgs/s), each target over WebSockets and over data channels.
		DC: loadgen.ChatOptions{Conversations: 100, Levels: []loadgen.Level{{Rate: 2, Duration: 20 * time.Second, Drain: 20 * time.Second}}},
		// 500 and 1,000 peer connections on one relay.
		DCSessions: []int{250, 500},
	},
}

// Config is one suite run.
type Config struct {
	Plan      Plan
	ServerBin string // the built signaling binary
	Self      string // this program's binary (baseline forwarder, idle clients)
	OutDir    string // JSON results
	Postgres  string // PARLEY_BENCH_POSTGRES: also run chat on PostgreSQL
	Only      map[string]bool
	Perf      bool // profile the server with perf during the store scenario's top level
}

// Run runs the selected scenarios in order; a failing scenario is recorded
// with its error and the suite goes on.
func Run(ctx context.Context, c Config) error {
	type step struct {
		name string
		run  func() []loadgen.Result
	}
	steps := []step{
		{"chat", func() []loadgen.Result {
			var out []loadgen.Result
			for _, ch := range c.Plan.Chats {
				out = append(out, c.baselineN(ctx, func(tg loadgen.Target) []loadgen.Result { return loadgen.RunChat(ctx, tg, ch) })...)
				out = append(out, c.parleyN(ctx, "", ch.Conversations, func(tg loadgen.Target, _ *loadgen.Process) []loadgen.Result {
					return loadgen.RunChat(ctx, tg, ch)
				})...)
				if c.Postgres != "" {
					out = append(out, c.parleyN(ctx, c.Postgres, ch.Conversations, func(tg loadgen.Target, _ *loadgen.Process) []loadgen.Result {
						return loadgen.RunChat(ctx, tg, ch)
					})...)
				}
			}
			return out
		}},
		{"burst", func() []loadgen.Result {
			out := c.baselineN(ctx, func(tg loadgen.Target) []loadgen.Result { return loadgen.RunChat(ctx, tg, c.Plan.Burst) })
			return append(out, c.parleyN(ctx, "", c.Plan.Burst.Conversations, func(tg loadgen.Target, _ *loadgen.Process) []loadgen.Result {
				return loadgen.RunChat(ctx, tg, c.Plan.Burst)
			})...)
		}},
		{"store", func() []loadgen.Result {
			maxC := 0
			for _, l := range c.Plan.StoreLevels {
				maxC = max(maxC, l)
			}
			out := []loadgen.Result{c.parley(ctx, "", maxC, func(tg loadgen.Target, _ *loadgen.Process) loadgen.Result {
				// Profile the top concurrency level.
				n := time.Duration(len(c.Plan.StoreLevels))
				return c.withPerf(&tg, "store", (n-1)*c.Plan.StoreFor+c.Plan.StoreFor/4, c.Plan.StoreFor/2, func() []loadgen.Result {
					return []loadgen.Result{loadgen.RunStore(ctx, tg, c.Plan.StoreLevels, c.Plan.StoreFor)}
				})[0]
			})}
			if c.Postgres != "" {
				out = append(out, c.parley(ctx, c.Postgres, maxC, func(tg loadgen.Target, _ *loadgen.Process) loadgen.Result {
					return loadgen.RunStore(ctx, tg, c.Plan.StoreLevels, c.Plan.StoreFor)
				}))
			}
			return out
		}},
		{"fanout", func() []loadgen.Result {
			f := c.Plan.Fanout
			return c.parleyW(ctx, "", f.Conversations, 1+f.Watchers[len(f.Watchers)-1], func(tg loadgen.Target, _ *loadgen.Process) []loadgen.Result {
				return loadgen.RunFanout(ctx, tg, f)
			})
		}},
		{"resume", func() []loadgen.Result {
			out := []loadgen.Result{c.parley(ctx, "", c.Plan.Resume.Conversations, func(tg loadgen.Target, p *loadgen.Process) loadgen.Result {
				return loadgen.RunResume(ctx, p, tg, c.Plan.Resume)
			})}
			if c.Postgres != "" {
				out = append(out, c.parley(ctx, c.Postgres, c.Plan.Resume.Conversations, func(tg loadgen.Target, p *loadgen.Process) loadgen.Result {
					return loadgen.RunResume(ctx, p, tg, c.Plan.Resume)
				}))
			}
			return out
		}},
		{"dc", func() []loadgen.Result {
			// Same load four times, each on a fresh server: WebSocket
			// then data channel, bare forwarder then Parley. The data
			// channel results are the targets' names + "-dc".
			var out []loadgen.Result
			for _, dc := range []bool{false, true} {
				run := func(tg loadgen.Target) []loadgen.Result {
					tg.DataChannel = dc
					return loadgen.RunChat(ctx, tg, c.Plan.DC)
				}
				rs := c.baselineN(ctx, run)
				rs = append(rs, c.parleyN(ctx, "", c.Plan.DC.Conversations, func(tg loadgen.Target, _ *loadgen.Process) []loadgen.Result { return run(tg) })...)
				for i := range rs {
					if dc {
						rs[i].Target += "-dc"
					}
				}
				out = append(out, rs...)
			}
			// Sessions per relay: more pairs, each on fresh servers, at
			// one message per 2 s per conversation.
			for _, n := range c.Plan.DCSessions {
				o := loadgen.ChatOptions{Conversations: n, Levels: []loadgen.Level{{Rate: 0.5, Duration: 4 * time.Second, Drain: 15 * time.Second}}}
				run := func(tg loadgen.Target) []loadgen.Result {
					tg.DataChannel = true
					return loadgen.RunChat(ctx, tg, o)
				}
				rs := c.baselineN(ctx, run)
				rs = append(rs, c.parleyN(ctx, "", n, func(tg loadgen.Target, _ *loadgen.Process) []loadgen.Result { return run(tg) })...)
				for i := range rs {
					rs[i].Scenario, rs[i].Target = "dc-sessions", rs[i].Target+"-dc"
				}
				out = append(out, rs...)
			}
			return out
		}},
		{"idle", func() []loadgen.Result {
			return []loadgen.Result{c.idleBaseline(ctx), c.idleParley(ctx)}
		}},
	}
	meta := loadgen.Machine(c.Plan.Mode)
	for _, st := range steps {
		if len(c.Only) > 0 && !c.Only[st.name] {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		began := time.Now()
		log.Printf("scenario %s: starting", st.name)
		for i, r := range st.run() {
			if r.Scenario == "" {
				r.Scenario = st.name
			}
			r.LoadAvg = loadgen.LoadAvg()
			if err := loadgen.WriteJSON(filepath.Join(c.OutDir, fmt.Sprintf("%s-%02d-%s.json", st.name, i, r.Target)), r); err != nil {
				return err
			}
			log.Printf("scenario %s on %s: %s", st.name, r.Target, oneLine(r))
		}
		log.Printf("scenario %s: done in %s", st.name, time.Since(began).Round(time.Second))
	}
	meta.Finish()
	return loadgen.WriteJSON(filepath.Join(c.OutDir, "meta.json"), meta)
}

func oneLine(r loadgen.Result) string {
	if r.Error != "" {
		return "ERROR " + r.Error
	}
	return fmt.Sprintf("rate %g/s: sent %d delivered %d (%.0f/s) lost %d dup %d p50 %.1fms p99 %.1fms max %.1fms errors %v",
		r.RatePerConv, r.Sent, r.Delivered, r.DeliveredPerSec, r.Lost, r.Duplicated,
		float64(r.Latency.P50Us)/1000, float64(r.Latency.P99Us)/1000, float64(r.Latency.MaxUs)/1000, r.ErrorFrames)
}

func (c Config) baselineN(ctx context.Context, f func(loadgen.Target) []loadgen.Result) []loadgen.Result {
	var out []loadgen.Result
	r := c.baseline(ctx, func(tg loadgen.Target) loadgen.Result {
		out = f(tg)
		return loadgen.Result{}
	})
	if r.Error != "" {
		return []loadgen.Result{r}
	}
	for i := range out {
		out[i].Target = "baseline"
	}
	return out
}

func (c Config) parleyN(ctx context.Context, pg string, pairs int, f func(loadgen.Target, *loadgen.Process) []loadgen.Result) []loadgen.Result {
	return c.parleyW(ctx, pg, pairs, 1, f)
}

func (c Config) parleyW(ctx context.Context, pg string, pairs, agentsPerWorkspace int, f func(loadgen.Target, *loadgen.Process) []loadgen.Result) []loadgen.Result {
	var out []loadgen.Result
	r := c.parleyA(ctx, pg, pairs, agentsPerWorkspace, func(tg loadgen.Target, p *loadgen.Process) loadgen.Result {
		out = f(tg, p)
		return loadgen.Result{}
	})
	if r.Error != "" || len(out) == 0 {
		return []loadgen.Result{r}
	}
	for i := range out {
		out[i].Target, out[i].ServerLog, out[i].LogLines = r.Target, r.ServerLog, r.LogLines
	}
	return out
}

// baseline starts a fresh forwarder, runs f against it and stops it.
func (c Config) baseline(ctx context.Context, f func(loadgen.Target) loadgen.Result) loadgen.Result {
	port, err := loadgen.FreePort()
	if err != nil {
		return loadgen.Result{Target: "baseline", Error: err.Error()}
	}
	p := loadgen.NewBaseline(c.Self, c.OutDir, port)
	if err := p.Start(ctx); err != nil {
		return loadgen.Result{Target: "baseline", Error: err.Error()}
	}
	defer p.Stop()
	r := f(loadgen.Target{Baseline: true, URL: p.URL(), PID: p.PID()})
	r.Target = "baseline"
	return r
}

// parley seeds a fresh store (SQLite in a temp dir, or a new PostgreSQL
// schema), starts the real binary on it, runs f and stops the server.
func (c Config) parley(ctx context.Context, pgBase string, pairs int, f func(loadgen.Target, *loadgen.Process) loadgen.Result) loadgen.Result {
	return c.parleyA(ctx, pgBase, pairs, 1, f)
}

func (c Config) parleyA(ctx context.Context, pgBase string, pairs, agentsPerWorkspace int, f func(loadgen.Target, *loadgen.Process) loadgen.Result) loadgen.Result {
	name := "parley-sqlite"
	if pgBase != "" {
		name = "parley-postgres"
	}
	fail := func(err error) loadgen.Result { return loadgen.Result{Target: name, Error: err.Error()} }
	dir, err := os.MkdirTemp("", "parley-bench-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	dbURL := filepath.Join(dir, "parley.db")
	if pgBase != "" {
		dsn, drop, err := storetest.Schema(pgBase)
		if err != nil {
			return fail(fmt.Errorf("postgres schema: %w", err))
		}
		defer drop()
		dbURL = dsn
	}
	seed := loadgen.Seed{DatabaseURL: dbURL, Secret: loadgen.NewSecret()}
	pairsSeeded, watchers, err := seed.Pairs(ctx, pairs, agentsPerWorkspace)
	if err != nil {
		return fail(err)
	}
	port, err := loadgen.FreePort()
	if err != nil {
		return fail(err)
	}
	opts := loadgen.ParleyOptions{Bin: c.ServerBin, DataDir: dir, Secret: seed.Secret, Port: port}
	if pgBase != "" {
		opts.DatabaseURL = dbURL
	}
	p := loadgen.NewParley(opts)
	if err := p.Start(ctx); err != nil {
		return fail(err)
	}
	r := f(loadgen.Target{URL: p.URL(), PID: p.PID(), Pairs: pairsSeeded, Watchers: watchers}, p)
	p.Stop()
	r.Target = name
	r.ServerLog, r.LogLines = loadgen.LogSummary(p.Log)
	keepLog(p.Log, filepath.Join(c.OutDir, "server-"+name+"-"+time.Now().Format("150405")+".log"))
	return r
}

func keepLog(from, to string) {
	if b, err := os.ReadFile(from); err == nil && len(b) > 0 {
		os.WriteFile(to, b, 0o644)
	}
}

func (c Config) withPerf(tg *loadgen.Target, name string, delay, length time.Duration, f func() []loadgen.Result) []loadgen.Result {
	if !c.Perf {
		return f()
	}
	var prof *loadgen.Perf
	tg.OnLoad = func() {
		prof = loadgen.StartPerf(tg.PID, filepath.Join(c.OutDir, "perf-"+name+".data"), delay, max(length, time.Second))
	}
	r := f()
	if prof != nil && len(r) > 0 {
		r[0].Profile = prof.Wait()
	}
	return r
}

func (c Config) idleBaseline(ctx context.Context) loadgen.Result {
	return c.baseline(ctx, func(tg loadgen.Target) loadgen.Result {
		return loadgen.RunIdle(ctx, tg, loadgen.IdleOptions{Self: c.Self, Steps: c.Plan.IdleSteps, PerClient: c.Plan.IdlePer, Settle: c.Plan.IdleSettle, Hold: 10 * time.Minute})
	})
}

func (c Config) idleParley(ctx context.Context) loadgen.Result {
	maxN := c.Plan.IdleSteps[len(c.Plan.IdleSteps)-1]
	name := "parley-sqlite"
	dir, err := os.MkdirTemp("", "parley-bench-idle-")
	if err != nil {
		return loadgen.Result{Target: name, Error: err.Error()}
	}
	defer os.RemoveAll(dir)
	seed := loadgen.Seed{DatabaseURL: filepath.Join(dir, "parley.db"), Secret: loadgen.NewSecret()}
	tokens, err := seed.Visitors(ctx, maxN)
	if err != nil {
		return loadgen.Result{Target: name, Error: err.Error()}
	}
	tf := filepath.Join(dir, "tokens.txt")
	if err := os.WriteFile(tf, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
		return loadgen.Result{Target: name, Error: err.Error()}
	}
	port, err := loadgen.FreePort()
	if err != nil {
		return loadgen.Result{Target: name, Error: err.Error()}
	}
	p := loadgen.NewParley(loadgen.ParleyOptions{Bin: c.ServerBin, DataDir: dir, Secret: seed.Secret, Port: port})
	if err := p.Start(ctx); err != nil {
		return loadgen.Result{Target: name, Error: err.Error()}
	}
	r := loadgen.RunIdle(ctx, loadgen.Target{URL: p.URL(), PID: p.PID()},
		loadgen.IdleOptions{Self: c.Self, TokensFile: tf, Steps: c.Plan.IdleSteps, PerClient: c.Plan.IdlePer, Settle: c.Plan.IdleSettle, Hold: 10 * time.Minute})
	p.Stop()
	r.Target = name
	r.ServerLog, r.LogLines = loadgen.LogSummary(p.Log)
	keepLog(p.Log, filepath.Join(c.OutDir, "server-idle.log"))
	return r
}
