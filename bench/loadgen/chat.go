package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/protocol"
)

// Target is a running server the load generator drives.
type Target struct {
	Baseline bool
	URL      string // http://127.0.0.1:PORT
	PID      int    // for RSS and CPU; 0 when unknown
	// DataChannel: every side negotiates a data channel after connecting
	// and sends its chat frames on it.
	DataChannel bool
	Pairs       []Pair // Parley only: seeded credentials
	// Watchers are, per pair, the session cookies of more agents of its
	// workspace (the fan-out scenario).
	Watchers [][]string
	// OnLoad, when set, is called as the measured load starts (after the
	// connections are set up), e.g. to start a profiler.
	OnLoad func()
}

// session is the state of one load run against a target: its pairs, their
// connections and the tally.
type session struct {
	ctx       context.Context
	ct        *chatTarget
	tg        Target
	pairs     []*pair
	tp        atomic.Pointer[tally]
	reconnect atomic.Bool // resume scenario: reconnect and resume on a drop
	stopping  atomic.Bool
	wg        sync.WaitGroup

	resumeMu    sync.Mutex
	resumeTimes []time.Time // when each side's resume after a drop was synced
	disconnects atomic.Int64
}

// open connects n pairs (visitor and agent) with bounded concurrency; for
// Parley each visitor starts its conversation and the agent is routed to it.
func open(ctx context.Context, tg Target, n int) (*session, error) {
	ct := &chatTarget{baseline: tg.Baseline, dc: tg.DataChannel, url: tg.URL, padTo: messageFrameSize(), dialer: dialer(nil, 1024)}
	s := &session{ctx: ctx, ct: ct, tg: tg}
	s.tp.Store(newTally())
	if !tg.Baseline && len(tg.Pairs) < n {
		return nil, fmt.Errorf("need %d seeded pairs, have %d", n, len(tg.Pairs))
	}
	for i := 0; i < n; i++ {
		p := &pair{idx: i, target: ct, pending: map[int]time.Time{}}
		p.v = &side{role: protocol.AuthorVisitor, p: p, started: make(chan string, 1)}
		p.a = &side{role: protocol.AuthorAgent, p: p}
		if tg.Baseline {
			p.conv = fmt.Sprintf("pair-%d", i)
		}
		s.pairs = append(s.pairs, p)
	}
	sem := make(chan struct{}, 32)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, p := range s.pairs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.openPair(p); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		s.close()
		return nil, fmt.Errorf("%d of %d pairs failed to open; first: %w", len(errs), n, errs[0])
	}
	return s, nil
}

func (s *session) openPair(p *pair) error {
	var pr Pair
	if !s.tg.Baseline {
		pr = s.tg.Pairs[p.idx]
	}
	for _, sd := range []*side{p.a, p.v} {
		if err := s.ct.connect(s.ctx, sd, pr, p.conv); err != nil {
			s.tl().connectErrors.Add(1)
			return err
		}
		s.wg.Add(1)
		go s.serve(sd, pr)
		if !s.tg.Baseline {
			select {
			case <-sd.welcome:
			case <-time.After(30 * time.Second):
				return fmt.Errorf("%s %d: no welcome in 30s", sd.role, p.idx)
			}
		}
		if s.ct.dc {
			if err := s.negotiate(sd); err != nil {
				s.tl().connectErrors.Add(1)
				return err
			}
		}
	}
	if s.tg.Baseline {
		return nil
	}
	b, _ := json.Marshal(protocol.Start{Envelope: protocol.Envelope{Type: protocol.TypeStart, Ref: "start"}})
	p.v.mu.Lock()
	err := p.v.ws.WriteMessage(websocket.TextMessage, b)
	p.v.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case id := <-p.v.started:
		p.mu.Lock()
		p.conv = id
		p.mu.Unlock()
	case <-time.After(30 * time.Second):
		return fmt.Errorf("visitor %d: no conversation in 30s", p.idx)
	}
	return nil
}

// serve reads a side's frames; in resume mode it reconnects after a drop,
// resumes from its last seq and resends what was not acked.
func (s *session) serve(sd *side, pr Pair) {
	defer s.wg.Done()
	for {
		sd.mu.Lock()
		c := sd.ws
		sd.mu.Unlock()
		if c == nil {
			return
		}
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				break
			}
			if s.ct.dc {
				if s.onRTC(sd, data) {
					continue
				}
				if isPeerMessage(data) {
					s.tl().overWS.Add(1)
				}
			}
			sd.onFrame(data, time.Now(), s.tl())
		}
		sd.mu.Lock()
		if sd.ws == c {
			sd.ws = nil
		}
		sd.mu.Unlock()
		c.Close()
		// The peer was negotiated on this WebSocket; after a reconnect
		// the side chats over the new WebSocket.
		sd.closePeer()
		if !s.reconnect.Load() || s.stopping.Load() || s.ctx.Err() != nil {
			return
		}
		s.disconnects.Add(1)
		backoff := 50 * time.Millisecond
		deadline := time.Now().Add(60 * time.Second)
		for {
			time.Sleep(backoff/2 + rand.N(backoff))
			if s.stopping.Load() || s.ctx.Err() != nil || time.Now().After(deadline) {
				return
			}
			if err := s.ct.connect(s.ctx, sd, pr, sd.p.conv); err == nil {
				break
			}
			s.tl().connectErrors.Add(1)
			backoff = min(backoff*2, 500*time.Millisecond)
		}
		go s.resendAfterResume(sd)
	}
}

