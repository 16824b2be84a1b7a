package routing

import (
	"sort"
	"sync"
	"time"
)

// workspace is the routing state of one workspace. Every field is guarded
// by mu; methods assume it is held.
type workspace struct {
	id     string
	cfg    *Config
	mu     sync.Mutex
	rules  map[string]Rules // site → rules
	agents map[string]*agentState
	list   []*Agent // every agent, sorted by ID: the order pick scans
	queue  *Queue
	supply map[Need]*supply
	offers map[string]*offer      // conversation → its offer
	owned  map[string]*assignment // conversation → its assignment
	events []Event

	// Tick does O(queue) work only when it may matter: relaxDue is the
	// earliest time any waiting conversation relaxes (zero: none), and
	// siteOpen is each site's business-hours state at the last tick.
	relaxDue time.Time
	siteOpen map[string]bool
}

type agentState struct {
	Agent
	chosen  Status
	tracked bool      // presence is reported (Connected/Disconnected)
	conns   int       // open connections
	lostAt  time.Time // when the last connection closed; zero if connected
	handle  time.Duration
	convs   map[string]struct{} // owned and offered conversations
	// phantom is load the store knows and this engine does not (the
	// Assigner answered AgentFull, or failed for this agent). It is
	// forgotten at the agent's next release, profile update or Tick, when
	// the store is asked again.
	phantom int
}

type assignment struct {
	req   Request
	agent string
	since time.Time
}

type offer struct {
	it       *waiting
	agent    string
	expires  time.Time
	decision Decision
}

// supply accumulates, for one Need, the online agents who qualify.
type supply struct {
	online, capacity, free int
	handleSum              time.Duration // Σ capacity × average handling time
}

func newWorkspace(id string, cfg *Config) *workspace {
	return &workspace{
		id: id, cfg: cfg,
		rules:    map[string]Rules{},
		agents:   map[string]*agentState{},
		queue:    NewQueue(cfg.WaitStep),
		supply:   map[Need]*supply{},
		offers:   map[string]*offer{},
		owned:    map[string]*assignment{},
		siteOpen: map[string]bool{},
	}
}

// queued is called whenever a conversation enters the queue or changes
// level, so Tick knows when the next relaxation is due.
func (w *workspace) queued(it *waiting) {
	w.ensureSupply(it)
	due := w.rulesFor(it.req.SiteID).nextRelax(it.req.EnqueuedAt, it.level)
	if !due.IsZero() && (w.relaxDue.IsZero() || due.Before(w.relaxDue)) {
		w.relaxDue = due
	}
}

func (w *workspace) emit(ev Event) { w.events = append(w.events, ev) }

// flush appends the queue positions that changed and delivers the events.
func (w *workspace) flush() {
	if ch := w.queue.Changes(); len(ch) > 0 {
		sort.Slice(ch, func(i, j int) bool { return ch[i].ConversationID < ch[j].ConversationID })
		w.emit(QueuePositions{WorkspaceID: w.id, Positions: ch})
	}
	for _, ev := range w.events {
		w.cfg.OnEvent(ev)
	}
	clear(w.events)
	w.events = w.events[:0]
}

func (w *workspace) rulesFor(site string) Rules { return w.rules[site] }

func (w *workspace) known(conv string) bool {
	_, queued := w.queue.items[conv]
	_, owned := w.owned[conv]
	return queued || owned
}
