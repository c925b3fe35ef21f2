package labkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startupTimeout allows for an sshd under emulation, which starts slowly.
const startupTimeout = 90 * time.Second

// Daemon is a lab daemon (sshd, dockerd, lxd) started by Spawn.
type Daemon struct {
	Name    string
	LogFile string
	Exited  chan error // its exit, once
}

// Spawn starts a daemon detached from this process (it outlives `lab up`)
// inside the lab's cgroup group (see cgroup.go), its output in logFile and,
// when pidFile is set, its pid there.
func Spawn(group, logFile, pidFile string, env []string, args ...string) (*Daemon, error) {
	cg, err := openCgroup(group)
	if err != nil {
		return nil, err
	}
	defer cg.Close()
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", args[0], err)
	}
	if pidFile != "" {
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	d := &Daemon{Name: args[0], LogFile: logFile, Exited: make(chan error, 1)}
	go func() { d.Exited <- cmd.Wait() }()
	return d, nil
}

// Ready waits until answers succeeds, failing early when the daemon exits
// and late after startupTimeout.
func (d *Daemon) Ready(ctx context.Context, answers func() error) error {
	deadline := time.Now().Add(startupTimeout)
	for {
		err := answers()
		if err == nil {
			return nil
		}
		select {
		case exitErr := <-d.Exited:
			return fmt.Errorf("%s exited at start (%v); see %s", d.Name, exitErr, d.LogFile)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %v (%v); see %s", d.Name, startupTimeout, err, d.LogFile)
		}
	}
}

// Command runs a program, returning its output in the error when it fails.
func Command(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
