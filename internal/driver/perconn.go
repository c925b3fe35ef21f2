package driver

import (
	"context"
	"errors"
	"io"
	"sync"
)

// PerConn is a driver's client of type T for each host connection (a Docker
// or LXD client dialling through it): opened on first use, shared by the
// host's steps, closed once when the connection closes. It is typed, so a
// driver never looks its client up by name or asserts its type.
type PerConn[T io.Closer] struct {
	open func(ctx context.Context, c Conn) (T, error)

	mu     sync.Mutex
	byConn map[Conn]*slot[T]
}

// slot is one connection's client, with a lock of its own: opening a client
// on one host (which may wait on a slow daemon) never holds up another's.
type slot[T io.Closer] struct {
	lock   chan struct{} // held while opening or closing; a channel so waiting honours ctx
	opened bool
	closed bool // the connection closed
	client T
}

// NewPerConn returns a PerConn whose clients open is called to make.
func NewPerConn[T io.Closer](open func(ctx context.Context, c Conn) (T, error)) *PerConn[T] {
	return &PerConn[T]{open: open, byConn: map[Conn]*slot[T]{}}
}

var errConnClosed = errors.New("the host's connection is closed")

// Get returns c's client, opening it when c has none yet. A failed open is
// not remembered: the next step tries again. c must be comparable (the
// runner's targets are pointers).
func (p *PerConn[T]) Get(ctx context.Context, c Conn) (T, error) {
	p.mu.Lock()
	s, known := p.byConn[c]
	if !known {
		s = &slot[T]{lock: make(chan struct{}, 1)}
		p.byConn[c] = s
	}
	p.mu.Unlock()
	if !known {
		c.OnClose(func() { p.closeConn(c, s) }) // at once on a closed connection
	}
	var zero T
	select {
	case s.lock <- struct{}{}: // free: taken even when ctx has ended (open then decides)
	default:
		select {
		case s.lock <- struct{}{}:
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
	defer func() { <-s.lock }()
	switch {
	case s.closed:
		return zero, errConnClosed
	case s.opened:
		return s.client, nil
	}
	client, err := p.open(ctx, c)
	if err != nil {
		return client, err
	}
	s.client, s.opened = client, true
	return client, nil
}

// closeConn forgets c and closes its client, once any open in flight is done.
func (p *PerConn[T]) closeConn(c Conn, s *slot[T]) {
	p.mu.Lock()
	delete(p.byConn, c)
	p.mu.Unlock()
	s.lock <- struct{}{}
	defer func() { <-s.lock }()
	s.closed = true
	if s.opened {
		_ = s.client.Close()
	}
}
