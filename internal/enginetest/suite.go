// Package enginetest is the conformance suite every engine driver passes
// (restic's internal/backend/test is the model): Docker, Podman, LXD and
// Incus against their real daemons where those can start, and every one
// against an in-process fake of its API (FakeEngine, FakeLXD), so that the
// drivers' logic is tested without root too. The hosts are real OpenSSH
// sshds: the driver reaches its daemon through SSH as it does in use.
package enginetest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/result"
	"everywhere/internal/run"
	"everywhere/internal/shell"
	"everywhere/internal/sshconn"
	"everywhere/internal/sshtest"
)

// Engine is what the suite needs of one engine under test.
type Engine struct {
	// Driver is the driver under test, as the registry lists it.
	Driver *driver.Driver
	// Reach sets h's block so that its driver reaches the engine under
	// test; Absent so that it reaches no daemon at all.
	Reach, Absent func(h inventory.Host) inventory.Host
	// Image is an image the engine has, with sh and a long sleep
	// (SleepCmd); Missing one it has not.
	Image, Missing string
	SleepCmd       []string
	// Things lists what the engine holds: each thing's name and the run
	// id it is labelled with ("" when everywhere did not make it).
	Things func(t *testing.T) map[string]string
	// Plant makes a thing named name labelled with run ("" for a thing
	// everywhere did not make).
	Plant func(t *testing.T, name, run string)
	// Hold, when set, makes the engine's next create wait until its
	// client gives up, then create all the same (a fake's); the channel is
	// closed once a create waits. Without it the suite cancels once the
	// engine lists what the launch makes.
	Hold func() <-chan struct{}
	// FullDisk, when set, makes the engine's storage full from now on (a
	// fake's); nil where that cannot be arranged.
	FullDisk func(t *testing.T)
}

// steps are the YAML of the driver's launch, exec and delete, by family.
func (e Engine) launch(name, image string) string {
	switch e.family() {
	case "docker":
		return fmt.Sprintf("%s.run: {image: %q, name: %s, detach: true, cmd: %s}", e.Driver.Name, image, name, flow(e.SleepCmd))
	default:
		return fmt.Sprintf("%s.launch: {image: %q, name: %s}", e.Driver.Name, image, name)
	}
}

func (e Engine) exec(name string, cmd ...string) string {
	if e.family() == "docker" {
		return fmt.Sprintf("%s.exec: {container: %s, cmd: %s}", e.Driver.Name, name, flow(cmd))
	}
	return fmt.Sprintf("%s.exec: {instance: %s, cmd: %s}", e.Driver.Name, name, flow(cmd))
}

func (e Engine) delete(name string) string {
	if e.family() == "docker" {
		return fmt.Sprintf("%s.rm: {container: %s}", e.Driver.Name, name)
	}
	return fmt.Sprintf("%s.delete: {instance: %s}", e.Driver.Name, name)
}

// family is which of the two step shapes the driver has.
func (e Engine) family() string {
	for _, k := range e.Driver.Kinds {
		if strings.HasSuffix(k.Name, ".launch") {
			return "lxd"
		}
	}
	return "docker"
}

