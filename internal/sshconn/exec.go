package sshconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"everywhere/internal/host"
)

// killGrace is how long a killed command's session gets to report back.
const killGrace = time.Second

// Exec runs command (shell text, run by the user's shell on the host)
// in a new session. A non-zero exit is not an error: it is in Output. The
// error is for a command that could not run or did not finish: when ctx ends
// first, the command is sent SIGKILL, its session closed, and ctx's error
// returned with whatever output arrived.
func (c *Conn) Exec(ctx context.Context, command string, limit int) (*host.Output, error) {
	return c.ExecWith(ctx, command, host.ExecOptions{}, limit)
}

// ttyModes keep a terminal's output as the command wrote it: no echo of
// the input, no "\r" added before each "\n".
var ttyModes = ssh.TerminalModes{ssh.ECHO: 0, ssh.ONLCR: 0}

// ExecWith is Exec with standard input and/or a pseudo-terminal.
func (c *Conn) ExecWith(ctx context.Context, command string, opts host.ExecOptions, limit int) (*host.Output, error) {
	out := host.NewOutputFor(ctx, limit)
	session, err := c.newSession(ctx)
	if err != nil {
		return out, err
	}
	defer session.Close()
	session.Stdout = &out.Stdout
	session.Stderr = &out.Stderr
	session.Stdin = opts.Stdin
	if opts.TTY {
		if err := session.RequestPty("xterm", 50, 200, ttyModes); err != nil {
			return out, fmt.Errorf("requesting a terminal: %w", err)
		}
	}
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
			out.Signal = "SIG" + host.SignalName(strings.TrimPrefix(sig, "SIG"))
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

// Subsystem starts a subsystem, such as sftp, in a new session: writes go
// to its input, reads come from its output, Close ends the session. A host
// that has no such subsystem refuses the request: an error.
func (c *Conn) Subsystem(ctx context.Context, name string) (io.ReadWriteCloser, error) {
	session, err := c.newSession(ctx)
	if err != nil {
		return nil, err
	}
	in, err := session.StdinPipe()
	if err == nil {
		var out io.Reader
		if out, err = session.StdoutPipe(); err == nil {
			if err = session.RequestSubsystem(name); err == nil {
				return &subsystem{Reader: out, in: in, session: session}, nil
			}
		}
	}
	_ = session.Close()
	return nil, fmt.Errorf("subsystem %s: %w", name, err)
}

type subsystem struct {
	io.Reader
	in      io.WriteCloser
	session *ssh.Session
}

func (s *subsystem) Write(p []byte) (int, error) { return s.in.Write(p) }

func (s *subsystem) Close() error {
	_ = s.in.Close()
	return s.session.Close()
}
