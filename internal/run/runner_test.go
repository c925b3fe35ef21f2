package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"everywhere/internal/driver"
	"everywhere/internal/drivers"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/result"
	"everywhere/internal/sshconn"
	"everywhere/internal/sshtest"
)

// fakeHost answers like a Debian machine of one architecture.
func fakeHost(arch host.Arch) sshtest.Handler {
	return func(command string, stdout, stderr io.Writer, stop <-chan struct{}) int {
		switch command {
		case "uname -m":
			fmt.Fprintln(stdout, arch.Kernel())
		case "dpkg --print-architecture":
			fmt.Fprintln(stdout, arch.Debian())
		case "false":
			return 1
		case "hang":
			<-stop
			return 137
		case "cleanup":
			fmt.Fprintln(stdout, "cleaned")
		default:
			fmt.Fprintf(stderr, "sh: 1: %s: not found\n", command)
			return 127
		}
		return 0
	}
}

type lab struct {
	hosts   []inventory.Host
	servers map[string]*sshtest.Server
}

func newLab(t *testing.T, archs ...host.Arch) *lab {
	l := &lab{servers: map[string]*sshtest.Server{}}
	for i, a := range archs {
		s := sshtest.NewServer(t, fakeHost(a))
		name := fmt.Sprintf("%s-%d", a, i)
		l.servers[name] = s
		l.hosts = append(l.hosts, inventory.Host{Name: name, Arch: a, Address: s.Host, Port: s.Port, User: "u",
			Identity: s.IdentityFile, KnownHosts: s.KnownHostsFile, ConnectTimeout: 5 * time.Second})
	}
	return l
}

