//go:build !linux

package service

import "net"

// Without epoll every connection reads with a goroutine of its own
// (conn.serve); see poll_linux.go.
var pollr poller

type poller struct{}

func (*poller) watch(*conn, net.Conn) bool { return false }
func (*poller) rearm(*conn) bool           { return false }
func (*poller) forget(*conn)               {}
