// Package worker runs short tasks on long-lived goroutines.
//
// A fresh goroutine starts with a small stack and grows it (copying it
// each time) as the task goes deep: a chat message's path reaches deep into
// the SQL driver, so a goroutine per readable socket, per write burst and
// per commit paid that growth again and again, with the scheduler's
// start-up and exit around it (issue 15: a third of a message's CPU was the
// Go runtime). A Pool hands a task to a goroutine that finished one
// recently and still has its grown stack; it keeps none when idle, so an
// idle server (and an idle connection) costs what it did.
package worker

import "time"

// Pool runs tasks on goroutines that wait up to Idle for another task
// before they end. The zero value is not usable: use New.
type Pool struct {
	work chan func()
	idle time.Duration
}

// New returns a pool whose goroutines end after idle without work.
func New(idle time.Duration) *Pool {
	return &Pool{work: make(chan func()), idle: idle}
}

// Go runs f on a waiting goroutine of the pool, or on a new one when none
// waits. It never blocks: how many run at once is the callers' business,
// as with a go statement.
func (p *Pool) Go(f func()) {
	select {
	case p.work <- f:
	default:
		go p.run(f)
	}
}

func (p *Pool) run(f func()) {
	f()
	t := time.NewTimer(p.idle)
	defer t.Stop()
	for {
		select {
		case f := <-p.work:
			f()
			t.Reset(p.idle)
		case <-t.C:
			return
		}
	}
}