func mustPlan(t *testing.T, src string) *plan.Plan {
	t.Helper()
	p, err := plan.Parse("test.yaml", []byte(src), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func runner() *Runner {
	return &Runner{Connect: Connector(sshconn.NewDialer(false, 0).Dial), Parallel: 4, OutputLimit: 1 << 10}
}

func statuses(h result.HostResult) string {
	var s []string
	for _, st := range h.Steps {
		s = append(s, string(st.Status))
	}
	for _, st := range h.Cleanup {
		s = append(s, "cleanup:"+string(st.Status))
	}
	return strings.Join(s, " ")
}

const archPlan = `
steps:
  - {name: machine, shell: uname -m, expect: {arch_matches_host: true}}
  - {name: dpkg, shell: dpkg --print-architecture, expect: {arch_matches_host: true}}
`

func TestRunSuccess(t *testing.T) {
	l := newLab(t, host.ArmHF, host.Arm64, host.S390X)
	res := runner().Run(context.Background(), l.hosts, mustPlan(t, archPlan))
	if res.ExitCode() != result.ExitOK {
		t.Fatalf("exit code %d: %+v", res.ExitCode(), res)
	}
	for i, h := range res.Hosts {
		if h.Name != l.hosts[i].Name || h.Status != result.OK || statuses(h) != "ok ok" {
			t.Errorf("host %d: %s %s (%s)", i, h.Name, h.Status, statuses(h))
		}
		arch := l.hosts[i].Arch
		if h.Steps[0].Stdout != arch.Kernel()+"\n" || h.Steps[1].Stdout != arch.Debian()+"\n" {
			t.Errorf("host %s outputs %q %q", h.Name, h.Steps[0].Stdout, h.Steps[1].Stdout)
		}
	}
	if res.Schema != result.Schema || len(res.Steps) != 2 || res.RunID == "" {
		t.Errorf("result header: %+v", res)
	}
}

func TestRunFailures(t *testing.T) {
	tests := []struct {
		name   string
		plan   string
		want   string // statuses of the host's steps
		detail string // in the first not-ok step's Summary
	}{
		{"non-zero exit", "steps: [{shell: 'false'}, {shell: uname -m}]", "failed ok", "exit status 1"},
		{"unmet expectation", "steps: [{shell: uname -m, expect: {contains: x86_64}}]", "failed", `expected contains "x86_64": not in standard output`},
		{"wrong arch", "steps: [{shell: 'dpkg --print-architecture', expect: {arch_matches_host: true}}]", "failed", "host reports arm64 (arm64), inventory declares armhf"},
		{"timeout", "steps: [{shell: hang, timeout: 200ms}, {shell: uname -m}]", "timeout ok", "no result within 200ms (step timeout)"},
		{"critical", "steps: [{shell: 'false', critical: true}, {shell: uname -m}]\ncleanup: [{shell: cleanup}]", "failed skipped cleanup:ok", "exit status 1"},
		{"failing cleanup", "steps: [{shell: uname -m}]\ncleanup: [{shell: 'false'}]", "ok cleanup:failed", "exit status 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t, host.Arm64)
			if tt.name == "wrong arch" {
				l.hosts[0].Arch = host.ArmHF // the inventory is wrong about this host
			}
			res := runner().Run(context.Background(), l.hosts, mustPlan(t, tt.plan))
			h := res.Hosts[0]
			if got := statuses(h); got != tt.want {
				t.Fatalf("statuses %q, want %q", got, tt.want)
			}
			for _, s := range append(h.Steps, h.Cleanup...) {
				if s.Status != result.OK {
					if !strings.Contains(s.Summary(), tt.detail) {
						t.Errorf("summary %q, want %q", s.Summary(), tt.detail)
					}
					if res.ExitCode() != result.ExitFailed {
						t.Errorf("exit code %d", res.ExitCode())
					}
					return
				}
			}
			if res.ExitCode() != result.ExitOK {
				t.Errorf("exit code %d", res.ExitCode())
			}
		})
	}
}

// TestOneHostFailingNeverStopsOthers: refused, changed key, hanging and
// healthy hosts in one run; every healthy one finishes.
func TestOneHostFailingNeverStopsOthers(t *testing.T) {
	l := newLab(t, host.ArmHF, host.Arm64, host.I686, host.AMD64)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.hosts[0].Port = closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	wrongKeys := filepath.Join(t.TempDir(), "known_hosts")
	other := sshtest.NewServer(t, fakeHost(host.AMD64))
	sshtest.WriteKnownHosts(t, wrongKeys, l.hosts[1].Address, l.hosts[1].Port, other.HostKey)
	l.hosts[1].KnownHosts = wrongKeys

	p := mustPlan(t, archPlan+"  - {name: slow, shell: hang, timeout: 300ms}\n")
	r := runner()
	r.Parallel = 2
	res := r.Run(context.Background(), l.hosts, p)

	want := []struct {
		status result.Status
		error  string
		steps  string
	}{
		{result.Error, "connection refused", "skipped skipped skipped"},
		{result.Error, "host key changed", "skipped skipped skipped"},
		{result.Timeout, "", "ok ok timeout"},
		{result.Timeout, "", "ok ok timeout"},
	}
	for i, w := range want {
		h := res.Hosts[i]
		if h.Status != w.status || !strings.Contains(h.Error, w.error) || statuses(h) != w.steps {
			t.Errorf("host %s: status %s error %q steps %q; want %s %q %q", h.Name, h.Status, h.Error, statuses(h), w.status, w.error, w.steps)
		}
	}
	if !strings.Contains(res.Hosts[1].Error, "host "+l.hosts[1].Name) {
		t.Errorf("host key error does not name the host: %s", res.Hosts[1].Error)
	}
	if res.ExitCode() != result.ExitFailed {
		t.Errorf("exit code %d", res.ExitCode())
	}
}

// TestInterruptRunsCleanup: Ctrl-C mid-step stops the step, skips the rest,
// runs cleanup on a fresh context, and the exit code says interrupted.
func TestInterruptRunsCleanup(t *testing.T) {
	l := newLab(t, host.Arm64, host.PPC64EL)
	p := mustPlan(t, "steps: [{shell: uname -m}, {shell: hang}, {shell: 'dpkg --print-architecture'}]\ncleanup: [{shell: cleanup}]")
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan result.Event, 100)
	var wg sync.WaitGroup
	wg.Add(1)
	var seen []result.Event
	go func() {
		defer wg.Done()
		hanging := 0
		for e := range events {
			if e.Type == result.StepStarted && e.Step == "hang" {
				if hanging++; hanging == len(l.hosts) {
					cancel() // the user presses Ctrl-C while every host hangs
				}
			}
			seen = append(seen, e)
		}
	}()
	r := runner()
	r.Events = events
	res := r.Run(ctx, l.hosts, p)
	close(events)
	wg.Wait()
	cancel()
	if res.ExitCode() != result.ExitInterrupted || !res.Interrupted {
		t.Fatalf("exit code %d", res.ExitCode())
	}
	for _, h := range res.Hosts {
		if got := statuses(h); got != "ok error skipped cleanup:ok" {
			t.Errorf("host %s: %s", h.Name, got)
		}
		if h.Cleanup[0].Stdout != "cleaned\n" {
			t.Errorf("host %s cleanup output %q", h.Name, h.Cleanup[0].Stdout)
		}
		if cmds := l.servers[h.Name].Commands(); !slices.Contains(cmds, "cleanup") {
			t.Errorf("host %s: cleanup never reached the server: %q", h.Name, cmds)
		}
	}
	var done int
	for _, e := range seen {
		if e.Type == result.HostDone {
			done++
		}
	}
	if done != 2 {
		t.Errorf("%d result.HostDone events, want 2", done)
	}
}

