package routing

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for deterministic tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) on(ev Event) { r.mu.Lock(); r.events = append(r.events, ev); r.mu.Unlock() }

// take returns the events since the last take.
func (r *recorder) take() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

func find[E Event](evs []Event) []E {
	var out []E
	for _, ev := range evs {
		if e, ok := ev.(E); ok {
			out = append(out, e)
		}
	}
	return out
}

type fixture struct {
	t   *testing.T
	e   *Engine
	clk *clock
	rec *recorder
	as  *MemoryAssigner
	ctx context.Context
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, clk: &clock{t: t0}, rec: &recorder{}, as: NewMemoryAssigner(), ctx: context.Background()}
	var err error
	f.e, err = New(Config{Now: f.clk.Now, Assigner: f.as, OnEvent: f.rec.on, WaitStep: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) agent(a Agent) {
	f.t.Helper()
	if a.Status == "" {
		a.Status = StatusOnline
	}
	if err := f.e.SetAgent(f.ctx, "w", a); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) enqueue(id string, r Request) error {
	r.ConversationID, r.WorkspaceID = id, "w"
	if r.EnqueuedAt.IsZero() {
		r.EnqueuedAt = f.clk.Now()
	}
	return f.e.Enqueue(f.ctx, r)
}

func (f *fixture) mustEnqueue(id string, r Request) {
	f.t.Helper()
	if err := f.enqueue(id, r); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) owner(conv string) string { return f.e.Snapshot("w").Owners[conv] }

func TestEngineAssignsQueuesAndReleases(t *testing.T) {
	f := newFixture(t)
	f.agent(Agent{ID: "ana", Capacity: 1, Languages: []string{"en"}})
	f.agent(Agent{ID: "bob", Capacity: 1, Languages: []string{"en"}})
	f.rec.take()

	f.mustEnqueue("c1", Request{Language: "en"})
	f.clk.Advance(time.Second)
	f.mustEnqueue("c2", Request{Language: "en"})
	f.mustEnqueue("c3", Request{Language: "en"})
	f.mustEnqueue("c4", Request{Language: "en", Priority: 1})
	evs := f.rec.take()
	as := find[Assigned](evs)
	if len(as) != 2 || as[0].AgentID != "ana" || as[0].ConversationID != "c1" || as[1].AgentID != "bob" || as[1].ConversationID != "c2" {
		t.Fatalf("assigned %+v", as)
	}
	// c4 has priority, so it is ahead of c3.
	last := map[string]Position{}
	for _, qp := range find[QueuePositions](evs) {
		for _, p := range qp.Positions {
			last[p.ConversationID] = p
		}
	}
	if last["c4"].Position != 1 || last["c3"].Position != 2 {
		t.Fatalf("positions %+v", last)
	}

	f.clk.Advance(4 * time.Minute)
	if err := f.e.Release(f.ctx, "w", "c1"); err != nil {
		t.Fatal(err)
	}
	evs = f.rec.take()
	if rel := find[Released](evs); len(rel) != 1 || rel[0].Handled != 4*time.Minute+time.Second {
		t.Fatalf("released %+v", rel)
	}
	if as := find[Assigned](evs); len(as) != 1 || as[0].ConversationID != "c4" || as[0].AgentID != "ana" {
		t.Fatalf("after release: %+v", as)
	}
	if qp := find[QueuePositions](evs); len(qp) != 1 || qp[0].Positions[0] != (Position{"c3", 1, qp[0].Positions[0].Wait}) {
		t.Fatalf("c3 should now be first: %+v", qp)
	}
	if err := f.e.Release(f.ctx, "w", "nope"); !errors.Is(err, ErrUnknownConversation) {
		t.Fatalf("release unknown: %v", err)
	}
	if err := f.enqueue("c4", Request{}); !errors.Is(err, ErrAlreadyRouted) {
		t.Fatalf("enqueue twice: %v", err)
	}
	// A visitor who leaves the queue just leaves it.
	if err := f.e.Release(f.ctx, "w", "c3"); err != nil || len(f.e.Snapshot("w").Queue) != 0 {
		t.Fatalf("leaving the queue: %v", err)
	}
}

func TestEngineOfflineAnswers(t *testing.T) {
	f := newFixture(t)
	if err := f.enqueue("c1", Request{}); !errors.Is(err, ErrNoAgentOnline) || !errors.Is(err, ErrOffline) {
		t.Fatalf("no agents: %v", err)
	}
	f.agent(Agent{ID: "ana", Capacity: 1, Status: StatusAway})
	if err := f.enqueue("c1", Request{}); !errors.Is(err, ErrNoAgentOnline) {
		t.Fatalf("only an away agent: %v", err)
	}
	// Nobody speaks German and the site never relaxes: waiting would be
	// forever, so the answer is offline.
	f.agent(Agent{ID: "bob", Capacity: 1, Languages: []string{"en"}})
	if err := f.enqueue("c1", Request{Language: "de"}); !errors.Is(err, ErrNoAgentOnline) {
		t.Fatalf("unreachable language: %v", err)
	}
	// With relaxation to any language the German visitor is served.
	if err := f.e.SetRules("w", "", Rules{RelaxAfter: []time.Duration{0, 0}}); err != nil {
		t.Fatal(err)
	}
	f.mustEnqueue("c1", Request{Language: "de"})
	if f.owner("c1") != "bob" {
		t.Fatalf("owner %q", f.owner("c1"))
	}
	// The queued visitor gets Offline when the last agent leaves.
	f.mustEnqueue("c2", Request{Language: "de"})
	f.rec.take()
	if err := f.e.SetStatus(f.ctx, "w", "bob", StatusAway); err != nil {
		t.Fatal(err)
	}
	off := find[Offline](f.rec.take())
	if len(off) != 1 || off[0].ConversationID != "c2" || !errors.Is(off[0].Err, ErrNoAgentOnline) {
		t.Fatalf("offline events %+v", off)
	}
	if f.owner("c1") != "bob" {
		t.Fatal("an away agent keeps its conversations")
	}
}

// Issue 20: an agent online with no languages, another away who lists
// French. Visitors of any language, English or French, go to the first at
// once: listing no languages means "any language", and the site need not
// relax for it.
func TestEngineAgentWithoutLanguagesTakesEveryLanguage(t *testing.T) {
	f := newFixture(t)
	f.agent(Agent{ID: "any", Capacity: 5})
	f.agent(Agent{ID: "fleur", Capacity: 5, Status: StatusAway, Languages: []string{"fr"}})
	for _, lang := range []string{"en", "fr", "pt-BR"} {
		f.rec.take()
		if err := f.enqueue("c-"+lang, Request{Language: lang}); err != nil {
			t.Fatalf("%s visitor: %v", lang, err)
		}
		as := find[Assigned](f.rec.take())
		if len(as) != 1 || as[0].AgentID != "any" || as[0].Translate || as[0].Level != LevelExact {
			t.Fatalf("%s visitor: assigned %+v, want agent any at exact level without translation", lang, as)
		}
	}
}

func TestEngineBusinessHoursInSiteTimeZone(t *testing.T) {
	f := newFixture(t)
	// t0 is Wednesday 12:00 UTC = 21:00 in Tokyo.
	tokyo, err := NewSchedule("Asia/Tokyo", weekdays(t, "09:00-21:30"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.e.SetRules("w", "jp", Rules{Hours: tokyo}); err != nil {
		t.Fatal(err)
	}
	f.agent(Agent{ID: "ana", Capacity: 1})
	f.mustEnqueue("c1", Request{SiteID: "jp"})
	f.mustEnqueue("c2", Request{SiteID: "jp"}) // waits: ana is busy
	f.mustEnqueue("other-site", Request{SiteID: "fr"})
	f.rec.take()

	f.clk.Advance(30 * time.Minute) // 21:30 Tokyo: closed
	f.e.Tick(f.ctx)
	off := find[Offline](f.rec.take())
	if len(off) != 1 || off[0].ConversationID != "c2" || !errors.Is(off[0].Err, ErrOutsideHours) {
		t.Fatalf("offline at closing: %+v", off)
	}
	// Reopens Thursday 09:00 Tokyo = Thursday 00:00 UTC.
	if want := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC); !off[0].Reopens.Equal(want) {
		t.Errorf("reopens %v, want %v", off[0].Reopens, want)
	}
	if err := f.enqueue("c3", Request{SiteID: "jp"}); !errors.Is(err, ErrOutsideHours) {
		t.Fatalf("enqueue after hours: %v", err)
	}
	if f.owner("c1") != "ana" {
		t.Fatal("closing does not take running chats away")
	}
	if q := f.e.Snapshot("w").Queue; len(q) != 1 || q[0].ConversationID != "other-site" {
		t.Fatalf("the other site's visitor keeps waiting: %+v", q)
	}
	f.clk.Advance(11*time.Hour + 30*time.Minute) // Thursday 09:00 Tokyo
	if err := f.enqueue("c3", Request{SiteID: "jp"}); err != nil {
		t.Fatalf("enqueue at opening: %v", err)
	}
}

func TestEngineRelaxesStepByStep(t *testing.T) {
	f := newFixture(t)
	if err := f.e.SetRules("w", "", Rules{RelaxAfter: []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute}}); err != nil {
		t.Fatal(err)
	}
	// Nobody has the skill; the team has an English speaker; a French
	// speaker sits outside the team.
	f.agent(Agent{ID: "ted", Capacity: 1, Languages: []string{"en"}, Teams: []string{"sales"}})
	f.agent(Agent{ID: "zoe", Capacity: 1, Languages: []string{"fr"}, Teams: []string{"support"}})
	f.mustEnqueue("c1", Request{Language: "fr", Skill: "refunds", Team: "sales"})
	f.rec.take()

	steps := []struct {
		after time.Duration
		level Level
		owner string
	}{
		{59 * time.Second, LevelExact, ""},
		{time.Second, LevelTeam, ""},           // no French speaker in sales
		{time.Minute, LevelAnyLanguage, "ted"}, // sales, with translation
	}
	for _, s := range steps {
		f.clk.Advance(s.after)
		f.e.Tick(f.ctx)
		evs := f.rec.take()
		if s.owner == "" {
			if q := f.e.Snapshot("w").Queue; len(q) != 1 || q[0].Level != s.level {
				t.Fatalf("at %v: queue %+v, want level %v", s.after, q, s.level)
			}
			continue
		}
		as := find[Assigned](evs)
		if len(as) != 1 || as[0].AgentID != s.owner || as[0].Level != s.level || !as[0].Translate {
			t.Fatalf("assigned %+v", as)
		}
		if !strings.Contains(as[0].Reason, "relaxed to any language after 2m0s") {
			t.Errorf("reason %q", as[0].Reason)
		}
		rel := find[Relaxed](evs)
		if len(rel) != 1 || rel[0].From != LevelTeam || rel[0].To != LevelAnyLanguage || !strings.Contains(rel[0].Reason, "speaking fr in team sales") {
			t.Errorf("relaxed %+v", rel)
		}
	}
}

func TestEngineOfferTimeoutNextAgentAndAwayAfterMisses(t *testing.T) {
	f := newFixture(t)
	if err := f.e.SetRules("w", "", Rules{Mode: ModeOffer, OfferTimeout: 20 * time.Second, MaxMisses: 2}); err != nil {
		t.Fatal(err)
	}
	f.agent(Agent{ID: "ana", Capacity: 1, IdleSince: t0}) // idle the longest once set online
	f.clk.Advance(time.Second)
	f.agent(Agent{ID: "bob", Capacity: 1})
	f.rec.take()

	f.mustEnqueue("c1", Request{})
	of := find[Offered](f.rec.take())
	if len(of) != 1 || of[0].AgentID != "ana" || !of[0].Expires.Equal(f.clk.Now().Add(20*time.Second)) {
		t.Fatalf("offer %+v", of)
	}
	if f.as.Owner("w", "c1") != "ana" || f.as.Load("w", "bob") != 0 {
		t.Fatal("an offer reserves the agent's capacity in the store")
	}
	if err := f.e.Accept(f.ctx, "w", "c1", "bob"); !errors.Is(err, ErrNoOffer) {
		t.Fatalf("accepting someone else's offer: %v", err)
	}

	// Ana misses it: it goes to Bob.
	f.clk.Advance(20 * time.Second)
	f.e.Tick(f.ctx)
	evs := f.rec.take()
	if end := find[OfferEnded](evs); len(end) != 1 || end[0].AgentID != "ana" || end[0].Why != "expired" {
		t.Fatalf("ended %+v", end)
	}
	if of := find[Offered](evs); len(of) != 1 || of[0].AgentID != "bob" {
		t.Fatalf("next offer %+v", of)
	}
	if err := f.e.Accept(f.ctx, "w", "c1", "ana"); !errors.Is(err, ErrNoOffer) {
		t.Fatalf("accepting an expired offer: %v", err)
	}
	if err := f.e.Accept(f.ctx, "w", "c1", "bob"); err != nil {
		t.Fatal(err)
	}
	if as := find[Assigned](f.rec.take()); len(as) != 1 || as[0].AgentID != "bob" || !strings.Contains(as[0].Reason, "offer accepted") {
		t.Fatalf("assigned %+v", as)
	}

	// Ana misses a second offer in a row: she goes away.
	f.mustEnqueue("c2", Request{})
	f.clk.Advance(20 * time.Second)
	f.e.Tick(f.ctx)
	evs = f.rec.take()
	st := find[AgentStatusChanged](evs)
	if len(st) != 1 || st[0].AgentID != "ana" || st[0].Status != StatusAway || !strings.Contains(st[0].Reason, "missed 2 offers") {
		t.Fatalf("status %+v", st)
	}
	// Bob is full, Ana away: c2 waits, nobody online is free — but Bob is
	// online, so it is not offline.
	if off := find[Offline](evs); len(off) != 0 {
		t.Fatalf("offline %+v", off)
	}
	if err := f.e.Decline(f.ctx, "w", "c2", "ana"); !errors.Is(err, ErrNoOffer) {
		t.Fatalf("decline after expiry: %v", err)
	}
	if f.as.Owner("w", "c2") != "" {
		t.Fatal("an expired offer releases the claim")
	}

	// A decline is not a miss, and the next free agent gets it.
	if err := f.e.SetStatus(f.ctx, "w", "ana", StatusOnline); err != nil {
		t.Fatal(err)
	}
	f.e.Tick(f.ctx)
	of = find[Offered](f.rec.take())
	if len(of) != 1 || of[0].AgentID != "ana" {
		t.Fatalf("offer back to ana: %+v", of)
	}
	if err := f.e.Decline(f.ctx, "w", "c2", "ana"); err != nil {
		t.Fatal(err)
	}
	// Ana is the only free agent and the rules never relax: rather than
	// leave the visitor stuck, she is asked again.
	evs = f.rec.take()
	if of := find[Offered](evs); len(of) != 1 || of[0].AgentID != "ana" {
		t.Fatalf("re-offer %+v", evs)
	}
	if s := f.e.Snapshot("w"); s.Agents[0].MissedOffers != 2 || s.Agents[0].Status != StatusOnline {
		t.Fatalf("ana %+v", s.Agents[0])
	}
}

func TestEngineOfferSkipsDeclinerWhileOthersAreFree(t *testing.T) {
	f := newFixture(t)
	_ = f.e.SetRules("w", "", Rules{Mode: ModeOffer})
	f.agent(Agent{ID: "ana", Capacity: 2})
	f.agent(Agent{ID: "bob", Capacity: 1})
	f.mustEnqueue("c1", Request{})
	first := find[Offered](f.rec.take())[0].AgentID
	if err := f.e.Decline(f.ctx, "w", "c1", first); err != nil {
		t.Fatal(err)
	}
	of := find[Offered](f.rec.take())
	if len(of) != 1 || of[0].AgentID == first {
		t.Fatalf("after %s declined: %+v", first, of)
	}
}

// With relaxation steps, a decline waits for a wider level only when that
// level would bring someone new: the lone agent is asked again at once
// (not after the last step, minutes later); a free agent of another
// language is worth the wait. Issue 20 made relaxing the default, which
// left a lone agent's declined offer waiting five minutes.
func TestEngineOfferAsksAgainWhenRelaxingBringsNobodyNew(t *testing.T) {
	f := newFixture(t)
	_ = f.e.SetRules("w", "", Rules{Mode: ModeOffer, RelaxAfter: []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute}})
	f.agent(Agent{ID: "ana", Capacity: 2, Languages: []string{"en"}})
	f.mustEnqueue("c1", Request{Language: "en"})
	if of := find[Offered](f.rec.take()); len(of) != 1 || of[0].AgentID != "ana" {
		t.Fatalf("first offer %+v", of)
	}
	if err := f.e.Decline(f.ctx, "w", "c1", "ana"); err != nil {
		t.Fatal(err)
	}
	if of := find[Offered](f.rec.take()); len(of) != 1 || of[0].AgentID != "ana" {
		t.Fatalf("the only agent declined: re-offer %+v, want ana at once", of)
	}
	// Bob, free, speaks only German: from the any-language step on, he
	// can take c1, so ana's second decline waits for it.
	f.agent(Agent{ID: "bob", Capacity: 2, Languages: []string{"de"}})
	if err := f.e.Decline(f.ctx, "w", "c1", "ana"); err != nil {
		t.Fatal(err)
	}
	if of := find[Offered](f.rec.take()); len(of) != 0 {
		t.Fatalf("offered %+v while a wider level brings bob", of)
	}
	// A new level gives everyone a fresh chance, the best fit first.
	f.clk.Advance(2 * time.Minute)
	f.e.Tick(f.ctx)
	if of := find[Offered](f.rec.take()); len(of) != 1 || of[0].AgentID != "ana" {
		t.Fatalf("at the any-language step: %+v, want ana first", of)
	}
	if err := f.e.Decline(f.ctx, "w", "c1", "ana"); err != nil {
		t.Fatal(err)
	}
	if of := find[Offered](f.rec.take()); len(of) != 1 || of[0].AgentID != "bob" || !of[0].Translate {
		t.Fatalf("after ana's third decline: %+v, want bob with translation", of)
	}
}

