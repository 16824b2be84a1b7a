package routing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// ledger rebuilds ownership and load from the event stream alone and checks,
// at every single event, that no agent is above capacity and that no
// conversation has two owners or is assigned while already assigned.
type ledger struct {
	mu       sync.Mutex
	t        *testing.T
	capacity map[string]int
	load     map[string]int
	maxLoad  map[string]int
	owner    map[string]string // assigned conversation → agent
	offered  map[string]string // offered conversation → agent
	assigned map[string]int    // times each conversation was assigned
	requeued map[string]int
	offline  map[string]bool
	position map[string]Position // last position told
	why      map[string]int
	bad      []string

	toAccept chan Offered
	toClose  chan string
}

func newLedger(t *testing.T) *ledger {
	return &ledger{t: t, capacity: map[string]int{}, load: map[string]int{}, maxLoad: map[string]int{},
		owner: map[string]string{}, offered: map[string]string{}, assigned: map[string]int{},
		requeued: map[string]int{}, offline: map[string]bool{}, position: map[string]Position{}, why: map[string]int{},
		toAccept: make(chan Offered, 100000), toClose: make(chan string, 100000)}
}

func (l *ledger) failf(format string, args ...any) {
	l.bad = append(l.bad, fmt.Sprintf(format, args...))
}

func (l *ledger) up(agent string) {
	l.load[agent]++
	l.maxLoad[agent] = max(l.maxLoad[agent], l.load[agent])
	if l.load[agent] > l.capacity[agent] {
		l.failf("agent %s at load %d above capacity %d", agent, l.load[agent], l.capacity[agent])
	}
}

func (l *ledger) down(agent string) {
	l.load[agent]--
	if l.load[agent] < 0 {
		l.failf("agent %s load below zero", agent)
	}
}

func (l *ledger) on(ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e := ev.(type) {
	case Offered:
		if o, ok := l.owner[e.ConversationID]; ok {
			l.failf("%s offered to %s while owned by %s", e.ConversationID, e.AgentID, o)
		}
		if o, ok := l.offered[e.ConversationID]; ok {
			l.failf("%s offered to %s while offered to %s", e.ConversationID, e.AgentID, o)
		}
		l.offered[e.ConversationID] = e.AgentID
		l.up(e.AgentID)
		select {
		case l.toAccept <- e:
		default: // never block the engine; the offer just expires
		}
	case OfferEnded:
		if l.offered[e.ConversationID] != e.AgentID {
			l.failf("offer of %s to %s ended but was not out", e.ConversationID, e.AgentID)
		}
		delete(l.offered, e.ConversationID)
		l.why[e.Why]++
		l.down(e.AgentID)
	case Assigned:
		if o, ok := l.owner[e.ConversationID]; ok {
			l.failf("%s assigned to %s while owned by %s", e.ConversationID, e.AgentID, o)
		}
		if o, ok := l.offered[e.ConversationID]; ok {
			if o != e.AgentID {
				l.failf("%s assigned to %s while offered to %s", e.ConversationID, e.AgentID, o)
			}
			delete(l.offered, e.ConversationID) // the offer's reservation becomes the assignment
		} else {
			l.up(e.AgentID)
		}
		l.owner[e.ConversationID] = e.AgentID
		l.assigned[e.ConversationID]++
		delete(l.position, e.ConversationID)
		select {
		case l.toClose <- e.ConversationID:
		default:
		}
	case Released:
		if l.owner[e.ConversationID] != e.AgentID {
			l.failf("%s released by %s, owner %s", e.ConversationID, e.AgentID, l.owner[e.ConversationID])
		}
		delete(l.owner, e.ConversationID)
		l.down(e.AgentID)
	case Requeued:
		if l.owner[e.ConversationID] != e.AgentID {
			l.failf("%s requeued from %s, owner %s", e.ConversationID, e.AgentID, l.owner[e.ConversationID])
		}
		delete(l.owner, e.ConversationID)
		l.requeued[e.ConversationID]++
		l.down(e.AgentID)
	case Transferred:
		if l.owner[e.ConversationID] != e.From {
			l.failf("%s transferred from %s, owner %s", e.ConversationID, e.From, l.owner[e.ConversationID])
		}
		l.owner[e.ConversationID] = e.To
		l.down(e.From)
		l.up(e.To)
	case Offline:
		l.offline[e.ConversationID] = true
		delete(l.position, e.ConversationID)
	case QueuePositions:
		for _, p := range e.Positions {
			l.position[p.ConversationID] = p
		}
	case Lost, AssignFailed:
		l.failf("unexpected %T %+v with a single engine and an in-memory assigner", e, e)
	}
}

