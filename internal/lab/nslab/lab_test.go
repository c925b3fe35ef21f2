package nslab_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"everywhere/internal/diff"
	"everywhere/internal/drivers"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/lab"
	"everywhere/internal/lab/labkit"
	"everywhere/internal/lab/labtest"
	"everywhere/internal/lab/nslab"
	"everywhere/internal/plan"
	"everywhere/internal/report"
	"everywhere/internal/result"
	"everywhere/internal/sshconn"
)

// requireLab skips where the lab of namespaces cannot run (see labtest.Require).
func requireLab(t *testing.T) {
	t.Helper()
	labtest.Require(t, nslab.Lab{}.Requirements, labkit.Config{Archs: host.AllArchs()})
}

// upOrReuse is up, except that a lab that is up and whole (every host's
// sshd, engine and LXD socket, the proxy and the isolation) is used as it
// is: the subtests that only read the lab share one set-up, and one that
// broke something (a fault, the proxy stopped) is followed by a fresh up.
func upOrReuse(t *testing.T, c labkit.Config) []inventory.Host {
	t.Helper()
	if whole(c) {
		if inv, err := labtest.LoadInventory(c); err == nil {
			return inv.Hosts
		}
	}
	return labtest.Up(t, c, lab.Up)
}

func whole(c labkit.Config) bool {
	ctx := context.Background()
	for _, s := range lab.Status(ctx, c) {
		if !s.Namespace || s.SSHDPID == 0 || !s.Answers || !s.Docker || !s.LXD {
			return false
		}
	}
	shared := lab.SharedStatus(ctx, c)
	return shared.Proxy && shared.Isolated
}