func TestResultRoundTrip(t *testing.T) {
	l := newLab(t, host.Arm64)
	res := runner().Run(context.Background(), l.hosts, mustPlan(t, archPlan))
	file := filepath.Join(t.TempDir(), "result.json")
	if err := res.WriteFile(file); err != nil {
		t.Fatal(err)
	}
	back, err := result.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if back.RunID != res.RunID || back.Hosts[0].Steps[1].Stdout != "arm64\n" || back.ExitCode() != result.ExitOK {
		t.Errorf("round trip lost data: %+v", back)
	}
}

// stubAction ends with a fixed error, as a driver's action would.
type stubAction struct{ err error }

func (stubAction) Command() string { return "stub" }
func (a stubAction) Run(context.Context, driver.Target, int) (*host.Output, error) {
	return nil, a.err
}

// TestNotApplicableAndPrerequisiteAreSkipped: a step a driver says cannot
// apply here, or that needs an earlier step that failed, is skipped with the
// reason and does not fail the host.
func TestNotApplicableAndPrerequisiteAreSkipped(t *testing.T) {
	l := newLab(t, host.ArmHF)
	p := &plan.Plan{Name: "stub", Steps: []plan.Step{
		{Name: "na", Kind: "stub.na", Action: stubAction{fmt.Errorf("%w: LXD runs x86_64 only", driver.ErrNotApplicable)}},
		{Name: "pre", Kind: "stub.pre", Action: stubAction{fmt.Errorf("%w: lxd.launch did not succeed", driver.ErrPrerequisite)}},
		{Name: "broken", Kind: "stub.broken", Action: stubAction{errors.New("daemon down")}},
	}}
	h := runner().Run(context.Background(), l.hosts, p).Hosts[0]
	want := []struct {
		status result.Status
		reason string
	}{{result.Skipped, "LXD runs x86_64 only"}, {result.Skipped, "lxd.launch did not succeed"}, {result.Error, "daemon down"}}
	for i, w := range want {
		if s := h.Steps[i]; s.Status != w.status || !strings.Contains(s.Error, w.reason) || s.Kind != p.Steps[i].Kind {
			t.Errorf("step %s: %s %q kind %q; want %s with %q", s.Name, s.Status, s.Error, s.Kind, w.status, w.reason)
		}
	}
	if h.Status != result.Error {
		t.Errorf("host status %s: only the broken step should count", h.Status)
	}
}