func TestRaceArrivalsWhileAgentsChangeStatus(t *testing.T) {
	for _, mode := range []Mode{ModeAuto, ModeOffer} {
		t.Run(string(mode), func(t *testing.T) { raceRun(t, mode) })
	}
}

func raceRun(t *testing.T, mode Mode) {
	const (
		visitors = 1000
		agents   = 50
		ws       = "w"
	)
	ctx := context.Background()
	clk := &clock{t: t0}
	store := NewMemoryAssigner()
	led := newLedger(t)
	e, err := New(Config{Now: clk.Now, Assigner: store, OnEvent: led.on, PresenceGrace: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rules := Rules{Mode: mode, OfferTimeout: 3 * time.Second, MaxMisses: 3,
		RelaxAfter: []time.Duration{2 * time.Second, 4 * time.Second, 6 * time.Second}}
	if err := e.SetRules(ws, "", rules); err != nil {
		t.Fatal(err)
	}
	langs := []string{"en", "fr", "de", "es"}
	skills := []string{"", "billing", "tech"}
	teams := []string{"", "sales", "support"}
	statuses := []Status{StatusOnline, StatusOnline, StatusOnline, StatusAway, StatusOffline}
	for i := range agents {
		id := fmt.Sprintf("agent%02d", i)
		capacity := 1 + i%4
		led.capacity[id] = capacity
		a := Agent{ID: id, Status: StatusOnline, Capacity: capacity,
			Languages: []string{langs[i%4], langs[(i/4)%4]}, Skills: []string{skills[i%3]}, Teams: []string{teams[1+i%2]}}
		if err := e.SetAgent(ctx, ws, a); err != nil {
			t.Fatal(err)
		}
	}

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		refused   = map[string]bool{} // Enqueue answered offline
		done      = make(chan struct{})
		closed    = map[string]bool{}
		enqueueOK = map[string]bool{}
	)
	// Agents change status, open and close tabs, at random.
	for i := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			id := fmt.Sprintf("agent%02d", i)
			for n := 0; n < 60; n++ {
				switch r.IntN(4) {
				case 0:
					_ = e.Connected(ctx, ws, id)
				case 1:
					_ = e.Disconnected(ctx, ws, id)
				default:
					if err := e.SetStatus(ctx, ws, id, statuses[r.IntN(len(statuses))]); err != nil {
						t.Error(err)
					}
				}
				time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond)
			}
		}()
	}
	// Visitors arrive.
	for i := range visitors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 2))
			time.Sleep(time.Duration(r.IntN(20)) * time.Millisecond)
			id := fmt.Sprintf("c%04d", i)
			req := Request{ConversationID: id, WorkspaceID: ws, Language: langs[r.IntN(4)],
				Skill: skills[r.IntN(3)], Team: teams[r.IntN(3)], Priority: r.IntN(3) / 2, EnqueuedAt: clk.Now()}
			err := e.Enqueue(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrOffline):
				refused[id] = true
			case err != nil:
				t.Errorf("enqueue %s: %v", id, err)
			default:
				enqueueOK[id] = true
			}
		}()
	}
	// Time passes: offers expire, presence lapses, conversations relax.
	var bg sync.WaitGroup
	bg.Add(3)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
				clk.Advance(100 * time.Millisecond)
				e.Tick(ctx)
			}
		}
	}()
	// Agents answer offers: mostly accept, sometimes decline, sometimes miss.
	go func() {
		defer bg.Done()
		r := rand.New(rand.NewPCG(7, 7))
		for {
			select {
			case <-done:
				return
			case of := <-led.toAccept:
				switch r.IntN(10) {
				case 0:
					_ = e.Decline(ctx, ws, of.ConversationID, of.AgentID)
				case 1: // missed: let it expire
				default:
					_ = e.Accept(ctx, ws, of.ConversationID, of.AgentID)
				}
			}
		}
	}()
	// Half the chats end; some are transferred first.
	go func() {
		defer bg.Done()
		r := rand.New(rand.NewPCG(9, 9))
		for {
			select {
			case <-done:
				return
			case c := <-led.toClose:
				switch r.IntN(4) {
				case 0:
					_ = e.Transfer(ctx, Transfer{WorkspaceID: ws, ConversationID: c, ToAgent: fmt.Sprintf("agent%02d", r.IntN(agents))})
				case 1:
					_ = e.Transfer(ctx, Transfer{WorkspaceID: ws, ConversationID: c, ToTeam: teams[1+r.IntN(2)], Note: "race"})
				case 2:
					if e.Release(ctx, ws, c) == nil {
						mu.Lock()
						closed[c] = true
						mu.Unlock()
					}
				}
			}
		}
	}()
	wg.Wait()
	// Let offers be answered and chats end for a while after the storm.
	time.Sleep(300 * time.Millisecond)
	close(done)
	bg.Wait()
	e.Tick(ctx) // settle: nothing may be left assignable

	led.mu.Lock()
	defer led.mu.Unlock()
	for _, b := range led.bad {
		t.Error(b)
	}
	snap := e.Snapshot(ws)
	queued := map[string]Waiting{}
	for _, w := range snap.Queue {
		queued[w.ConversationID] = w
	}
	counts := map[string]int{}
	for i := range visitors {
		id := fmt.Sprintf("c%04d", i)
		owner, isOwned := snap.Owners[id]
		_, isQueued := queued[id]
		states := 0
		for _, in := range []bool{isOwned, isQueued, closed[id], refused[id], led.offline[id] && !isQueued && !isOwned && !closed[id]} {
			if in {
				states++
			}
		}
		if states != 1 {
			t.Errorf("%s is in %d states: owned %v queued %v closed %v refused %v offline %v", id, states, isOwned, isQueued, closed[id], refused[id], led.offline[id])
		}
		if isOwned && led.owner[id] != owner {
			t.Errorf("%s: engine says owner %s, events say %s", id, owner, led.owner[id])
		}
		if store.Owner(ws, id) != owner && !(isQueued && queued[id].OfferedTo != "") {
			t.Errorf("%s: engine owner %q, store owner %q", id, owner, store.Owner(ws, id))
		}
		// Assigned once, plus once more per time its agent went offline.
		if n := led.assigned[id]; n > 1+led.requeued[id] {
			t.Errorf("%s assigned %d times with %d requeues", id, n, led.requeued[id])
		}
		switch {
		case isOwned:
			counts["assigned"]++
		case isQueued:
			counts["queued"]++
		case closed[id]:
			counts["closed"]++
		case refused[id]:
			counts["refused offline"]++
		default:
			counts["offline later"]++
		}
	}
	for _, a := range snap.Agents {
		if a.Load != store.Load(ws, a.ID) {
			t.Errorf("%s: engine load %d, store load %d", a.ID, a.Load, store.Load(ws, a.ID))
		}
		if m := store.MaxLoad(ws, a.ID); m > led.capacity[a.ID] || led.maxLoad[a.ID] > led.capacity[a.ID] {
			t.Errorf("%s peaked at %d (store) / %d (events), capacity %d", a.ID, m, led.maxLoad[a.ID], led.capacity[a.ID])
		}
	}
	// The queue is in fair order, every waiting visitor was told its
	// current position, and none waits while a free agent could take it.
	agentsNow := snap.Agents
	for i, w := range snap.Queue {
		if i > 0 {
			p := snap.Queue[i-1]
			if p.Priority < w.Priority || (p.Priority == w.Priority && p.EnqueuedAt.After(w.EnqueuedAt)) {
				t.Errorf("queue out of order at %d: %+v before %+v", i, p.Request, w.Request)
			}
		}
		if told := led.position[w.ConversationID]; told != w.Position {
			t.Errorf("%s was told %+v, is at %+v", w.ConversationID, told, w.Position)
		}
		if w.OfferedTo != "" {
			continue
		}
		if d, ok := Match(w.Request, agentsNow, rules, clk.Now()); ok {
			t.Errorf("%s waits at level %v while %s is free: %s", w.ConversationID, w.Level, d.AgentID, d.Reason)
		}
	}
	offers := 0
	for _, w := range snap.Queue {
		if w.OfferedTo != "" {
			offers++
		}
	}
	t.Logf("%s mode: %v; %d conversations assigned at some point; offers ended: %v, %d out", mode, counts, len(led.assigned), led.why, offers)
	if counts["assigned"]+counts["closed"] == 0 || counts["queued"] == 0 {
		t.Error("nothing was assigned or nothing queued: the test exercised too little")
	}
	seen := len(led.bad)
	led.mu.Unlock()

	// Everyone logs off: every waiting and every assigned visitor must end
	// up with the offline answer, and the store must be empty.
	for i := range agents {
		if err := e.SetStatus(ctx, ws, fmt.Sprintf("agent%02d", i), StatusOffline); err != nil {
			t.Fatal(err)
		}
	}
	led.mu.Lock()
	snap = e.Snapshot(ws)
	if len(snap.Queue) != 0 || len(snap.Owners) != 0 {
		t.Errorf("after everyone left: %d queued, %d owned", len(snap.Queue), len(snap.Owners))
	}
	for i := range visitors {
		id := fmt.Sprintf("c%04d", i)
		if !closed[id] && !refused[id] && !led.offline[id] {
			t.Errorf("%s got neither an agent nor the offline answer", id)
		}
		if o := store.Owner(ws, id); o != "" {
			t.Errorf("%s still owned by %s in the store", id, o)
		}
	}
	for _, b := range led.bad[seen:] {
		t.Error(b)
	}
}
