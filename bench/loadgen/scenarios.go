package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Level is one sending rate held for a time.
type Level struct {
	Rate     float64       // messages per second per conversation
	Duration time.Duration // sending time
	Drain    time.Duration // longest wait for the last deliveries and acks
}

// ChatOptions size a chat-like run: Conversations pairs, opened once, then
// driven at each level in turn (put overload levels last: what they leave
// queued is not waited for).
type ChatOptions struct {
	Conversations int
	Levels        []Level
}

// RunChat opens the pairs and, per level, sends at a fixed rate per
// conversation and records delivery latency (sender's scheduled send →
// receiver's receipt). It returns one result per level.
func RunChat(ctx context.Context, tg Target, o ChatOptions) []Result {
	setup := time.Now()
	var before, opened int64
	if tg.PID > 0 {
		before, _ = RSSKB(tg.PID)
	}
	s, err := open(ctx, tg, o.Conversations)
	if err != nil {
		return []Result{{Conversations: o.Conversations, Error: err.Error()}}
	}
	defer s.close()
	setupS := time.Since(setup).Seconds()
	if tg.PID > 0 {
		// Let the handshakes' garbage go before reading what the open
		// sessions hold.
		time.Sleep(time.Second)
		opened, _ = RSSKB(tg.PID)
	}
	// A server may drop a slow connection (its send queue is full); the
	// protocol says reconnect and resume, and so do these clients.
	s.reconnect.Store(true)
	if tg.OnLoad != nil {
		tg.OnLoad()
	}
	var out []Result
	for _, l := range o.Levels {
		if ctx.Err() != nil {
			break
		}
		r := Result{Conversations: o.Conversations, RatePerConv: l.Rate, DurationS: l.Duration.Seconds(), SetupS: setupS,
			Offered: int64(float64(o.Conversations) * l.Rate * l.Duration.Seconds())}
		s.tp.Store(newTally())
		for _, p := range s.pairs {
			p.mu.Lock()
			p.base = len(p.ackSeq)
			p.mu.Unlock()
		}
		disc0 := s.disconnects.Load()
		var sm *sampler
		if tg.PID > 0 {
			sm = startSampler(tg.PID)
		}
		t0 := time.Now().Add(100 * time.Millisecond)
		end := t0.Add(l.Duration)
		inWindow := make(chan int64, 1)
		go func() {
			time.Sleep(time.Until(end))
			inWindow <- s.tl().delivered.Load()
		}()
		r.LateSends = s.drive(s.pairs, l.Rate, t0, end, nil)
		r.DeliveredPerSec = float64(<-inWindow) / l.Duration.Seconds()
		r.DrainS = s.drain(l.Drain).Seconds()
		r.DrainTimedOut = r.DrainS >= l.Drain.Seconds()
		if sm != nil {
			r.ServerPeakRSSKB, r.ServerCPUS = sm.finish()
		}
		s.fill(&r)
		r.Disconnects = s.disconnects.Load() - disc0
		if before > 0 && opened > 0 {
			sessions := 2 * o.Conversations
			r.BeforeRSSKB, r.OpenRSSKB = before, opened
			r.KBPerSession = float64(opened-before) / float64(sessions)
			if tg.DataChannel {
				r.Peers = sessions
			}
		}
		out = append(out, r)
	}
	return out
}

// fill copies the tally and the audit into r.
func (s *session) fill(r *Result) {
	t := s.tl()
	r.Sent, r.Acked, r.Delivered = t.sent.Load(), t.acked.Load(), t.delivered.Load()
	r.Duplicated, r.Redelivered, r.Gaps, r.Resent = t.duplicated.Load(), t.redelivered.Load(), t.gaps.Load(), t.resent.Load()
	r.ConnectErrors, r.WriteErrors = t.connectErrors.Load(), t.writeErrors.Load()
	r.OverDC, r.OverWS = t.overDC.Load(), t.overWS.Load()
	r.GapResumes = t.gapResumes.Load()
	r.Lost, r.Unfinished, r.Unacked = s.audit()
	if r.DrainTimedOut {
		// The level ended with work still queued (overload): an acked
		// message not delivered yet may still be on its way, so it is not
		// counted as lost.
		r.AckedInFlight, r.Lost = r.Lost, 0
	}
	t.errMu.Lock()
	if len(t.errors) > 0 {
		r.ErrorFrames = map[string]int64{}
		for k, v := range t.errors {
			r.ErrorFrames[k] = v
		}
	}
	t.errMu.Unlock()
	r.Latency = t.latency.Summarize()
	if !s.tg.Baseline {
		a := t.ack.Summarize()
		r.Ack = &a
	}
}

