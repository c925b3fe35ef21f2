package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// daemon is a lab daemon (sshd, dockerd, lxd) started by spawn.
type daemon struct {
	name    string
	logFile string
	exited  chan error
}

// spawn starts a daemon detached from this process (it outlives `lab up`)
// inside the lab's cgroup group (see cgroup.go), its output in logFile and,
// when pidFile is set, its pid there.
func spawn(group, logFile, pidFile string, env []string, args ...string) (*daemon, error) {
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
	d := &daemon{name: args[0], logFile: logFile, exited: make(chan error, 1)}
	go func() { d.exited <- cmd.Wait() }()
	return d, nil
}

// ready waits until answers succeeds, failing early when the daemon exits
// and late after startupTimeout.
func (d *daemon) ready(ctx context.Context, answers func() error) error {
	deadline := time.Now().Add(startupTimeout)
	for {
		err := answers()
		if err == nil {
			return nil
		}
		select {
		case exitErr := <-d.exited:
			return fmt.Errorf("%s exited at start (%v); see %s", d.name, exitErr, d.logFile)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %v (%v); see %s", d.name, startupTimeout, err, d.logFile)
		}
	}
}
