package service

import (
	"errors"
	"net"
	"sync"
	"syscall"
)

// The process's readiness poller: one epoll set in which every idle
// WebSocket waits to become readable, so that an idle connection holds no
// goroutine (and no goroutine stack). When one becomes readable the poller
// starts a goroutine that reads and handles what arrived (conn.ready), which
// ends once the input is consumed and re-arms the connection. Connections
// are registered one-shot: at most one goroutine reads a connection at a
// time. The goroutine waiting on the set runs only while connections are
// registered.
var pollr poller

type poller struct {
	once sync.Once
	err  error // epoll unavailable: connections use a goroutine each
	epfd int
	wake [2]int // a pipe in the set: wakes the waiter to let it end

	mu      sync.Mutex
	conns   map[int32]*conn // by key (the events' data)
	next    int32
	waiting bool // the waiter runs
}

const (
	pollIn   = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT
	wakeKey  = -1
	maxEvent = 128
)

func (p *poller) init() error {
	p.once.Do(func() {
		p.epfd, p.err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if p.err != nil {
			return
		}
		if p.err = syscall.Pipe2(p.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); p.err != nil {
			syscall.Close(p.epfd)
			return
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: wakeKey}
		if p.err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); p.err != nil {
			syscall.Close(p.epfd)
			return
		}
		p.conns = map[int32]*conn{}
	})
	return p.err
}

// watch registers c, whose socket is nc, and reports whether it did: a
// connection that is not plain TCP (TLS, a wrapped conn) reads with a
// goroutine of its own instead (conn.serve).
func (p *poller) watch(c *conn, nc net.Conn) bool {
	tc, ok := nc.(*net.TCPConn)
	if !ok || p.init() != nil {
		return false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	p.mu.Lock()
	for {
		p.next++
		if p.next < 0 {
			p.next = 0
		}
		if _, used := p.conns[p.next]; !used {
			break
		}
	}
	c.raw, c.key = raw, p.next
	p.conns[c.key] = c
	if !p.waiting {
		p.waiting = true
		go p.wait()
	}
	p.mu.Unlock()
	if err := p.arm(c, syscall.EPOLL_CTL_ADD); err != nil {
		p.forget(c)
		return false
	}
	return true
}

// rearm waits for c to become readable again; false: the connection has
// been closed.
func (p *poller) rearm(c *conn) bool {
	return p.arm(c, syscall.EPOLL_CTL_MOD) == nil
}

func (p *poller) arm(c *conn, op int) error {
	var err error
	// Inside Control the descriptor cannot be closed (and reused by
	// another connection) meanwhile.
	cerr := c.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: pollIn, Fd: c.key}
		err = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	return errors.Join(cerr, err)
}

// forget drops c (closed): its descriptor left the epoll set when it was
// closed.
func (p *poller) forget(c *conn) {
	p.mu.Lock()
	if p.conns[c.key] == c {
		delete(p.conns, c.key)
	}
	empty := len(p.conns) == 0 && p.waiting
	p.mu.Unlock()
	if empty {
		syscall.Write(p.wake[1], []byte{0})
	}
}

// wait dispatches readable connections until none is registered.
func (p *poller) wait() {
	events := make([]syscall.EpollEvent, maxEvent)
	drain := make([]byte, 16)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil && err != syscall.EINTR {
			// Not expected; end the registered connections rather than
			// leave them unread.
			p.mu.Lock()
			conns := p.conns
			p.conns, p.waiting = map[int32]*conn{}, false
			p.mu.Unlock()
			for _, c := range conns {
				c.log.Error("readiness poller failed; closing the connection", "err", err)
				c.close()
			}
			return
		}
		p.mu.Lock()
		for _, ev := range events[:max(n, 0)] {
			if ev.Fd == wakeKey {
				for {
					if m, _ := syscall.Read(p.wake[0], drain); m <= 0 {
						break
					}
				}
				continue
			}
			if c, ok := p.conns[ev.Fd]; ok {
				tasks.Go(c.ready)
			}
		}
		if len(p.conns) == 0 {
			p.waiting = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}