func TestEnginePresenceGrace(t *testing.T) {
	f := newFixture(t)
	f.agent(Agent{ID: "ana", Capacity: 2})
	f.agent(Agent{ID: "bob", Capacity: 2})
	_ = f.e.Connected(f.ctx, "w", "ana")
	_ = f.e.Connected(f.ctx, "w", "ana") // two tabs
	f.mustEnqueue("c1", Request{})
	if f.owner("c1") != "ana" {
		t.Fatalf("owner %q", f.owner("c1"))
	}
	_ = f.e.Disconnected(f.ctx, "w", "ana")
	_ = f.e.Disconnected(f.ctx, "w", "ana") // last tab closed
	f.clk.Advance(29 * time.Second)
	f.e.Tick(f.ctx)
	if s := f.e.Snapshot("w"); s.Agents[0].Status != StatusOnline {
		t.Fatal("still within the grace period")
	}
	_ = f.e.Connected(f.ctx, "w", "ana") // a reload
	_ = f.e.Disconnected(f.ctx, "w", "ana")
	f.clk.Advance(29 * time.Second)
	f.e.Tick(f.ctx)
	if s := f.e.Snapshot("w"); s.Agents[0].Status != StatusOnline {
		t.Fatal("the reconnect restarted the grace period")
	}
	f.rec.take()
	f.clk.Advance(time.Second)
	f.e.Tick(f.ctx)
	evs := f.rec.take()
	if st := find[AgentStatusChanged](evs); len(st) != 1 || st[0].Status != StatusOffline {
		t.Fatalf("status %+v", st)
	}
	if rq := find[Requeued](evs); len(rq) != 1 || rq[0].ConversationID != "c1" {
		t.Fatalf("requeued %+v", rq)
	}
	if f.owner("c1") != "bob" || f.as.Owner("w", "c1") != "bob" || f.as.Load("w", "ana") != 0 {
		t.Fatalf("c1 should have moved to bob: %q / %q", f.owner("c1"), f.as.Owner("w", "c1"))
	}
	// Coming back restores the chosen status.
	_ = f.e.Connected(f.ctx, "w", "ana")
	if s := f.e.Snapshot("w"); s.Agents[0].Status != StatusOnline {
		t.Fatalf("after reconnect: %+v", s.Agents[0])
	}
}