func TestLab(t *testing.T) {
	requireLab(t)
	c := labtest.NewLab(t)
	t.Cleanup(func() {
		if err := lab.Down(context.Background(), c); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	t.Run("default plan on six architectures", func(t *testing.T) {
		targets := labtest.Up(t, c, lab.Up)
		for _, s := range lab.Status(context.Background(), c) {
			if !s.Namespace || s.SSHDPID == 0 || !s.Answers || !s.Docker || !s.LXD {
				t.Errorf("status of %s: %+v", s.Name, s)
			}
		}
		res := labtest.RunPlan(t, targets, labtest.DefaultPlan(t), nil)
		if res.ExitCode() != result.ExitOK {
			t.Fatalf("exit %d: %+v", res.ExitCode(), res.Hosts)
		}
		want := map[string][2]string{"armhf": {"armv7l", "armhf"}, "arm64": {"aarch64", "arm64"}, "i386": {"i686", "i386"},
			"amd64": {"x86_64", "amd64"}, "ppc64el": {"ppc64le", "ppc64el"}, "s390x": {"s390x", "s390x"}}
		for _, h := range res.Hosts {
			machine, dpkg := strings.TrimSpace(h.Step("machine").Stdout), strings.TrimSpace(h.Step("dpkg-arch").Stdout)
			if machine != want[h.Name][0] || dpkg != want[h.Name][1] {
				t.Errorf("host %s (%s): uname -m %q, dpkg %q; want %v", h.Name, h.Arch, machine, dpkg, want[h.Name])
			}
			for _, name := range []string{"kernel", "machine", "dpkg-arch", "docker-run"} {
				if s := h.Step(name); len(s.Expectations) != 1 || !s.Expectations[0].OK {
					t.Errorf("host %s step %s: arch_matches_host %+v", h.Name, name, s.Expectations)
				}
			}
			// The container's own uname -m: the image of the host's architecture.
			if run := h.Step("docker-run"); !strings.HasPrefix(run.Stdout, want[h.Name][0]+"\n") {
				t.Errorf("host %s: docker-run %s %q", h.Name, run.Status, run.Stdout)
			}
			if kernel := h.Step("kernel"); !strings.Contains(kernel.Stdout, "Linux "+h.Name+" ") {
				t.Errorf("host %s: uname -a does not name the host: %q", h.Name, kernel.Stdout)
			}
			// LXD runs amd64 and i386 instances here; elsewhere its steps say why not.
			launch, uname := h.Step("lxd-launch"), h.Step("lxd-uname")
			switch h.Name {
			case "amd64", "i386":
				if launch.Status != result.OK || !strings.Contains(launch.Stdout, "RUNNING") || !strings.Contains(uname.Stdout, " "+want[h.Name][0]+" ") {
					t.Errorf("host %s: lxd-launch %s %q %q; lxd-uname %q", h.Name, launch.Status, launch.Stdout, launch.Error, uname.Stdout)
				}
				if del := h.Cleanup[0]; del.Status != result.OK || !strings.Contains(del.Stdout, ": deleted") {
					t.Errorf("host %s: lxd-delete %s %q %q", h.Name, del.Status, del.Stdout, del.Error)
				}
			default:
				if launch.Status != result.Skipped || !strings.Contains(launch.Error, "runs x86_64, i686 only, not "+want[h.Name][0]) {
					t.Errorf("host %s: lxd-launch %s %q", h.Name, launch.Status, launch.Error)
				}
			}
		}
	})

	t.Run("isolation: nothing leaves, the proxy answers", func(t *testing.T) { testIsolation(t, c, upOrReuse(t, c)) })
	t.Run("seed plan: apt through the proxy on every architecture, Docker inside LXD", func(t *testing.T) { testSeed(t, c, upOrReuse(t, c)) })
	t.Run("fan plan: every container reaches every other across the overlay", func(t *testing.T) { testFan(t, c, upOrReuse(t, c)) })
	t.Run("fan on LXD: amd64 and i386 instances measure each other, the rest is skipped", func(t *testing.T) { testFanLXD(t, c, upOrReuse(t, c)) })
	t.Run("fan: a route removed fails its pairs, the rest pass", func(t *testing.T) { testFanRouteRemoved(t, c, upOrReuse(t, c)) })
	t.Run("fan: hosts reach each other when the machine's FORWARD policy is Docker's DROP", func(t *testing.T) { testFanForwardDrop(t, upOrReuse(t, c)) })
	t.Run("no proxy: apt fails at once, naming it", func(t *testing.T) { testNoProxy(t, c, upOrReuse(t, c)) })

	t.Run("uname -m groups as one, a wrong declared arch stands alone", func(t *testing.T) {
		targets := upOrReuse(t, c)
		p, err := plan.Parse("group.yaml", []byte("steps:\n  - {name: machine, shell: uname -m}\n"), drivers.All())
		if err != nil {
			t.Fatal(err)
		}
		res := labtest.RunPlan(t, targets, p, nil)
		groups := report.Groups(res)[0].Groups
		if len(groups) != 1 || len(groups[0].Hosts) != len(targets) {
			t.Errorf("six hosts answering their own uname -m: %+v", groups)
		}
		targets[1].Arch = targets[0].Arch // the inventory is wrong about one host
		res = labtest.RunPlan(t, targets, p, nil)
		groups = report.Groups(res)[0].Groups
		if len(groups) != 2 || len(groups[1].Hosts) != 1 || groups[1].Hosts[0] != targets[1].Name || !groups[1].Odd {
			t.Errorf("one host declared wrong: %+v", groups)
		}
	})

	t.Run("probes give every engine's version", func(t *testing.T) {
		res := labtest.RunPlan(t, upOrReuse(t, c), plan.Probes(drivers.All()), nil)
		for _, h := range res.Hosts {
			facts := map[string]*host.Facts{}
			for _, s := range h.Steps {
				facts[s.Name] = s.Facts
			}
			shell, docker, lxd := facts["shell"], facts["docker"], facts["lxd"]
			if shell == nil || !shell.Available || shell.Arch == "" || docker == nil || !strings.HasPrefix(docker.Version, "20.10.") || docker.API != "1.41" ||
				lxd == nil || !strings.HasPrefix(lxd.Version, "5.0") {
				t.Errorf("host %s: facts shell %+v docker %+v lxd %+v", h.Name, shell, docker, lxd)
			}
		}
	})

	t.Run("diff of two runs, the second with a step broken on purpose", func(t *testing.T) {
		targets := upOrReuse(t, c)
		src, _ := plan.BuiltinSource(plan.DefaultName)
		broken, err := plan.Parse("broken.yaml", []byte(strings.Replace(src, `everywhere/debian:bookworm", cmd`, `everywhere/debian:no-such-tag", cmd`, 1)), drivers.All())
		if err != nil {
			t.Fatal(err)
		}
		d, err := diff.Compare(labtest.RunPlan(t, targets, labtest.DefaultPlan(t), nil), labtest.RunPlan(t, targets, broken, nil), diff.Options{})
		if err != nil {
			t.Fatal(err)
		}
		regressed := map[string]bool{}
		for _, h := range d.Hosts {
			for _, ch := range h.Changes {
				switch {
				case ch.Kind == diff.Regression && ch.Step == "docker-run":
					regressed[h.New] = true
				case ch.Kind == diff.Regression || ch.Kind == diff.Fix:
					t.Errorf("host %s: unexpected %s of %s", h.New, ch.Kind, ch.Step)
				case ch.Kind == diff.Output && ch.Step != "docker-run" && !strings.HasPrefix(ch.Step, "lxd-"):
					t.Errorf("host %s: output of %s changed between two runs of the same steps: %+v", h.New, ch.Step, ch.Hunks)
				}
			}
		}
		if len(regressed) != len(targets) {
			t.Errorf("docker-run regressed on %v, want every host", regressed)
		}
	})

	t.Run("kill -9 mid-run, then clean", func(t *testing.T) {
		upOrReuse(t, c)
		killedRunIsCleaned(t, c)
	})

	// Each fault: the other hosts finish, the result names the fault, exit 1.
	faults := []struct {
		name   string
		inject func(t *testing.T, targets []inventory.Host) // breaks targets[0]
		kind   error
		detail string
	}{
		{"sshd killed before the run", func(t *testing.T, targets []inventory.Host) {
			h := c.Hosts()[0]
			if err := syscall.Kill(nslab.RunningPID(h), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); nslab.RunningPID(h) != 0; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("sshd survived SIGKILL")
				}
			}
		}, sshconn.ErrUnreachable, "unreachable"}, // refused, or reset by a socket still closing
		{"link dropped", func(t *testing.T, targets []inventory.Host) {
			if err := labkit.Command(context.Background(), "ip", "link", "set", c.Hosts()[0].Veth(), "down"); err != nil {
				t.Fatal(err)
			}
			targets[0].ConnectTimeout = 3 * time.Second
		}, sshconn.ErrUnreachable, "unreachable"},
		{"host key changed", func(t *testing.T, targets []inventory.Host) {
			known := filepath.Join(c.Dir, labkit.KnownHostsFile)
			old, err := os.ReadFile(known)
			if err != nil {
				t.Fatal(err)
			}
			// The host is reinstalled: a new key, while known_hosts keeps the old one.
			if err := os.Remove(filepath.Join(nslab.HostRoot(c.Hosts()[0]), "etc/ssh/everywhere_host_ed25519_key")); err != nil {
				t.Fatal(err)
			}
			labtest.Up(t, c, lab.Up)
			if err := os.WriteFile(known, old, 0o644); err != nil {
				t.Fatal(err)
			}
		}, sshconn.ErrHostKeyChanged, "this may be an attack"},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			targets := labtest.Up(t, c, lab.Up)
			f.inject(t, targets)
			res := labtest.RunPlan(t, targets, labtest.DefaultPlan(t), nil)
			checkOneHostDown(t, res, targets[0].Name, f.detail)
			var ce *sshconn.ConnectError
			_, err := sshconn.NewDialer(false, 0).Dial(context.Background(), targets[0])
			if !errors.As(err, &ce) || !errors.Is(err, f.kind) {
				t.Errorf("dialling the broken host: %v, want %v", err, f.kind)
			}
		})
	}

	t.Run("host killed mid-plan", func(t *testing.T) {
		targets := labtest.Up(t, c, lab.Up)
		p, err := plan.Parse("mid.yaml", []byte("steps:\n  - {name: nap, shell: sleep 3}\n  - {name: machine, shell: uname -m, expect: {arch_matches_host: true}}\n"), drivers.All())
		if err != nil {
			t.Fatal(err)
		}
		events := make(chan result.Event)
		victim := c.Hosts()[0]
		go func() {
			for e := range events {
				if e.Type == result.StepStarted && e.Step == "nap" && e.Host == victim.Name {
					time.Sleep(300 * time.Millisecond)
					for _, pid := range labkit.CgroupMembers(victim.Cgroup("sshd")) {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			}
		}()
		res := labtest.RunPlan(t, targets, p, events)
		close(events)
		if h := res.Hosts[0]; h.Status != result.Error || h.Steps[0].Status != result.Error {
			t.Errorf("killed host: %s, steps %+v", h.Status, h.Steps)
		}
		for _, h := range res.Hosts[1:] {
			if h.Status != result.OK {
				t.Errorf("host %s: %s", h.Name, h.Status)
			}
		}
		if res.ExitCode() != result.ExitFailed {
			t.Errorf("exit %d", res.ExitCode())
		}
	})

	t.Run("down leaves nothing", func(t *testing.T) {
		bystander := labtest.StartBystander(t, "tail", "-f", filepath.Join(c.Hosts()[0].Dir(), "sshd.log"))
		if err := lab.Down(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if err := lab.Down(context.Background(), c); err != nil {
			t.Fatalf("second down: %v", err)
		}
		out, _ := exec.Command("ip", "-o", "link").Output()
		if strings.Contains(string(out), c.Prefix+"-") {
			t.Errorf("links left:\n%s", out)
		}
		netns, _ := exec.Command("ip", "netns", "list").Output()
		if strings.Contains(string(netns), c.Prefix+"-") {
			t.Errorf("namespaces left:\n%s", netns)
		}
		for _, table := range []string{"filter", "nat", "mangle"} {
			if rules, err := exec.Command("iptables-save", "-t", table).Output(); err == nil && strings.Contains(string(rules), "LXD network "+c.LXDBridge()) {
				t.Errorf("LXD's %s rules for %s left", table, c.LXDBridge())
			}
		}
		if rules, err := exec.Command("nft", "list", "ruleset").Output(); err != nil || strings.Contains(string(rules), "."+c.LXDBridge()+" {") {
			t.Errorf("LXD's nftables chains for %s left (%v):\n%s", c.LXDBridge(), err, rules)
		}
		if rules, err := exec.Command("iptables-save", "-t", "filter").Output(); err != nil || strings.Contains(string(rules), "everywhere lab "+c.Prefix+":") {
			t.Errorf("the lab's bridge rule left (%v):\n%s", err, rules)
		}
		if shared := lab.SharedStatus(context.Background(), c); shared.Isolated || shared.Proxy {
			t.Errorf("after down: %+v", shared)
		}
		mounts, _ := os.ReadFile("/proc/self/mounts")
		if strings.Contains(string(mounts), c.Dir) {
			t.Errorf("mounts left under %s", c.Dir)
		}
		if pids := labkit.CgroupMembers(c.Cgroup()); len(pids) > 0 {
			t.Errorf("processes left: %v", pids)
		}
		labtest.CheckNoCgroupLeft(t, c)
		bystander.CheckAlive(t)
	})
}

// A relative lab folder made the LXD set-up loop over its parents forever
// (filepath.Dir(".") is "."), deaf to the context: lab up hung.
func TestUpRelativeDirDoesNotHang(t *testing.T) {
	requireLab(t)
	base, err := os.MkdirTemp("/var/tmp", "everywhere-lab-test-") // searchable: LXD's containers traverse it
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { labtest.RemoveTestDir(t, base) })
	c := labkit.Config{Dir: "lab", Prefix: "ewr", Archs: []host.Arch{host.AMD64}, Subnet: netip.MustParsePrefix("10.213.4.0/24"),
		LXDSubnet: netip.MustParsePrefix("10.213.104.0/24"), Log: labtest.Log{T: t}}
	stop := c
	stop.Dir = filepath.Join(base, "lab")
	t.Cleanup(func() {
		if err := lab.StopLXD(context.Background(), stop); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	t.Chdir(base)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- lab.StartLXD(ctx, c) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(6 * time.Minute):
		t.Fatal("StartLXD with a relative folder hung past its context's deadline")
	}
	if !nslab.Answers(context.Background(), stop.LXDSocket(), "/1.0") {
		t.Errorf("LXD does not answer on %s", stop.LXDSocket())
	}
}

func checkOneHostDown(t *testing.T, res *result.Result, broken, detail string) {
	t.Helper()
	if res.ExitCode() != result.ExitFailed {
		t.Errorf("exit %d, want 1", res.ExitCode())
	}
	for _, h := range res.Hosts {
		switch {
		case h.Name == broken && (h.Status != result.Error || !strings.Contains(h.Error, "host "+broken) || !strings.Contains(h.Error, detail)):
			t.Errorf("broken host %s: status %s, error %q; want error naming it and %q", h.Name, h.Status, h.Error, detail)
		case h.Name != broken && h.Status != result.OK:
			t.Errorf("healthy host %s: %s %s", h.Name, h.Status, h.Error)
		}
	}
}
