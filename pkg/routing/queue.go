package routing

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// UnknownWait is the Wait of a Position when no online agent can take the
// conversation yet (it may relax later, or an agent may come online).
const UnknownWait time.Duration = -1

// Position is where a waiting conversation stands.
type Position struct {
	ConversationID string
	// Position is 1 for the next to be served, counted among conversations
	// that wait for the same kind of agent (the same Need): those are the
	// ones that are really ahead of this visitor.
	Position int
	// Wait is the estimated time until an agent takes it, rounded up to the
	// queue's step, or UnknownWait.
	Wait time.Duration
}

// Supply is the agent capacity that serves one Need.
type Supply struct {
	// Capacity is the sum of the capacities of online agents who qualify.
	Capacity int
	// AvgHandle is their capacity-weighted average handling time.
	AvgHandle time.Duration
}

// wait estimates how long the visitor at position p waits: a slot of the
// supply frees every AvgHandle/Capacity on average, and p-1 visitors go
// first.
func (s Supply) wait(p int, step time.Duration) time.Duration {
	if s.Capacity <= 0 {
		return UnknownWait
	}
	w := time.Duration(int64(s.AvgHandle) * int64(p) / int64(s.Capacity))
	if step > 0 {
		w = (w + step - 1) / step * step
	}
	return w
}

// Queue is the waiting line of one workspace, in fair order: higher priority
// first, then earlier EnqueuedAt, then earlier Push. It is split into lines,
// one per Need, because only conversations with the same Need compete for
// the same agents; a push or a removal recomputes the positions of the one
// line it touches, from the place it touched, and Changes reports only
// positions (and waits) that actually changed. Supply changes are batched
// until RefreshWaits.
//
// A Queue is not safe for concurrent use; the Engine guards it.
type Queue struct {
	lines map[Need]*line
	items map[string]*waiting
	seq   uint64
	step  time.Duration
	dirty map[*line]struct{}
	stale map[*line]struct{} // supply changed since the last RefreshWaits
}

type waiting struct {
	req   Request
	level Level
	seq   uint64
	line  *line
	// sent is what the visitor was last told; zero means nothing yet.
	sentPos  int
	sentWait time.Duration
	// offered marks a conversation with an offer out (Engine, ModeOffer):
	// it keeps its place but is not matched again until the offer ends.
	offered bool
	// tried are agents that declined or missed this conversation at its
	// current level; they are skipped until it relaxes.
	tried map[string]struct{}
}

func (w *waiting) before(v *waiting) bool {
	switch {
	case w.req.Priority != v.req.Priority:
		return w.req.Priority > v.req.Priority
	case !w.req.EnqueuedAt.Equal(v.req.EnqueuedAt):
		return w.req.EnqueuedAt.Before(v.req.EnqueuedAt)
	}
	return w.seq < v.seq
}

type line struct {
	need   Need
	items  []*waiting
	supply Supply
	// dirtyFrom is the first index whose position may have changed;
	// len(items) or more means clean.
	dirtyFrom int
}

// NewQueue returns an empty queue whose waits are rounded up to step (so a
// visitor is not told a new number every second; 0 means no rounding).
func NewQueue(step time.Duration) *Queue {
	return &Queue{lines: map[Need]*line{}, items: map[string]*waiting{}, step: step, dirty: map[*line]struct{}{}, stale: map[*line]struct{}{}}
}

// Len returns how many conversations wait.
func (q *Queue) Len() int { return len(q.items) }

// Push adds a conversation at relaxation level l. It fails with
// ErrAlreadyRouted if the conversation is already queued.
func (q *Queue) Push(req Request, l Level) error {
	if err := req.validate(); err != nil {
		return err
	}
	if _, ok := q.items[req.ConversationID]; ok {
		return fmt.Errorf("%w: %s", ErrAlreadyRouted, req.ConversationID)
	}
	req.Language = primaryLanguage(req.Language)
	q.seq++
	w := &waiting{req: req, level: l, seq: q.seq}
	q.items[req.ConversationID] = w
	q.insert(w)
	return nil
}

// Remove takes a conversation out of the queue and returns its request.
func (q *Queue) Remove(id string) (Request, bool) {
	w, ok := q.items[id]
	if !ok {
		return Request{}, false
	}
	q.detach(w)
	delete(q.items, id)
	return w.req, true
}

// Relax moves a conversation to level l (and so, maybe, to another line). It
// keeps its place in the fair order.
func (q *Queue) Relax(id string, l Level) bool {
	w, ok := q.items[id]
	if !ok {
		return false
	}
	q.move(w, w.req, l)
	return true
}

