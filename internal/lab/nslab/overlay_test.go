package nslab_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"everywhere/internal/drivers"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/lab/labkit"
	"everywhere/internal/lab/labtest"
	"everywhere/internal/lab/nslab"
	"everywhere/internal/plan"
	"everywhere/internal/result"
)

// testFan runs the built-in fan plan on the lab: 30 ordered pairs of
// Docker containers, each passing ping, short and long data, with a
// throughput figure; its LXD matrix passes or skips (the namespace lab's
// one LXD runs x86 alone: testFanLXD looks at that closely).
func testFan(t *testing.T, c labkit.Config, targets []inventory.Host) {
	p, err := plan.Open("fan", drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	res := labtest.RunPlan(t, targets, p, nil)
	n := len(c.Hosts())
	pairs := 0
	for _, h := range res.Hosts {
		fan, fanLXD := h.Steps[len(h.Steps)-2], h.Steps[len(h.Steps)-1]
		if fan.Name != "fan" || fanLXD.Name != "fan-lxd" {
			t.Fatalf("%s: last steps %s and %s, want fan and fan-lxd", h.Name, fan.Name, fanLXD.Name)
		}
		if fanLXD.Status != result.OK && fanLXD.Status != result.Skipped {
			t.Errorf("%s: fan-lxd %s %q\n%s", h.Name, fanLXD.Status, fanLXD.Error, fanLXD.Stdout)
		}
		if fan.Status != result.OK {
			t.Errorf("%s: fan %s %q\n%s", h.Name, fan.Status, fan.Error, fan.Stdout)
		}
		for _, pair := range fan.Pairs {
			pairs++
			for _, test := range host.NetTests {
				m, ok := pair.Test(test)
				if !ok || !m.OK {
					t.Errorf("%s → %s: %s %+v", h.Name, pair.To, test, m)
				}
			}
			if m, _ := pair.Test(host.TestThroughput); m.Value <= 0 || m.Unit != "Mbit/s" {
				t.Errorf("%s → %s: throughput %+v", h.Name, pair.To, m)
			}
		}
		if overlay := h.Steps[1]; !strings.Contains(overlay.Stdout, "250.") {
			t.Errorf("%s: docker0 is not on the overlay: %s", h.Name, overlay.Stdout)
		}
	}
	if pairs != n*(n-1) {
		t.Errorf("%d pairs, want %d", pairs, n*(n-1))
	}
	if len(res.FailedPairs()) != 0 || res.ExitCode() != result.ExitOK {
		t.Errorf("failing pairs %+v, exit %d", res.FailedPairs(), res.ExitCode())
	}
}

// testFanRouteRemoved removes one host's route to another's overlay subnet:
// the pairs between the two fail, saying why, and every other pair passes.
func testFanRouteRemoved(t *testing.T, c labkit.Config, targets []inventory.Host) {
	hosts := c.Hosts()
	from, to := hosts[0], hosts[len(hosts)-1]
	if err := labkit.Command(context.Background(), "ip", "-n", nslab.Netns(from), "route", "del", to.OverlaySubnet().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := nslab.RouteOverlay(context.Background(), from); err != nil {
			t.Errorf("restoring the route: %v", err)
		}
	})
	p, err := plan.Parse("cut.yaml", []byte("steps:\n  - {name: fan, net.matrix: {tests: [ping, short], ping_count: 2}}\n"), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	res := labtest.RunPlan(t, targets, p, nil)
	cut := map[[2]string]bool{{from.Name, to.Name}: true, {to.Name, from.Name}: true}
	for _, h := range res.Hosts {
		for _, pair := range h.Steps[0].Pairs {
			ping, _ := pair.Test(host.TestPing)
			switch {
			case cut[[2]string{h.Name, pair.To}]:
				if pair.OK() || ping.OK || ping.Detail == "" {
					t.Errorf("%s → %s across the removed route: %+v, want a ping FAIL saying why", h.Name, pair.To, pair)
				}
			case !pair.OK():
				t.Errorf("%s → %s: %+v, want PASS", h.Name, pair.To, pair)
			}
		}
	}
	// What left the host without a route went to the machine, which
	// dropped it: its reply would have gone off the machine.
	rules, err := exec.Command("nft", "list", "table", "inet", c.FirewallTable()).CombinedOutput()
	if err != nil {
		t.Fatalf("nft: %v: %s", err, rules)
	}
	for _, l := range strings.Split(string(rules), "\n") {
		if strings.Contains(l, "the overlay is routed between lab hosts only") && strings.Contains(l, "counter packets 0 ") {
			t.Errorf("the machine dropped none of the overlay packets sent its way: %s", l)
		}
	}
	if failed := res.FailedPairs(); len(failed) != 2 {
		t.Errorf("failing pairs %+v, want the two across the removed route", failed)
	} else {
		t.Logf("%s → %s: %s", failed[0].From, failed[0].To, failed[0].Why)
	}
}

// testFanLXD runs net.matrix on LXD instances: the lab's LXD runs x86_64
// and i686 only, so the amd64 and i386 hosts measure each other (through
// LXD's bridge) and every other pair is skipped, which is no failure; the
// instances are deleted. Where i386 runs under qemu-i386, its instance gets
// no DHCP lease (see the README's known limits): its step fails saying so,
// and amd64's pair to it is not run.
func testFanLXD(t *testing.T, c labkit.Config, targets []inventory.Host) {
	p, err := plan.Parse("fan-lxd.yaml", []byte(`steps:
  - name: fan
    net.matrix: {engine: lxd, image: "debian/bookworm/{arch}", long_mib: 8, seconds: 1}
`), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	res := labtest.RunPlan(t, targets, p, nil)
	emulatedI386 := labkit.Emulated(host.I686)
	for _, h := range res.Hosts {
		s := h.Steps[0]
		switch {
		case h.Name == "i386" && emulatedI386:
			if s.Status != result.Error || !strings.Contains(s.Error, "IPv4") {
				t.Errorf("i386 under emulation: %s %q, want an error saying it got no IPv4 address", s.Status, s.Error)
			}
			continue
		case h.Name == "i386" || h.Name == "amd64":
			if s.Status != result.OK && !emulatedI386 {
				t.Errorf("%s: %s %q, want ok\n%s", h.Name, s.Status, s.Error, s.Stdout)
			}
		case s.Status != result.Skipped:
			t.Errorf("%s: %s %q, want skipped: LXD cannot run it", h.Name, s.Status, s.Error)
		}
		for _, pair := range s.Pairs {
			lxdPair := (h.Name == "amd64" || h.Name == "i386") && (pair.To == "amd64" || pair.To == "i386")
			switch {
			case lxdPair && emulatedI386:
				if pair.Ran || pair.Skipped {
					t.Errorf("%s → %s: %+v, want not run: i386's instance got no address", h.Name, pair.To, pair)
				}
			case lxdPair:
				if !pair.OK() || len(pair.Tests) != len(host.NetTests) {
					t.Errorf("%s → %s: %+v, want every test passed", h.Name, pair.To, pair)
				}
			case !pair.Skipped:
				t.Errorf("%s → %s: %+v, want skipped", h.Name, pair.To, pair)
			}
		}
	}
	if want := map[bool]int{false: result.ExitOK, true: result.ExitFailed}[emulatedI386]; res.ExitCode() != want {
		t.Errorf("exit %d, want %d: skipped pairs are no failure", res.ExitCode(), want)
	}
	if left := instancesOf(t, c, res.RunID); len(left) != 0 {
		t.Errorf("instances left: %v", left)
	}
}

// testFanForwardDrop sets the machine's iptables FORWARD policy to DROP, as
// a Docker engine of the machine's own does: frames between lab hosts, and
// between the lab's LXD instances, pass that chain (br_netfilter), and the
// lab's bridge rules must let them through. The policy is put back as it
// was.
func testFanForwardDrop(t *testing.T, targets []inventory.Host) {
	rules, err := exec.Command("iptables-save", "-t", "filter").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	policy := "ACCEPT"
	if strings.Contains(string(rules), ":FORWARD DROP") {
		policy = "DROP"
	}
	if err := exec.Command("iptables", "-w", "-P", "FORWARD", "DROP").Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := exec.Command("iptables", "-w", "-P", "FORWARD", policy).Run(); err != nil {
			t.Errorf("restoring the FORWARD policy %s: %v", policy, err)
		}
	})
	steps := "steps:\n  - {name: fan, net.matrix: {tests: [ping, short], ping_count: 2}}\n"
	lxdPairs := !labkit.Emulated(host.I686) // an emulated i386 instance gets no address (testFanLXD)
	if lxdPairs {
		steps += "  - {name: fan-lxd, net.matrix: {engine: lxd, image: \"debian/bookworm/{arch}\", tests: [ping, short], ping_count: 2}}\n"
	}
	p, err := plan.Parse("drop.yaml", []byte(steps), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	res := labtest.RunPlan(t, targets, p, nil)
	if failed := res.FailedPairs(); len(failed) > 0 {
		t.Errorf("%d pairs failed with FORWARD DROP, first %s %s → %s: %s", len(failed), failed[0].Step, failed[0].From, failed[0].To, failed[0].Why)
	}
	if !lxdPairs {
		return
	}
	for _, h := range res.Hosts {
		if h.Name != "amd64" {
			continue
		}
		for _, pair := range h.Step("fan-lxd").Pairs {
			if pair.To == "i386" {
				if !pair.OK() {
					t.Errorf("LXD instances amd64 → i386 with FORWARD DROP: %+v", pair)
				}
				return
			}
		}
	}
	t.Error("no LXD pair amd64 → i386 measured")
}
