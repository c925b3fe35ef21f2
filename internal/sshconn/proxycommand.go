package sshconn

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// proxyConn is the stream of a ProxyCommand: its standard output read,
// its standard input written, as ssh uses it.
type proxyConn struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	stderr *tailBuffer
	done   chan struct{} // closed when the command has exited
	once   sync.Once
}

// startProxyCommand runs command as ssh does ($SHELL -c "exec …", with
// /bin/sh for the shell: a user's login shell is no business of ours).
func startProxyCommand(ctx context.Context, command string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cmd := exec.Command("/bin/sh", "-c", "exec "+command)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &proxyConn{cmd: cmd, stdin: stdin, stdout: stdout, stderr: &tailBuffer{max: 2048}, done: make(chan struct{})}
	cmd.Stderr = c.stderr
	// A child of the command that keeps its stderr open must not keep
	// Wait, and so Close, waiting once the command itself has gone.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *proxyConn) Read(p []byte) (int, error)  { return c.stdout.Read(p) }
func (c *proxyConn) Write(p []byte) (int, error) { return c.stdin.Write(p) }

// Close ends the command: its input closed, as ssh does, then killed if it
// has not gone within a second. Only the process we started is signalled.
func (c *proxyConn) Close() error {
	c.once.Do(func() {
		_ = c.stdin.Close()
		select {
		case <-c.done:
		case <-time.After(time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	return nil
}

func (c *proxyConn) LocalAddr() net.Addr  { return proxyAddr{} }
func (c *proxyConn) RemoteAddr() net.Addr { return proxyAddr{} }

// Deadlines are not supported by pipes to a process; the handshake is
// bounded by closing the stream when its context ends instead.
func (c *proxyConn) SetDeadline(time.Time) error      { return nil }
func (c *proxyConn) SetReadDeadline(time.Time) error  { return nil }
func (c *proxyConn) SetWriteDeadline(time.Time) error { return nil }

type proxyAddr struct{}

func (proxyAddr) Network() string { return "proxycommand" }
func (proxyAddr) String() string  { return "proxycommand" }

// proxyStderr is what a proxy command said on stderr, for an error.
func proxyStderr(c net.Conn) string {
	p, ok := c.(*proxyConn)
	if !ok {
		return ""
	}
	<-p.done // closed by now: the handshake failed and the stream is closed
	if s := strings.TrimSpace(p.stderr.String()); s != "" {
		return fmt.Sprintf(" (the proxy command said: %s)", s)
	}
	return ""
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if extra := b.buf.Len() - b.max; extra > 0 {
		b.buf.Next(extra)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