func TestEngineTransferKeepsOneOwner(t *testing.T) {
	f := newFixture(t)
	f.agent(Agent{ID: "ana", Capacity: 1, Teams: []string{"sales"}, Languages: []string{"fr"}})
	f.agent(Agent{ID: "bob", Capacity: 1, Teams: []string{"billing"}, Languages: []string{"en"}})
	f.agent(Agent{ID: "cid", Capacity: 2, Teams: []string{"billing"}, Languages: []string{"fr"}})
	f.mustEnqueue("c1", Request{Language: "fr", Team: "sales"})
	f.mustEnqueue("c2", Request{Team: "billing"})
	f.rec.take()
	if f.owner("c1") != "ana" {
		t.Fatal(f.owner("c1"))
	}
	c2owner := f.owner("c2")

	tr := Transfer{WorkspaceID: "w", ConversationID: "c1", From: "bob", ToTeam: "billing"}
	if err := f.e.Transfer(f.ctx, tr); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("transfer by a non-owner: %v", err)
	}
	if err := f.e.Transfer(f.ctx, Transfer{WorkspaceID: "w", ConversationID: "c1", ToAgent: "x", ToTeam: "y"}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("two targets: %v", err)
	}
	if err := f.e.Transfer(f.ctx, Transfer{WorkspaceID: "w", ConversationID: "c1", From: "ana", ToAgent: c2owner}); c2owner == "bob" && !errors.Is(err, ErrNoAgentAvailable) {
		t.Fatalf("transfer to a full agent: %v", err)
	}

	// To the billing team: the French speaker with room wins.
	tr.From, tr.Note = "ana", "wants a refund"
	if err := f.e.Transfer(f.ctx, tr); err != nil {
		t.Fatal(err)
	}
	evs := f.rec.take()
	x := find[Transferred](evs)
	if len(x) != 1 || x[0].From != "ana" || x[0].To != "cid" || x[0].Note != "wants a refund" {
		t.Fatalf("transferred %+v", x)
	}
	if f.owner("c1") != "cid" || f.as.Owner("w", "c1") != "cid" || f.as.Load("w", "ana") != 0 {
		t.Fatal("one owner after the transfer, in the engine and in the store")
	}

	// A supervisor reassigns it back to ana.
	if err := f.e.Transfer(f.ctx, Transfer{WorkspaceID: "w", ConversationID: "c1", ToAgent: "ana"}); err != nil {
		t.Fatal(err)
	}
	if f.owner("c1") != "ana" || f.as.Owner("w", "c1") != "ana" {
		t.Fatal("reassignment")
	}
	s := f.e.Snapshot("w")
	for _, a := range s.Agents {
		if a.Load != f.as.Load("w", a.ID) || a.Load > a.Capacity {
			t.Errorf("agent %s: engine load %d, store load %d, capacity %d", a.ID, a.Load, f.as.Load("w", a.ID), a.Capacity)
		}
	}
}

