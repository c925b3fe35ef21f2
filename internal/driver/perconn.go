package driver

import (
	"context"
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
	byConn map[Conn]T
}

// NewPerConn returns a PerConn whose clients open is called to make.
func NewPerConn[T io.Closer](open func(ctx context.Context, c Conn) (T, error)) *PerConn[T] {
	return &PerConn[T]{open: open, byConn: map[Conn]T{}}
}

// Get returns c's client, opening it when c has none yet. A failed open is
// not remembered: the next step tries again. c must be comparable (the
// runner's targets are pointers).
func (p *PerConn[T]) Get(ctx context.Context, c Conn) (T, error) {
	// Held while opening: a host's steps run one at a time, and two opens
	// racing for one connection would leak one client.
	p.mu.Lock()
	if v, ok := p.byConn[c]; ok {
		p.mu.Unlock()
		return v, nil
	}
	v, err := p.open(ctx, c)
	if err != nil {
		p.mu.Unlock()
		return v, err
	}
	p.byConn[c] = v
	p.mu.Unlock()
	// Outside the lock: on a connection already closed, f runs at once.
	c.OnClose(func() {
		p.mu.Lock()
		delete(p.byConn, c)
		p.mu.Unlock()
		_ = v.Close()
	})
	return v, nil
}
