package filepush

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/pkg/sftp"

	"everywhere/internal/driver"
	"everywhere/internal/host"
)

// open reaches the host's SFTP subsystem, else falls back to shell
// sessions (a host whose sshd has no Subsystem sftp line).
func open(ctx context.Context, t driver.Target) remote {
	pipe, err := t.Subsystem(ctx, "sftp")
	if err != nil {
		return &shellRemote{t: t}
	}
	// The SFTP client takes no context: closing its session is how a
	// cancelled step ends what it is doing.
	stop := context.AfterFunc(ctx, func() { _ = pipe.Close() })
	client, err := sftp.NewClientPipe(pipe, pipe, sftp.UseConcurrentWrites(true))
	if err != nil {
		stop()
		_ = pipe.Close()
		return &shellRemote{t: t}
	}
	return &sftpRemote{client: client, done: func() { stop(); _ = client.Close(); _ = pipe.Close() }}
}

type sftpRemote struct {
	client *sftp.Client
	done   func()
}

func (s *sftpRemote) name() string { return "sftp" }
func (s *sftpRemote) close()       { s.done() }

func (s *sftpRemote) isDir(_ context.Context, p string) (bool, error) {
	info, err := s.client.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	return info.IsDir(), nil
}

func (s *sftpRemote) mkdir(_ context.Context, p string, mode fs.FileMode) error {
	if err := s.client.MkdirAll(p); err != nil {
		return err
	}
	return s.client.Chmod(p, mode)
}

func (s *sftpRemote) write(_ context.Context, p string, mode fs.FileMode, r io.Reader) error {
	tmp := tempName(p)
	f, err := s.client.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	// The mode before the data: a private file is never readable by others.
	if err = f.Chmod(mode); err != nil {
		err = fmt.Errorf("chmod %s: %w", tmp, err)
	} else if _, err = f.ReadFrom(r); err != nil {
		err = fmt.Errorf("writing %s: %w", tmp, err)
	}
	if closeErr := f.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("closing %s: %w", tmp, closeErr)
	}
	if err == nil {
		if err = s.client.PosixRename(tmp, p); err != nil {
			err = fmt.Errorf("renaming %s into place: %w", tmp, err)
		}
	}
	if err != nil {
		_ = s.client.Remove(tmp)
	}
	return err
}

func (s *sftpRemote) readBack(_ context.Context, p string) (string, error) {
	f, err := s.client.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := f.WriteTo(h); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// shellRemote writes through shell sessions: cat into a temporary file,
// chmod, mv over the destination.
type shellRemote struct{ t driver.Target }

func (s *shellRemote) name() string { return "a shell stream (the host has no sftp)" }
func (s *shellRemote) close()       {}

func (s *shellRemote) run(ctx context.Context, script string, stdin io.Reader) error {
	out, err := s.t.ExecWith(ctx, script, host.ExecOptions{Stdin: stdin}, 4096)
	if err != nil {
		return err
	}
	if out.ExitCode != 0 {
		return fmt.Errorf("exit status %d: %s", out.ExitCode, strings.TrimSpace(out.Stderr.String()))
	}
	return nil
}

func (s *shellRemote) isDir(ctx context.Context, p string) (bool, error) {
	out, err := s.t.Exec(ctx, "test -d "+host.ShellQuote([]string{p}), 4096)
	if err != nil {
		return false, err
	}
	return out.ExitCode == 0, nil
}

func (s *shellRemote) mkdir(ctx context.Context, p string, mode fs.FileMode) error {
	q := host.ShellQuote([]string{p})
	return s.run(ctx, fmt.Sprintf("mkdir -p -- %s && chmod %o -- %s", q, uint32(mode), q), nil)
}

func (s *shellRemote) write(ctx context.Context, p string, mode fs.FileMode, r io.Reader) error {
	tmp, dest := host.ShellQuote([]string{tempName(p)}), host.ShellQuote([]string{p})
	return s.run(ctx, fmt.Sprintf("umask 077 && cat > %s && chmod %o -- %s && mv -f -- %s %s || { rm -f -- %s; exit 1; }", tmp, uint32(mode), tmp, tmp, dest, tmp), r)
}

func (s *shellRemote) readBack(context.Context, string) (string, error) {
	return "", fmt.Errorf("without sftp %w", errNoReadBack)
}
