package run

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// A run holds a lease for its whole life: an exclusive flock on a file
// named after its id under LeaseDir. The kernel drops the lock when the
// process ends however it ends (kill -9 included), so `everywhere clean`
// tells a live run from one that is gone by trying the lock.

// LeaseDir is where runs on this machine keep their leases:
// $XDG_STATE_HOME/everywhere/runs, else ~/.local/state/everywhere/runs.
func LeaseDir() string {
	state := os.Getenv("XDG_STATE_HOME")
	if state == "" {
		home, _ := os.UserHomeDir()
		state = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(state, "everywhere", "runs")
}

// Hold takes the lease of runID; release ends it and removes the file.
func Hold(runID string) (release func(), err error) {
	dir := LeaseDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("run lease: %w", err)
	}
	file := filepath.Join(dir, runID)
	f, err := os.OpenFile(file, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("run lease: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("run lease %s: %w", file, err)
	}
	fmt.Fprintf(f, "pid %d\n", os.Getpid())
	return func() {
		_ = os.Remove(file)
		_ = f.Close()
	}, nil
}

// Live says whether the run of runID holds its lease on this machine. A run
// of another machine's everywhere has no lease here and counts as gone: run
// `everywhere clean` where the runs ran. A lease left by a dead run is
// removed on the way.
func Live(runID string) bool {
	if runID == "" || strings.ContainsAny(runID, `/\`) || runID == "." || runID == ".." {
		return false
	}
	file := filepath.Join(LeaseDir(), runID)
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true
	}
	if err == nil {
		_ = os.Remove(file) // its run is gone
	}
	return false
}
