package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"everywhere/internal/result"
	"everywhere/internal/sshtest"
)

// built is the everywhere binary, for tests that must run it as a
// process of its own: signals are delivered to a process.
func built(t *testing.T) string {
	t.Helper()
	binary := filepath.Join(t.TempDir(), "everywhere")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	return binary
}

// waitFor waits until pattern matches n files. The bound is generous: CI
// runs this beside the lab's emulated hosts, on a loaded machine.
func waitFor(t *testing.T, pattern string, n int) {
	t.Helper()
	const bound = 90 * time.Second
	for deadline := time.Now().Add(bound); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if found, _ := filepath.Glob(pattern); len(found) >= n {
			return
		}
	}
	t.Fatalf("%s: fewer than %d files within %v", pattern, n, bound)
}

// TestSignals runs the binary, signals it mid-run and checks what a user
// is owed: SIGHUP and SIGTERM are Ctrl-C (cleanup ran on every host, the
// report written, exit 3); a second signal cuts cleanup short and the
// report of what was done is still written.
func TestSignals(t *testing.T) {
	bin := built(t)
	sshd := sshtest.StartOpenSSH(t)
	hosts := []string{"one", "two", "three"}
	for _, tc := range []struct {
		name    string
		signals []syscall.Signal
		cleanup string // the cleanup step's command
		want    result.Status
	}{
		{"SIGHUP", []syscall.Signal{syscall.SIGHUP}, "touch DIR/cleaned-$$", result.OK},
		{"SIGTERM then Ctrl-C", []syscall.Signal{syscall.SIGTERM, syscall.SIGINT}, "touch DIR/cleaning-$$; sleep 60", result.Error},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			inv := openSSHInventory(t, sshd, hosts...)
			plan := filepath.Join(dir, "plan.yaml")
			writeFile(t, plan, strings.ReplaceAll("steps:\n  - {shell: 'touch DIR/started-$$; sleep 60'}\ncleanup:\n  - {shell: '"+tc.cleanup+"'}\n", "DIR", dir))
			out := filepath.Join(dir, "out")
			cmd := exec.Command(bin, "run", "-i", inv, "-p", plan, "--no-progress", "-o", out, "--width", "200")
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() }) // ours, by PID; a no-op once it has exited
			waitFor(t, filepath.Join(dir, "started-*"), len(hosts))
			// What is timed is the last signal's effect: the first one's
			// cleanup is quick, and the second cuts a 60 s cleanup short.
			// Reaching the cleanup is not timed: CI's load decides it.
			start := time.Now()
			_ = cmd.Process.Signal(tc.signals[0])
			if len(tc.signals) > 1 {
				waitFor(t, filepath.Join(dir, "cleaning-*"), len(hosts))
				t.Logf("cleanup running on every host %v after %v", time.Since(start).Round(time.Millisecond), tc.signals[0])
				start = time.Now()
				_ = cmd.Process.Signal(tc.signals[1])
			}
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != result.ExitInterrupted {
				t.Fatalf("exit: %v, want 3\n%s\n%s", err, stdout.String(), stderr.String())
			}
			last := tc.signals[len(tc.signals)-1]
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("exited %v after %v, want well before the cleanup's sleep of 60s would end", d, last)
			} else {
				t.Logf("exited %v after %v", d.Round(time.Millisecond), last)
			}
			res, err := result.ReadFile(filepath.Join(out, "result.json"))
			if err != nil {
				t.Fatalf("no report: %v\n%s", err, stderr.String())
			}
			if !res.Interrupted || len(res.Hosts) != len(hosts) {
				t.Errorf("interrupted %v, %d hosts", res.Interrupted, len(res.Hosts))
			}
			for _, h := range res.Hosts {
				if len(h.Cleanup) != 1 || h.Cleanup[0].Status != tc.want {
					t.Errorf("%s: cleanup %+v, want %s", h.Name, h.Cleanup, tc.want)
				}
			}
			if tc.want == result.OK {
				if cleaned, _ := filepath.Glob(filepath.Join(dir, "cleaned-*")); len(cleaned) != len(hosts) {
					t.Errorf("cleanup ran on %d hosts, want %d", len(cleaned), len(hosts))
				}
			}
			if !strings.Contains(stdout.String(), "(interrupted)") {
				t.Errorf("report does not say interrupted:\n%s", stdout.String())
			}
			t.Logf("stderr: %s", stderr.String())
		})
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := everywhere(t.Context(), "--version")
	if code != 0 || !strings.HasPrefix(stdout, "everywhere ") || !strings.Contains(stdout, "go1.") || !strings.Contains(stdout, "commit ") {
		t.Errorf("exit %d: %q", code, stdout)
	}
}
