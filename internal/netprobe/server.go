package netprobe

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Serve answers the protocol on every connection ln accepts, until ctx
// ends: it then closes ln and the open connections, waits for their
// handlers and returns nil. A failing Accept ends it with that error.
func Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var handlers sync.WaitGroup
	defer handlers.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		handlers.Go(func() { handle(ctx, conn) })
	}
}

// handle serves one connection: its first line names the mode.
func handle(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c := idleConn{conn}
	// A reader this small still reads the data past the header straight
	// into the caller's buffer: bufio bypasses its own for large reads.
	r := bufio.NewReaderSize(c, maxHeader)
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		fmt.Fprintf(c, "ERR no mode line in the first %d bytes\n", maxHeader)
		return
	}
	if err != nil {
		return
	}
	switch mode := strings.TrimSpace(string(line)); mode {
	case modeEcho:
		echo(c, r)
	case modeSink:
		sink(c, r, sha256.New())
	case modeDiscard:
		sink(c, r, nil)
	default:
		fmt.Fprintf(c, "ERR unknown mode %.20q\n", mode)
	}
}

// echo writes back what it reads until the client half-closes.
func echo(w io.Writer, r io.Reader) {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// sink reads until EOF, then replies the byte count, and the SHA-256 of
// the bytes if h is not nil.
func sink(w io.Writer, r io.Reader, h hash.Hash) {
	buf := make([]byte, 256<<10)
	var total int64
	for {
		n, err := r.Read(buf)
		total += int64(n)
		if h != nil {
			h.Write(buf[:n])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return
		}
	}
	if h == nil {
		fmt.Fprintf(w, "%d\n", total)
		return
	}
	fmt.Fprintf(w, "%d %x\n", total, h.Sum(nil))
}

// idleConn gives every read and write idleTimeout to progress, so that a
// silent or stuck client is dropped.
type idleConn struct{ net.Conn }

func (c idleConn) Read(p []byte) (int, error) {
	if err := c.SetReadDeadline(time.Now().Add(idleTimeout)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c idleConn) Write(p []byte) (int, error) {
	if err := c.SetWriteDeadline(time.Now().Add(idleTimeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