func TestEngineUpdateReroutesDetectedLanguage(t *testing.T) {
	f := newFixture(t)
	f.agent(Agent{ID: "ana", Capacity: 1, Languages: []string{"en"}})
	f.agent(Agent{ID: "zoe", Capacity: 1, Languages: []string{"es"}})
	f.mustEnqueue("busy", Request{Language: "es"})
	_ = f.e.SetRules("w", "", Rules{RelaxAfter: []time.Duration{time.Hour, time.Hour}})
	f.mustEnqueue("c1", Request{Language: "es"}) // waits for zoe
	if err := f.e.Update(f.ctx, Request{ConversationID: "c1", WorkspaceID: "w", Language: "en-GB", EnqueuedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if f.owner("c1") != "ana" {
		t.Fatalf("after the language was detected as English: %q", f.owner("c1"))
	}
}

func TestEngineWaitEstimates(t *testing.T) {
	f := newFixture(t)
	f.agent(Agent{ID: "ana", Capacity: 2})
	f.agent(Agent{ID: "bob", Capacity: 2})
	for _, c := range []string{"a1", "a2", "a3", "a4"} {
		f.mustEnqueue(c, Request{})
	}
	// Both handle chats in 4 minutes on average.
	f.clk.Advance(4 * time.Minute)
	for _, c := range []string{"a1", "a2", "a3", "a4"} {
		_ = f.e.Release(f.ctx, "w", c)
	}
	for _, c := range []string{"b1", "b2", "b3", "b4", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8"} {
		f.mustEnqueue(c, Request{})
	}
	s := f.e.Snapshot("w")
	if len(s.Queue) != 8 {
		t.Fatalf("queue %d", len(s.Queue))
	}
	// 4 slots turning over every 4 minutes: one frees a minute.
	for i, w := range s.Queue {
		if want := time.Duration(i+1) * time.Minute; w.Position.Position != i+1 || w.Position.Wait != want {
			t.Errorf("%s: %+v, want position %d wait %v", w.ConversationID, w.Position, i+1, want)
		}
	}
	// Bob leaves: half the capacity, twice the wait for everyone.
	f.rec.take()
	_ = f.e.SetStatus(f.ctx, "w", "bob", StatusAway)
	f.e.Tick(f.ctx) // waits follow supply changes once per tick
	last := map[string]Position{}
	for _, qp := range find[QueuePositions](f.rec.take()) {
		for _, p := range qp.Positions {
			last[p.ConversationID] = p
		}
	}
	if len(last) != 8 || last["q1"].Wait != 2*time.Minute || last["q8"].Wait != 16*time.Minute {
		t.Fatalf("after bob left: %+v", last)
	}
}

func TestEngineRejectsBadInput(t *testing.T) {
	f := newFixture(t)
	if err := f.e.SetAgent(f.ctx, "w", Agent{Capacity: 1, Status: StatusOnline}); !errors.Is(err, ErrInvalidAgent) {
		t.Errorf("agent without id: %v", err)
	}
	if err := f.e.SetAgent(f.ctx, "w", Agent{ID: "a", Status: "busy"}); !errors.Is(err, ErrInvalidAgent) {
		t.Errorf("bad status: %v", err)
	}
	if err := f.e.SetStatus(f.ctx, "w", "ghost", StatusOnline); !errors.Is(err, ErrUnknownAgent) {
		t.Errorf("unknown agent: %v", err)
	}
	if err := f.e.Enqueue(f.ctx, Request{ConversationID: "c", WorkspaceID: "w"}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("no EnqueuedAt: %v", err)
	}
	if err := f.e.SetRules("w", "s", Rules{Mode: "lottery"}); !errors.Is(err, ErrInvalidRules) {
		t.Errorf("bad mode: %v", err)
	}
	if _, err := New(Config{HandleTimeWeight: 2}); err == nil {
		t.Errorf("bad config accepted")
	}
	if err := f.e.Transfer(f.ctx, Transfer{WorkspaceID: "w", ConversationID: "none", ToAgent: "a"}); !errors.Is(err, ErrUnknownConversation) {
		t.Errorf("transfer unknown: %v", err)
	}
}

// After a restart the server adopts the assignments it finds in the store;
// they count against capacity and can be transferred and released.
func TestEngineAdoptAfterRestart(t *testing.T) {
	f := newFixture(t)
	f.agent(Agent{ID: "ana", Capacity: 1})
	f.agent(Agent{ID: "bob", Capacity: 1})
	old := Request{ConversationID: "c0", WorkspaceID: "w", EnqueuedAt: t0.Add(-time.Hour)}
	if err := f.e.Adopt("w", old, "ana", t0.Add(-10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := f.e.Adopt("w", old, "bob", t0); !errors.Is(err, ErrAlreadyRouted) {
		t.Fatalf("adopting twice: %v", err)
	}
	if f.as.Owner("w", "c0") != "ana" || f.as.Load("w", "ana") != 1 {
		t.Fatal("the MemoryAssigner must learn adopted assignments")
	}
	f.mustEnqueue("c1", Request{})
	if f.owner("c1") != "bob" {
		t.Fatalf("ana is full with her adopted chat; c1 went to %q", f.owner("c1"))
	}
	if err := f.e.Transfer(f.ctx, Transfer{WorkspaceID: "w", ConversationID: "c0", From: "ana", ToAgent: "bob"}); !errors.Is(err, ErrNoAgentAvailable) {
		t.Fatalf("transfer to full bob: %v", err)
	}
	_ = f.e.Release(f.ctx, "w", "c1")
	if err := f.e.Transfer(f.ctx, Transfer{WorkspaceID: "w", ConversationID: "c0", From: "ana", ToAgent: "bob"}); err != nil {
		t.Fatal(err)
	}
	if f.as.Owner("w", "c0") != "bob" || f.as.Load("w", "ana") != 0 {
		t.Fatal("transfer of an adopted chat")
	}
}

func TestEngineProfileChangesAndRemoval(t *testing.T) {
	f := newFixture(t)
	f.agent(Agent{ID: "ana", Capacity: 1, Languages: []string{"fr", "en"}})
	f.agent(Agent{ID: "bob", Capacity: 1, Languages: []string{"en"}})
	f.mustEnqueue("c1", Request{Language: "en"})
	f.mustEnqueue("c2", Request{Language: "en"})
	f.mustEnqueue("fr", Request{Language: "fr"}) // waits for ana
	f.rec.take()

	// Ana no longer lists French and the site never relaxes: the French
	// visitor would wait forever, so it gets the offline answer now.
	f.agent(Agent{ID: "ana", Capacity: 1, Languages: []string{"en"}})
	off := find[Offline](f.rec.take())
	if len(off) != 1 || off[0].ConversationID != "fr" || !errors.Is(off[0].Err, ErrNoAgentOnline) {
		t.Fatalf("offline %+v", off)
	}

	// Raising capacity takes the next visitor at once.
	f.mustEnqueue("c3", Request{Language: "en"})
	f.agent(Agent{ID: "bob", Capacity: 3, Languages: []string{"en"}})
	if f.owner("c3") != "bob" {
		t.Fatalf("c3 owner %q", f.owner("c3"))
	}

	// Removing an agent hands its chats to the others.
	c1 := f.owner("c1")
	other := map[string]string{"ana": "bob", "bob": "ana"}[c1]
	if err := f.e.RemoveAgent(f.ctx, "w", c1); err != nil {
		t.Fatal(err)
	}
	if f.owner("c1") != other || f.as.Owner("w", "c1") != other {
		t.Fatalf("c1 after removing %s: %q", c1, f.owner("c1"))
	}
	if err := f.e.SetStatus(f.ctx, "w", c1, StatusOnline); !errors.Is(err, ErrUnknownAgent) {
		t.Fatalf("removed agent: %v", err)
	}
	for _, a := range f.e.Snapshot("w").Agents {
		if a.Load != f.as.Load("w", a.ID) {
			t.Errorf("%s load %d, store %d", a.ID, a.Load, f.as.Load("w", a.ID))
		}
	}
}
