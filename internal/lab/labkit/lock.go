package labkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Lock keeps two lab commands from working on one lab at once.
func Lock(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockFile(context.Background(), filepath.Join(dir, "lock"), false)
	if err == errLocked {
		return nil, fmt.Errorf("another everywhere lab command is working on %s", dir)
	}
	return unlock, err
}

var errLocked = errors.New("locked")

// lockFile takes the exclusive lock of file; with wait it waits for it as
// long as ctx lets it, without it fails with errLocked when it is taken.
func lockFile(ctx context.Context, file string, wait bool) (func(), error) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", file, err)
		}
		if !wait {
			f.Close()
			return nil, errLocked
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", file, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