// RunStore measures stored messages per second: at each concurrency C, C
// visitors each send, wait for the ack, and send again (closed loop) for d.
func RunStore(ctx context.Context, tg Target, levels []int, d time.Duration) Result {
	maxC := 0
	for _, c := range levels {
		maxC = max(maxC, c)
	}
	r := Result{Conversations: maxC, DurationS: d.Seconds()}
	setup := time.Now()
	s, err := open(ctx, tg, maxC)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer s.close()
	r.SetupS = time.Since(setup).Seconds()
	for _, p := range s.pairs {
		p.mu.Lock()
		p.ackCh = make(chan struct{}, 1)
		p.mu.Unlock()
	}
	if tg.OnLoad != nil {
		tg.OnLoad()
	}
	var sent, acked, delivered int64
	for _, c := range levels {
		s.tp.Store(newTally())
		cpu0, _ := CPUTime(tg.PID)
		end := time.Now().Add(d)
		var wg sync.WaitGroup
		for _, p := range s.pairs[:c] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(end) && ctx.Err() == nil {
					p.send(p.v, time.Now(), s.tl())
					select {
					case <-p.ackCh:
					case <-time.After(30 * time.Second):
						return
					}
				}
			}()
		}
		wg.Wait()
		cpu1, _ := CPUTime(tg.PID)
		s.drain(10 * time.Second)
		t := s.tl()
		stored := t.acked.Load()
		sent, acked, delivered = sent+t.sent.Load(), acked+stored, delivered+t.delivered.Load()
		r.Store = append(r.Store, StoreLevel{Concurrency: c, Stored: stored, PerSec: float64(stored) / d.Seconds(),
			CPUS: (cpu1 - cpu0).Seconds(), Ack: t.ack.Summarize()})
	}
	s.fill(&r) // the last level's tally, and the audit of every message
	r.Sent, r.Acked, r.Delivered = sent, acked, delivered
	return r
}

// ResumeOptions size the kill -9 scenario.
type ResumeOptions struct {
	Conversations int
	Rate          float64
	Before, After time.Duration // sending before the first kill, and after the last
	Drain         time.Duration
	// Restarts is how many times the server is killed and restarted (0
	// means once); each waits for every side to resume, at most Bound.
	Restarts int
	Between  time.Duration // sending between one round's resumes and the next kill
	Bound    time.Duration // longest wait for every side to resume (0: 60 s)
}

// RunResume sends at a fixed rate, kills the server with SIGKILL, restarts
// it on the same data dir and measures how long until every client has
// reconnected and resumed, as many times as o.Restarts says; then it keeps
// sending and audits that every acked message reached its peer exactly
// once. Result.Resume holds the slowest round, and every round.
func RunResume(ctx context.Context, proc *Process, tg Target, o ResumeOptions) Result {
	rounds := max(1, o.Restarts)
	bound := o.Bound
	if bound == 0 {
		bound = 60 * time.Second
	}
	r := Result{Conversations: o.Conversations, RatePerConv: o.Rate, DurationS: (o.Before + o.After + time.Duration(rounds-1)*o.Between).Seconds()}
	setup := time.Now()
	s, err := open(ctx, tg, o.Conversations)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer s.close()
	s.reconnect.Store(true)
	r.SetupS = time.Since(setup).Seconds()
	t0 := time.Now().Add(100 * time.Millisecond)
	stopSending := make(chan struct{})
	driven := make(chan int64, 1)
	go func() { driven <- s.drive(s.pairs, o.Rate, t0, time.Time{}, stopSending) }()

	time.Sleep(time.Until(t0.Add(o.Before)))
	worst := -1
	for i := 0; i < rounds && ctx.Err() == nil; i++ {
		if i > 0 {
			time.Sleep(o.Between)
		}
		rr := ResumeRound{Sides: 2 * len(s.pairs)}
		rr.AckedBeforeKill = s.tl().acked.Load()
		rr.InFlightAtKill = s.tl().sent.Load() - rr.AckedBeforeKill
		s.resumeMu.Lock()
		s.resumeTimes = nil
		s.resumeMu.Unlock()
		killed := time.Now()
		proc.Kill()
		if err := proc.Start(ctx); err != nil {
			r.Error = "restart: " + err.Error()
			break
		}
		rr.RestartS = time.Since(killed).Seconds()
		// Wait (bounded) for every side to have resumed.
		for deadline := time.Now().Add(bound); time.Now().Before(deadline); {
			s.resumeMu.Lock()
			n := len(s.resumeTimes)
			s.resumeMu.Unlock()
			if n >= rr.Sides {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		s.resumeMu.Lock()
		times := append([]time.Time(nil), s.resumeTimes...)
		s.resumeMu.Unlock()
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		rr.SidesResumed = len(times)
		if len(times) > 0 {
			rr.AllResumedS = times[len(times)-1].Sub(killed).Seconds()
			rr.MedianResumedS = times[len(times)/2].Sub(killed).Seconds()
			// Of every side, resumed or not: a side that never resumed
			// counts as later than all.
			if i99 := int(float64(rr.Sides)*0.99+0.5) - 1; i99 < len(times) {
				rr.P99ResumedS = times[max(i99, 0)].Sub(killed).Seconds()
			} else {
				rr.P99ResumedS = bound.Seconds()
			}
		}
		if rr.SidesResumed < rr.Sides {
			r.Notes = append(r.Notes, fmt.Sprintf("restart %d: only %d of %d connections resumed within %s", i+1, rr.SidesResumed, rr.Sides, bound))
		}
		if r.Resume == nil {
			r.Resume = &ResumeResult{}
		}
		r.Resume.Rounds = append(r.Resume.Rounds, rr)
		if worst < 0 || rr.worse(r.Resume.Rounds[worst]) {
			worst = len(r.Resume.Rounds) - 1
		}
	}
	time.Sleep(o.After)
	close(stopSending)
	r.LateSends = <-driven
	r.DrainS = s.drain(o.Drain).Seconds()
	r.DrainTimedOut = r.DrainS >= o.Drain.Seconds()
	s.fill(&r)
	if worst >= 0 {
		r.Resume.ResumeRound = r.Resume.Rounds[worst]
	}
	return r
}

// WaitHTTP waits (bounded) until url answers 200.
func WaitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer in %s", url, timeout)
}
