package hosts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// DefaultOutputLimit caps what is kept of each output stream of a step.
const DefaultOutputLimit = 1 << 20

// Output is what a command left behind: its exit code or signal and its
// output streams, each capped.
type Output struct {
	ExitCode int
	Signal   string // set when the command was killed by a signal
	Stdout   CappedBuffer
	Stderr   CappedBuffer
}

// NewOutput is an empty Output keeping at most limit bytes per stream.
func NewOutput(limit int) *Output {
	return &Output{Stdout: CappedBuffer{Limit: limit}, Stderr: CappedBuffer{Limit: limit}}
}

// CappedBuffer keeps the first Limit bytes written to it and counts the rest.
// It is safe for concurrent use: a cancelled command may still be writing.
type CappedBuffer struct {
	Limit int
	mu    sync.Mutex
	data  []byte
	total int64
}

// Write keeps what fits and never fails, so the writer is never blocked.
func (b *CappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total += int64(len(p))
	if room := b.Limit - len(b.data); room > 0 {
		b.data = append(b.data, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// String is the kept output.
func (b *CappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.data)
}

// Total is how many bytes were written, kept or not.
func (b *CappedBuffer) Total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// Truncated says whether output was dropped.
func (b *CappedBuffer) Truncated() bool { return b.Total() > int64(len(b.String())) }

// killGrace is how long a killed command's session gets to report back.
const killGrace = time.Second

// Exec runs command (shell text, run by the user's shell on the host)
// in a new session. A non-zero exit is not an error: it is in Output. The
// error is for a command that could not run or did not finish: when ctx ends
// first, the command is sent SIGKILL, its session closed, and ctx's error
// returned with whatever output arrived.
func (c *Conn) Exec(ctx context.Context, command string, limit int) (*Output, error) {
	out := NewOutput(limit)
	session, err := c.newSession(ctx)
	if err != nil {
		return out, err
	}
	defer session.Close()
	session.Stdout = &out.Stdout
	session.Stderr = &out.Stderr
	if err := session.Start(command); err != nil {
		return out, fmt.Errorf("starting command: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- session.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// OpenSSH kills the command's process group on a signal request,
		// except in root sessions ("session signalling requires privilege
		// separation"): there, closing the session is all we can do.
		_ = session.Signal(ssh.SIGKILL)
		select {
		case <-done:
		case <-time.After(killGrace):
			_ = session.Close()
		}
		return out, fmt.Errorf("sent SIGKILL and closed the session: %w", ctx.Err())
	}
	var exitErr *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		out.ExitCode = exitErr.ExitStatus()
		if sig := exitErr.Signal(); sig != "" {
			out.Signal = "SIG" + strings.TrimPrefix(sig, "SIG")
		}
	case errors.As(err, &missing):
		return out, errors.New("the connection ended before the command reported an exit status")
	default:
		return out, fmt.Errorf("command: %w", err)
	}
	return out, nil
}

// newSession opens a session, giving up when ctx ends (a dead link can
// otherwise hold the channel-open request until keepalive notices).
func (c *Conn) newSession(ctx context.Context) (*ssh.Session, error) {
	type opened struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		s, err := c.client.NewSession()
		ch <- opened{s, err}
	}()
	select {
	case o := <-ch:
		if o.err != nil {
			return nil, fmt.Errorf("opening session: %w", o.err)
		}
		return o.s, nil
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.s != nil {
				_ = o.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// ShellQuote quotes argv for a POSIX shell so each argument arrives intact.
func ShellQuote(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
			quoted[i] = a
			continue
		}
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}