// TestTimeoutFlagOverridesThePlan: --timeout (Runner.StepTimeout) bounds a
// step that sets no timeout of its own, over the plan's; a step's own wins.
func TestTimeoutFlagOverridesThePlan(t *testing.T) {
	l := newLab(t, host.AMD64)
	r := runner()
	r.StepTimeout = 300 * time.Millisecond
	res := r.Run(context.Background(), l.hosts, mustPlan(t, `
timeout: 1h
steps:
  - {name: flag, shell: hang}
  - {name: own, shell: hang, timeout: 600ms}
`))
	for _, tt := range []struct{ step, within string }{{"flag", "300ms"}, {"own", "600ms"}} {
		s := res.Hosts[0].Step(tt.step)
		if s.Status != result.Timeout || !strings.Contains(s.Error, "no result within "+tt.within) {
			t.Errorf("step %s: %s %q, want a timeout within %s", tt.step, s.Status, s.Error, tt.within)
		}
	}
}

// TestInterruptBeforeConnecting: a run cancelled before it starts reaches no
// host and says so for every host and step.
func TestInterruptBeforeConnecting(t *testing.T) {
	l := newLab(t, host.AMD64, host.Arm64)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dialled := 0
	r := runner()
	r.Connect = func(context.Context, inventory.Host) (Conn, error) { dialled++; return nil, errors.New("dialled") }
	res := r.Run(ctx, l.hosts, mustPlan(t, archPlan))
	if !res.Interrupted || dialled != 0 {
		t.Fatalf("interrupted %v, dialled %d times", res.Interrupted, dialled)
	}
	for _, h := range res.Hosts {
		if h.Status != result.Skipped || h.Error != "run interrupted before connecting" || statuses(h) != "skipped skipped" {
			t.Errorf("host %s: %s %q %s", h.Name, h.Status, h.Error, statuses(h))
		}
	}
}

// detachWaiter waits, once its step ends, on the detached context a driver
// undoes its work on; it says when it has started and when it undoes.
type detachWaiter struct {
	started, undoing chan struct{}
	detachEnded      chan error
}

func (detachWaiter) Command() string { return "undo" }
func (a detachWaiter) Run(ctx context.Context, t driver.Target, _ int) (*host.Output, error) {
	close(a.started)
	<-ctx.Done()
	undo, cancel := t.Detach(ctx, time.Hour)
	defer cancel()
	close(a.undoing)
	<-undo.Done()
	a.detachEnded <- undo.Err()
	return nil, ctx.Err()
}

// TestAbortEndsDetachedWork: what a driver undoes after Ctrl-C (on
// Target.Detach) is cut short by a second Ctrl-C (Runner.Abort), not left to
// its grace. Ctrl-C comes once the step runs, the second once it undoes
// (on timers, a loaded machine let Ctrl-C come before the host was reached).
func TestAbortEndsDetachedWork(t *testing.T) {
	l := newLab(t, host.AMD64)
	ctx, cancel := context.WithCancel(context.Background())
	abort, abortNow := context.WithCancel(context.Background())
	defer abortNow()
	r := runner()
	r.Abort = abort
	action := detachWaiter{make(chan struct{}), make(chan struct{}), make(chan error, 1)}
	done := make(chan struct{})
	go func() {
		r.Run(ctx, l.hosts, &plan.Plan{Name: "undo", Steps: []plan.Step{{Name: "undo", Kind: "stub.undo", Action: action}}})
		close(done)
	}()
	select {
	case <-action.started:
	case <-done:
		t.Fatal("the run ended before its step started")
	}
	cancel()
	<-action.undoing
	abortNow()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the abort did not reach the detached work")
	}
	if err := <-action.detachEnded; !errors.Is(err, context.Canceled) {
		t.Errorf("detached context ended with %v, want canceled by the abort", err)
	}
}