func flow(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// Run runs the suite against e, a subtest per behaviour.
func Run(t *testing.T, e Engine) {
	registry, err := driver.NewRegistry(shell.New(), e.Driver)
	if err != nil {
		t.Fatal(err)
	}
	sshd := sshtest.StartOpenSSH(t)
	arch, _ := host.ParseArch(runtime.GOARCH)
	base := inventory.Host{Name: "conformance", Arch: arch, Address: sshd.Host, Port: sshd.Port, User: sshd.User,
		Identity: sshd.IdentityFile, KnownHosts: sshd.KnownHostsFile, ConnectTimeout: 10 * time.Second}
	reached, absent := e.Reach(base), e.Absent(base)
	runPlan := func(t *testing.T, ctx context.Context, h inventory.Host, src string, events chan<- result.Event) *result.Result {
		t.Helper()
		p, err := plan.Parse("conformance.yaml", []byte(src), registry)
		if err != nil {
			t.Fatal(err)
		}
		r := &run.Runner{Connect: run.Connector(sshconn.NewDialer(false, 0).Dial), OutputLimit: 1 << 16, Events: events}
		return r.Run(ctx, []inventory.Host{h}, p)
	}
	ofRun := func(t *testing.T, runID string) []string {
		var names []string
		for name, r := range e.Things(t) {
			if r == runID {
				names = append(names, name)
			}
		}
		return names
	}

	t.Run("probe without a daemon says why", func(t *testing.T) {
		res := run.Runner{Connect: run.Connector(sshconn.NewDialer(false, 0).Dial), OutputLimit: 4096}
		got := res.Run(context.Background(), []inventory.Host{absent}, plan.Probes(registry))
		facts := got.Hosts[0].Step(e.Driver.Name).Facts
		if facts == nil || facts.Available || !strings.Contains(facts.Reason, "socket") {
			t.Errorf("facts %+v: want unavailable, saying which socket is missing", facts)
		}
	})

	t.Run("probe", func(t *testing.T) {
		res := run.Runner{Connect: run.Connector(sshconn.NewDialer(false, 0).Dial), OutputLimit: 4096}
		got := res.Run(context.Background(), []inventory.Host{reached}, plan.Probes(registry))
		facts := got.Hosts[0].Step(e.Driver.Name).Facts
		if facts == nil || !facts.Available || facts.Version == "" || facts.API == "" {
			t.Errorf("facts %+v: want available, with version and API", facts)
		}
	})

	t.Run("launch, exec, delete", func(t *testing.T) {
		res := runPlan(t, context.Background(), reached, fmt.Sprintf(`
steps:
  - {name: launch, %s}
  - {name: hello, %s}
  - {name: exit, %s}
  - {name: missing, %s}
cleanup:
  - {name: delete, %s}
`, e.launch("ew-conf-1", e.Image), e.exec("ew-conf-1", "sh", "-c", "echo hello; echo oops >&2"), e.exec("ew-conf-1", "sh", "-c", "exit 3"),
			e.launch("ew-conf-2", e.Missing), e.delete("ew-conf-1")), nil)
		h := res.Hosts[0]
		if s := h.Step("launch"); s.Status != result.OK {
			t.Fatalf("launch: %s %q", s.Status, s.Error)
		}
		if s := h.Step("hello"); s.Status != result.OK || s.Stdout != "hello\n" || s.Stderr != "oops\n" {
			t.Errorf("hello: %s stdout %q stderr %q error %q", s.Status, s.Stdout, s.Stderr, s.Error)
		}
		if s := h.Step("exit"); s.Status != result.Failed || s.ExitCode == nil || *s.ExitCode != 3 {
			t.Errorf("exit: %s %v %q", s.Status, s.ExitCode, s.Error)
		}
		if s := h.Step("missing"); s.Status != result.Error || !strings.Contains(s.Error, e.Missing) {
			t.Errorf("a missing image: %s %q, want an error naming it", s.Status, s.Error)
		}
		if len(h.Cleanup) != 1 || h.Cleanup[0].Status != result.OK {
			t.Errorf("delete: %+v", h.Cleanup)
		}
		if left := ofRun(t, res.RunID); len(left) != 0 {
			t.Errorf("left by the run: %v", left)
		}
	})

	t.Run("clean removes only what gone runs left", func(t *testing.T) {
		e.Plant(t, "ew-gone", "20200101-000000-0000gone")
		e.Plant(t, "ew-live", "20200101-000000-0000live")
		e.Plant(t, "not-everywheres", "")
		live := func(id string) bool { return id == "20200101-000000-0000live" }
		r := run.Runner{Connect: run.Connector(sshconn.NewDialer(false, 0).Dial), OutputLimit: 4096}
		res := r.Run(context.Background(), []inventory.Host{reached}, plan.Cleaners(registry, live))
		if s := res.Hosts[0].Step(e.Driver.Name); s.Status != result.OK || !strings.Contains(s.Stdout, "of run 20200101-000000-0000gone") {
			t.Errorf("clean: %s %q %q", s.Status, s.Stdout, s.Error)
		}
		things := e.Things(t)
		for name, want := range map[string]bool{"ew-gone": false, "ew-live": true, "not-everywheres": true} {
			if _, there := things[name]; there != want {
				t.Errorf("%s there: %v, want %v (things: %v)", name, there, want, things)
			}
		}
	})

	t.Run("cancel mid-launch leaves nothing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		events := make(chan result.Event, 64)
		done := make(chan *result.Result, 1)
		go func() {
			done <- runPlan(t, ctx, reached, fmt.Sprintf("steps:\n  - {name: launch, %s}\n  - {name: after, %s}\ncleanup:\n  - {%s}\n",
				e.launch("ew-conf-cancel", e.Image), e.exec("ew-conf-cancel", "true"), e.delete("ew-conf-cancel")), events)
			close(events)
		}()
		// Cut the launch short once the engine holds what it makes (or
		// holds its create), or once the launch is over.
		var held <-chan struct{}
		if e.Hold != nil {
			held = e.Hold()
		}
		for ev := range events {
			if ev.Type != result.StepStarted || ev.Step != "launch" {
				continue
			}
			if held != nil {
				<-held
			} else {
				for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
					if _, made := e.Things(t)["ew-conf-cancel"]; made {
						break
					}
				}
			}
			cancel()
		}
		res := <-done
		if !res.Interrupted {
			t.Errorf("the run was not interrupted")
		}
		if _, there := e.Things(t)["ew-conf-cancel"]; there {
			t.Errorf("the cancelled launch left ew-conf-cancel (steps %+v, cleanup %+v)", res.Hosts[0].Steps, res.Hosts[0].Cleanup)
		}
	})

	t.Run("a full disk is a clear step error", func(t *testing.T) {
		if e.FullDisk == nil {
			t.Skip("this engine's storage cannot be filled here")
		}
		e.FullDisk(t)
		res := runPlan(t, context.Background(), reached, fmt.Sprintf("steps:\n  - {name: launch, %s}\ncleanup:\n  - {%s}\n",
			e.launch("ew-conf-full", e.Image), e.delete("ew-conf-full")), nil)
		if s := res.Hosts[0].Step("launch"); s.Status != result.Error || !strings.Contains(s.Error, "no space left on device") {
			t.Errorf("launch on a full disk: %s %q", s.Status, s.Error)
		}
		if _, there := e.Things(t)["ew-conf-full"]; there {
			t.Error("the failed launch left ew-conf-full")
		}
	})
}
