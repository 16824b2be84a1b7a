package routing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var (
	benchLangs  = []string{"en", "fr", "de", "es"}
	benchSkills = []string{"", "billing", "tech"}
	benchTeams  = []string{"", "sales", "support"}
)

func benchAgents(n int, r *rand.Rand) []Agent {
	out := make([]Agent, n)
	for i := range out {
		out[i] = Agent{ID: fmt.Sprintf("agent%04d", i), Status: StatusOnline, Capacity: 2 + r.IntN(3),
			Load:      r.IntN(2),
			Languages: []string{benchLangs[r.IntN(4)], benchLangs[r.IntN(4)]},
			Skills:    []string{benchSkills[1+r.IntN(2)]}, Teams: []string{benchTeams[1+r.IntN(2)]},
			IdleSince: t0.Add(-time.Duration(r.IntN(3600)) * time.Second)}
	}
	return out
}

func benchRequest(i int, r *rand.Rand, at time.Time) Request {
	return Request{ConversationID: fmt.Sprintf("c%07d", i), WorkspaceID: "w", Language: benchLangs[r.IntN(4)],
		Skill: benchSkills[r.IntN(3)], Team: benchTeams[r.IntN(3)], Priority: r.IntN(10) / 9, EnqueuedAt: at}
}

// BenchmarkMatch is the cost of one routing decision among 500 agents.
func BenchmarkMatch(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	agents := benchAgents(500, r)
	reqs := make([]Request, 64)
	for i := range reqs {
		reqs[i] = benchRequest(i, r, t0.Add(-time.Minute))
	}
	rules := Rules{RelaxAfter: []time.Duration{30 * time.Second, 2 * time.Minute}}
	b.ReportAllocs()
	matched := 0
	for i := 0; b.Loop(); i++ {
		if _, ok := Match(reqs[i%len(reqs)], agents, rules, t0); ok {
			matched++
		}
	}
	if matched == 0 {
		b.Fatal("nothing matched")
	}
}

// BenchmarkQueuePositions measures keeping every waiting visitor's position
// and wait current with 500 agents, at 1k, 10k and 100k waiting:
//
//   - recompute-all: every line's supply changes, every position and wait is
//     recomputed and (since the waits really change) reported: the worst
//     case, O(queued).
//   - agent-frees-slot: the common event, through the Engine: a chat ends,
//     the freed agent takes the first eligible visitor, the visitors behind
//     it in that line move up, and a new visitor arrives. Its cost follows
//     the size of one line (visitors with the same needs), not queued×agents.
func BenchmarkQueuePositions(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("recompute-all/queued=%d", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(2, 2))
			q := NewQueue(15 * time.Second)
			for i := range n {
				_ = q.Push(benchRequest(i, r, t0.Add(time.Duration(i)*time.Millisecond)), LevelExact)
			}
			needs := q.Needs()
			q.Changes()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				for _, need := range needs {
					q.SetSupply(need, Supply{Capacity: 100 + i%2*100, AvgHandle: 5 * time.Minute})
				}
				q.RefreshWaits()
				if len(q.Changes()) == 0 {
					b.Fatal("nothing changed")
				}
			}
		})
		b.Run(fmt.Sprintf("agent-frees-slot/queued=%d", n), func(b *testing.B) {
			benchEngineEvent(b, n)
		})
	}
}

func benchEngineEvent(b *testing.B, n int) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 3))
	now := t0
	var assigned []string
	changed := 0
	e, err := New(Config{Now: func() time.Time { return now }, OnEvent: func(ev Event) {
		switch ev := ev.(type) {
		case Assigned:
			assigned = append(assigned, ev.ConversationID)
		case QueuePositions:
			changed += len(ev.Positions)
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	for _, a := range benchAgents(500, r) {
		if err := e.SetAgent(ctx, "w", a); err != nil {
			b.Fatal(err)
		}
	}
	next := 0
	enqueue := func() {
		for {
			now = now.Add(time.Millisecond)
			err := e.Enqueue(ctx, benchRequest(next, r, now))
			next++
			if err == nil {
				return
			}
			if !errors.Is(err, ErrOffline) {
				b.Fatal(err)
			}
		}
	}
	// Everyone enqueued either waits or was assigned.
	for i := 0; i-len(assigned) < n; i++ {
		enqueue()
	}
	if got := len(e.Snapshot("w").Queue); got != n {
		b.Fatalf("queued %d, want %d", got, n)
	}
	changed = 0
	b.ReportAllocs()
	events := 0
	for b.Loop() {
		if len(assigned) == 0 {
			b.Fatal("no assigned conversation left to end")
		}
		c := assigned[0]
		assigned = assigned[1:]
		if err := e.Release(ctx, "w", c); err != nil {
			b.Fatal(err)
		}
		enqueue()
		events++
	}
	b.ReportMetric(float64(changed)/float64(events), "positions-sent/op")
}

// BenchmarkTick is the once-a-second sweep (offers, presence, relaxation,
// offline) over a queue of the given size.
func BenchmarkTick(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("queued=%d", n), func(b *testing.B) {
			ctx := context.Background()
			r := rand.New(rand.NewPCG(4, 4))
			now := t0
			e, _ := New(Config{Now: func() time.Time { return now }})
			_ = e.SetRules("w", "", Rules{RelaxAfter: []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour}})
			for _, a := range benchAgents(500, r) {
				a.Capacity = 0 // nobody free: everyone waits
				_ = e.SetAgent(ctx, "w", a)
			}
			for i := range n {
				req := benchRequest(i, r, now)
				req.Language, req.Skill, req.Team = "", "", ""
				if err := e.Enqueue(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(time.Second)
				e.Tick(ctx)
			}
		})
	}
}

// BenchmarkEngineAssign is a whole routing decision through the Engine with
// 500 agents and an empty queue: Enqueue (match, claim through the
// MemoryAssigner, Assigned event) and then Release of the chat.
func BenchmarkEngineAssign(b *testing.B) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 5))
	now := t0
	assigned := 0
	e, _ := New(Config{Now: func() time.Time { return now }, OnEvent: func(ev Event) {
		if _, ok := ev.(Assigned); ok {
			assigned++
		}
	}})
	for _, a := range benchAgents(500, r) {
		a.Capacity = 1000
		_ = e.SetAgent(ctx, "w", a)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Second)
		req := benchRequest(i, r, now)
		if err := e.Enqueue(ctx, req); err != nil {
			if errors.Is(err, ErrOffline) {
				continue
			}
			b.Fatal(err)
		}
		if err := e.Release(ctx, "w", req.ConversationID); err != nil {
			b.Fatal(err)
		}
	}
	if assigned == 0 {
		b.Fatal("nothing assigned")
	}
}