// Update replaces a queued conversation's language, skill, team or priority
// (for example once its language is detected). It keeps its arrival time and
// level.
func (q *Queue) Update(req Request) bool {
	w, ok := q.items[req.ConversationID]
	if !ok {
		return false
	}
	req.Language = primaryLanguage(req.Language)
	req.EnqueuedAt = w.req.EnqueuedAt
	q.move(w, req, w.level)
	return true
}

func (q *Queue) move(w *waiting, req Request, l Level) {
	q.detach(w)
	w.req, w.level = req, l
	q.insert(w)
}

// Get returns a queued conversation's request and level.
func (q *Queue) Get(id string) (Request, Level, bool) {
	w, ok := q.items[id]
	if !ok {
		return Request{}, 0, false
	}
	return w.req, w.level, true
}

// Position returns where a queued conversation stands now.
func (q *Queue) Position(id string) (Position, bool) {
	w, ok := q.items[id]
	if !ok {
		return Position{}, false
	}
	p := w.line.index(w) + 1
	return Position{ConversationID: id, Position: p, Wait: w.line.supply.wait(p, q.step)}, true
}

// SetSupply sets the agent capacity serving need. Waits computed from now on
// use it; the waits of visitors whose position did not move are recomputed
// by the next RefreshWaits, so a burst of supply changes (every ended chat
// moves an agent's average handling time) costs one pass per line, not one
// per change.
func (q *Queue) SetSupply(need Need, s Supply) {
	ln, ok := q.lines[need]
	if !ok || ln.supply == s {
		return
	}
	ln.supply = s
	q.stale[ln] = struct{}{}
}

// RefreshWaits marks every line whose supply changed since the last call
// for a full recomputation by the next Changes. The Engine calls it on Tick.
func (q *Queue) RefreshWaits() {
	for ln := range q.stale {
		q.markDirty(ln, 0)
	}
	clear(q.stale)
}

// Needs returns the Need of every non-empty line.
func (q *Queue) Needs() []Need {
	out := make([]Need, 0, len(q.lines))
	for n := range q.lines {
		out = append(out, n)
	}
	return out
}

// Changes returns every position or wait that changed since the previous
// call (a new conversation counts as changed), and forgets them.
func (q *Queue) Changes() []Position {
	var out []Position
	for ln := range q.dirty {
		for i := ln.dirtyFrom; i < len(ln.items); i++ {
			w := ln.items[i]
			p := i + 1
			wait := ln.supply.wait(p, q.step)
			if p != w.sentPos || wait != w.sentWait {
				w.sentPos, w.sentWait = p, wait
				out = append(out, Position{ConversationID: w.req.ConversationID, Position: p, Wait: wait})
			}
		}
		ln.dirtyFrom = len(ln.items)
	}
	clear(q.dirty)
	return out
}

// Order returns every queued request in fair order (a snapshot; O(n log n)).
func (q *Queue) Order() []Request {
	all := make([]*waiting, 0, len(q.items))
	for _, w := range q.items {
		all = append(all, w)
	}
	slices.SortFunc(all, func(a, b *waiting) int {
		if a.before(b) {
			return -1
		}
		return 1
	})
	out := make([]Request, len(all))
	for i, w := range all {
		out[i] = w.req
	}
	return out
}

func (q *Queue) insert(w *waiting) {
	need := w.req.Need(w.level)
	ln, ok := q.lines[need]
	if !ok {
		ln = &line{need: need}
		q.lines[need] = ln
	}
	i := sort.Search(len(ln.items), func(i int) bool { return w.before(ln.items[i]) })
	ln.items = slices.Insert(ln.items, i, w)
	w.line = ln
	q.markDirty(ln, i)
}

func (q *Queue) detach(w *waiting) {
	ln := w.line
	i := ln.index(w)
	ln.items = slices.Delete(ln.items, i, i+1)
	w.line = nil
	if len(ln.items) == 0 {
		delete(q.lines, ln.need)
		delete(q.dirty, ln)
		delete(q.stale, ln)
		return
	}
	q.markDirty(ln, i)
}

func (q *Queue) markDirty(ln *line, from int) {
	if _, ok := q.dirty[ln]; !ok || from < ln.dirtyFrom {
		ln.dirtyFrom = from
	}
	q.dirty[ln] = struct{}{}
}

// index finds w in its line by binary search on the fair order.
func (ln *line) index(w *waiting) int {
	return sort.Search(len(ln.items), func(i int) bool { return !ln.items[i].before(w) })
}
