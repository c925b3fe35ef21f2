package sshconn

import (
	"context"
	"errors"
	"fmt"
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
	out := host.NewOutputFor(ctx, limit)
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