// resendAfterResume waits for the resume to be synced, notes the time and
// resends every message of this side that was never acked (same client id:
// the server must store each once).
func (s *session) resendAfterResume(sd *side) {
	sd.mu.Lock()
	ch := sd.resumed
	sd.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(60 * time.Second):
		return
	}
	s.resumeMu.Lock()
	s.resumeTimes = append(s.resumeTimes, time.Now())
	s.resumeMu.Unlock()
	p := sd.p
	type msg struct {
		n     int
		sched time.Time
	}
	var todo []msg
	p.mu.Lock()
	for n, sched := range p.pending {
		if p.from[n] == sd.role {
			todo = append(todo, msg{n, sched})
		}
	}
	p.mu.Unlock()
	sort.Slice(todo, func(i, j int) bool { return todo[i].n < todo[j].n })
	for _, m := range todo {
		s.tl().resent.Add(1)
		sd.sendFrame(m.n, m.sched)
	}
}

// tl is the tally of the current level (replaced between levels).
func (s *session) tl() *tally { return s.tp.Load() }

func (s *session) close() {
	s.stopping.Store(true)
	for _, p := range s.pairs {
		for _, sd := range []*side{p.v, p.a} {
			sd.closePeer()
			sd.mu.Lock()
			if sd.ws != nil {
				sd.ws.Close()
			}
			sd.mu.Unlock()
		}
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// drive sends at rate msgs/s per conversation, alternating visitor and
// agent, from t0 until end (zero: until stop is closed). It is open-loop: each message has a scheduled
// time and latency counts from it, so a server that falls behind shows its
// queueing (no coordinated omission). Returns the number of sends that left
// more than 100 ms after their scheduled time.
func (s *session) drive(pairs []*pair, rate float64, t0, end time.Time, stop <-chan struct{}) int64 {
	period := time.Duration(float64(time.Second) / rate)
	var late atomic.Int64
	var wg sync.WaitGroup
	for _, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			offset := rand.N(period)
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for k := 0; ; k++ {
				sched := t0.Add(offset + time.Duration(k)*period)
				if (!end.IsZero() && !sched.Before(end)) || s.ctx.Err() != nil {
					return
				}
				if d := time.Until(sched); d > 0 {
					timer.Reset(d)
					select {
					case <-timer.C:
					case <-s.ctx.Done():
						return
					case <-stop:
						return
					}
				} else if -d > 100*time.Millisecond {
					late.Add(1)
				}
				sd := p.v
				if k%2 == 1 {
					sd = p.a
				}
				p.send(sd, sched, s.tl())
			}
		}()
	}
	wg.Wait()
	return late.Load()
}

// drain waits until every sent message is delivered (and, on Parley,
// acked), or until timeout.
func (s *session) drain(timeout time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < timeout {
		sent := s.tl().sent.Load()
		if s.tl().delivered.Load() >= sent && (s.tg.Baseline || s.tl().acked.Load() >= sent) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// audit goes through every message's book: lost = acked (baseline: sent)
// but never at the peer; unfinished = neither acked nor delivered by the end
// of the drain; unacked = delivered but its ack never came.
func (s *session) audit() (lost, unfinished, unacked int64) {
	for _, p := range s.pairs {
		p.mu.Lock()
		for n := max(1, p.base); n < len(p.ackSeq); n++ {
			acked, got := p.ackSeq[n] != 0, p.recvSeq[n] != 0
			switch {
			case s.tg.Baseline && !got:
				lost++
			case s.tg.Baseline:
			case acked && !got:
				lost++
			case !acked && !got:
				unfinished++
			case !acked && got:
				unacked++
			}
		}
		p.mu.Unlock()
	}
	return
}

// sampler records the target's RSS once a second while running.
type sampler struct {
	pid    int
	stop   chan struct{}
	done   chan struct{}
	peakKB int64
	cpu0   time.Duration
}

func startSampler(pid int) *sampler {
	sm := &sampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	sm.cpu0, _ = CPUTime(pid)
	go func() {
		defer close(sm.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if kb, err := RSSKB(pid); err == nil && kb > sm.peakKB {
				sm.peakKB = kb
			}
			select {
			case <-tick.C:
			case <-sm.stop:
				return
			}
		}
	}()
	return sm
}

// finish stops sampling and returns peak RSS and CPU seconds used.
func (sm *sampler) finish() (int64, float64) {
	close(sm.stop)
	<-sm.done
	cpu, _ := CPUTime(sm.pid)
	return sm.peakKB, (cpu - sm.cpu0).Seconds()
}
