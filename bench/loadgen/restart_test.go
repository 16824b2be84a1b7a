package loadgen

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// resumeBound is how long after a kill -9 every client may take to chat
// again (restart included). A restarted node that stalls holds its clients
// for the 15 s handle timeout; one that does not resumes 1,000 connections
// in 2.5–6 s on SQLite and 6.5–8.5 s on PostgreSQL on a busy shared 2-core
// machine (the recovery target, 2 s, is not met yet).
const resumeBound = 10 * time.Second

// TestRestartUnderReconnectingClients kills the real server with SIGKILL
// and restarts it on the same store (SQLite; PostgreSQL too when
// PARLEY_TEST_POSTGRES is set), several times, while pairs chat
// and reconnect; every client must resume within resumeBound of each kill,
// no request may be refused as unavailable (the sign of a stalled store),
// and every acked message must reach its peer exactly once.
//
// It runs 100 pairs (200 connections) × 3 restarts by default, which a
// shared machine's `make test` can afford; PARLEY_RESTART_CLIENTS=1000
// PARLEY_RESTART_ROUNDS=10 runs the size the recovery target is set for.
func TestRestartUnderReconnectingClients(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a real server process several times")
	}
	clients, rounds := envInt(t, "PARLEY_RESTART_CLIENTS", 200), envInt(t, "PARLEY_RESTART_ROUNDS", 3)
	dir := t.TempDir()
	bin := filepath.Join(dir, "signaling")
	build := exec.Command("go", "build", "-o", bin, "./signaling")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./signaling: %v\n%s", err, out)
	}
	t.Run("sqlite", func(t *testing.T) { restartUnderClients(t, bin, "", clients/2, rounds) })
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("PARLEY_TEST_POSTGRES")
		if base == "" {
			t.Skip("PARLEY_TEST_POSTGRES not set")
		}
		dsn, drop, err := storetest.Schema(base)
		if err != nil {
			t.Fatal(err)
		}
		defer drop()
		restartUnderClients(t, bin, dsn, clients/2, rounds)
	})
}

// restartUnderClients runs n pairs on the binary (SQLite in a temp dir, or
// the PostgreSQL at dsn) and kills and restarts it rounds times.
func restartUnderClients(t *testing.T, bin, dsn string, n, rounds int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	seed := Seed{DatabaseURL: filepath.Join(dir, "parley.db"), Secret: NewSecret()}
	if dsn != "" {
		seed.DatabaseURL = dsn
	}
	pairs, _, err := seed.Pairs(ctx, n, 1)
	if err != nil {
		t.Fatal(err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	proc := NewParley(ParleyOptions{Bin: bin, DataDir: dir, DatabaseURL: dsn, Secret: seed.Secret, Port: port})
	if err := proc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer proc.Stop()

	r := RunResume(ctx, proc, Target{URL: proc.URL(), Pairs: pairs}, ResumeOptions{
		Conversations: n, Rate: 0.5, Before: time.Second, After: time.Second, Drain: 30 * time.Second,
		Restarts: rounds, Between: 500 * time.Millisecond, Bound: 2 * resumeBound,
	})
	if r.Error != "" {
		t.Fatalf("%s (server log %s)", r.Error, proc.Log)
	}
	var all []float64
	for i, x := range r.Resume.Rounds {
		t.Logf("restart %d: /healthz after %.2f s, median resumed %.2f s, all %d/%d resumed %.2f s after the kill",
			i+1, x.RestartS, x.MedianResumedS, x.SidesResumed, x.Sides, x.AllResumedS)
		all = append(all, x.AllResumedS)
		if x.SidesResumed < x.Sides || x.AllResumedS > resumeBound.Seconds() {
			t.Errorf("restart %d stalled: %d of %d connections resumed, the last %.2f s after the kill (bound %s)",
				i+1, x.SidesResumed, x.Sides, x.AllResumedS, resumeBound)
		}
	}
	sort.Float64s(all)
	t.Logf("%d clients, %d restarts: all resumed p50 %.2f s, max %.2f s", 2*n, len(all), all[len(all)/2], all[len(all)-1])
	if k := r.ErrorFrames[protocol.CodeUnavailable]; k > 0 {
		t.Errorf("%d requests refused as unavailable (error frames %v)", k, r.ErrorFrames)
	}
	if r.Lost != 0 || r.Duplicated != 0 || r.Unfinished != 0 {
		t.Errorf("sent %d acked %d delivered %d: lost %d, duplicated %d, unfinished %d (want every acked message exactly once)",
			r.Sent, r.Acked, r.Delivered, r.Lost, r.Duplicated, r.Unfinished)
	}
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
