package nslab_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"everywhere/internal/drivers"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/lab/labkit"
	"everywhere/internal/lab/labtest"
	"everywhere/internal/plan"
	"everywhere/internal/result"
)

// The stand-in for "outside": a namespace of the test's own that the
// machine reaches over a veth pair, as it would reach any network beyond
// it. The lab must not.
const (
	outsideNetns = "ewt-out"
	outsideLink  = "ewt-outh"
	outsideAddr  = "10.213.120.2"
)

func standInOutside(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { _ = labkit.Command(context.Background(), "ip", "netns", "del", outsideNetns) })
	for _, s := range [][]string{
		{"netns", "add", outsideNetns},
		{"link", "add", outsideLink, "type", "veth", "peer", "name", "eth0", "netns", outsideNetns},
		{"addr", "add", "10.213.120.1/24", "dev", outsideLink},
		{"link", "set", outsideLink, "up"},
		{"-n", outsideNetns, "addr", "add", outsideAddr + "/24", "dev", "eth0"},
		{"-n", outsideNetns, "link", "set", "eth0", "up"},
		{"-n", outsideNetns, "link", "set", "lo", "up"},
		{"-n", outsideNetns, "route", "add", "default", "via", "10.213.120.1"},
	} {
		if err := labkit.Command(context.Background(), "ip", s...); err != nil {
			t.Fatal(err)
		}
	}
	// The machine forwards to its stand-in whatever its own FORWARD policy
	// (Docker's DROP, on a machine with a Docker engine): what stops the lab
	// must be the lab's rules, not the policy.
	for _, dir := range []string{"-i", "-o"} {
		rule := []string{"FORWARD", dir, outsideLink, "-m", "comment", "--comment", "everywhere test: the stand-in outside", "-j", "ACCEPT"}
		if err := labkit.Command(context.Background(), "iptables", append([]string{"-w", "-I"}, rule...)...); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = labkit.Command(context.Background(), "iptables", append([]string{"-w", "-D"}, rule...)...) })
	}
	if err := labkit.Command(context.Background(), "ping", "-c", "1", "-W", "3", outsideAddr); err != nil {
		t.Fatalf("the machine does not reach its stand-in outside: %v", err)
	}
}

// reachOutside runs, on the lab's amd64 host, a ping of the stand-in from
// the host and from a container, and a connection to the package proxy.
func reachOutside(t *testing.T, c labkit.Config, targets []inventory.Host) *result.HostResult {
	t.Helper()
	proxy := strings.TrimPrefix(c.ProxyURL(), "http://")
	p, err := plan.Parse("outside.yaml", []byte(`steps:
  - {name: host, shell: "ping -c 1 -W 3 `+outsideAddr+`"}
  - {name: container, docker.run: {image: "everywhere/debian:bookworm", cmd: [ping, -c, "1", -W, "3", `+outsideAddr+`]}}
  - {name: proxy, shell: "bash -c 'exec 3<>/dev/tcp/`+strings.Replace(proxy, ":", "/", 1)+` && echo open'"}
`), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range targets {
		if h.Arch == host.AMD64 {
			return &labtest.RunPlan(t, []inventory.Host{h}, p, nil).Hosts[0]
		}
	}
	t.Fatal("no amd64 host in the lab")
	return nil
}

func testIsolation(t *testing.T, c labkit.Config, targets []inventory.Host) {
	standInOutside(t)
	// Without the lab's rules the stand-in is reachable: what the rules are for.
	if err := labkit.Unisolate(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	open := reachOutside(t, c, targets)
	if err := labkit.Isolate(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"host", "container"} {
		if s := open.Step(step); exitCode(s) != 0 {
			t.Fatalf("without the rules, the %s does not reach the stand-in outside either (%s %q %q): the test shows nothing", step, s.Status, s.Stdout, s.Stderr)
		}
	}
	closed := reachOutside(t, c, targets)
	for _, step := range []string{"host", "container"} {
		if s := closed.Step(step); exitCode(s) <= 0 {
			t.Errorf("with the rules, the lab's %s reached the stand-in outside (or did not run): %s exit %d %q %q", step, s.Status, exitCode(s), s.Stdout, s.Error)
		}
	}
	if s := closed.Step("proxy"); strings.TrimSpace(s.Stdout) != "open" {
		t.Errorf("the package proxy, the lab's one way out, is not reachable from a lab host: %s %q %q", s.Status, s.Stdout, s.Stderr)
	}
	// Nor does anything come in: the stand-in cannot reach a lab host.
	if err := labkit.Command(context.Background(), "ip", "netns", "exec", outsideNetns, "ping", "-c", "1", "-W", "2", c.Hosts()[0].Address.String()); err == nil {
		t.Errorf("the stand-in outside reached lab host %s", c.Hosts()[0].Address)
	}
}

// testSeed runs the seed plan: apt through the proxy in every
// architecture's container, Docker inside LXD. Then the amd64 install again,
// served from the proxy's cache.
func testSeed(t *testing.T, c labkit.Config, targets []inventory.Host) {
	p, err := plan.Open("seed", drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	res := labtest.RunPlan(t, targets, p, nil)
	for _, h := range res.Hosts {
		apt := h.Step("docker-apt-ifconfig")
		if apt.Status != result.OK || !strings.Contains(apt.Stdout, "Setting up net-tools") || !strings.Contains(apt.Stdout, "eth0: flags=") {
			t.Errorf("host %s: apt install and ifconfig in a container: %s %q\nstdout %s\nstderr %s", h.Name, apt.Status, apt.Error, tail(apt.Stdout), tail(apt.Stderr))
		}
		if dpkg := h.Step("dpkg-docker"); dpkg.Status != result.OK || !strings.HasPrefix(dpkg.Stdout, "ii  docker.io ") {
			t.Errorf("host %s: dpkg -l docker.io: %s %q", h.Name, dpkg.Status, dpkg.Stdout)
		}
		nested := h.Step("docker-in-lxd")
		switch h.Name {
		case "i386":
			if labkit.Emulated(host.I686) {
				// The i686 instance runs under qemu-i386 (this kernel runs no 32-bit
				// x86 code), where Go's 386 runtime, and so the docker CLI, crashes:
				// the step says so at once instead of waiting out its timeout.
				if nested.Status == result.OK || !strings.Contains(nested.Error, " fails (exit ") || nested.DurationMS > 60_000 {
					t.Errorf("host %s: Docker inside an emulated i686 instance: %s %q in %d ms, want a quick failure quoting docker", h.Name, nested.Status, nested.Error, nested.DurationMS)
				}
				break
			}
			fallthrough
		case "amd64":
			if want := map[string]string{"amd64": "x86_64", "i386": "i686"}[h.Name]; nested.Status != result.OK || strings.TrimSpace(nested.Stdout) != want {
				t.Errorf("host %s: Docker inside LXD: %s %q %q %q, want %s", h.Name, nested.Status, nested.Stdout, nested.Stderr, nested.Error, want)
			}
		default:
			if nested.Status != result.Skipped {
				t.Errorf("host %s: docker-in-lxd where LXD cannot launch: %s %q", h.Name, nested.Status, nested.Error)
			}
		}
	}
	log := filepath.Join(c.ProxyDir(), "log", "apt-cacher.log")
	fetched := func() int { // net-tools packages the proxy fetched from the mirror
		data, _ := os.ReadFile(log)
		return len(regexp.MustCompile(`(?m)\|I\|\d+\|[^|]*\|.*/net-tools_[^/]*\.deb$`).FindAll(data, -1))
	}
	before := fetched()
	if before == 0 {
		t.Fatalf("no net-tools package came through the proxy (%s)", log)
	}
	again, err := plan.Parse("again.yaml", []byte(`steps:
  - name: apt-again
    docker.run: {image: "everywhere/debian:bookworm", env: [DEBIAN_FRONTEND=noninteractive], cmd: [sh, -c, "apt-get update -q --error-on=any && apt-get install -y -q net-tools"]}
    timeout: 5m
`), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range targets {
		if h.Arch == host.AMD64 {
			if s := labtest.RunPlan(t, []inventory.Host{h}, again, nil).Hosts[0].Step("apt-again"); s.Status != result.OK {
				t.Errorf("second install: %s %q %s", s.Status, s.Error, tail(s.Stderr))
			}
		}
	}
	if after := fetched(); after != before {
		t.Errorf("the second install fetched net-tools from the mirror again (%d fetches, then %d): not served from the cache", before, after)
	}
}

// exitCode is the step's exit code, -1 when it has none (it did not run).
func exitCode(s result.StepResult) int {
	if s.ExitCode == nil {
		return -1
	}
	return *s.ExitCode
}

func tail(s string) string { return s[max(0, len(s)-2000):] }

// testNoProxy stops the proxy: apt in a container fails in seconds, saying
// which proxy it could not reach, instead of hanging.
func testNoProxy(t *testing.T, c labkit.Config, targets []inventory.Host) {
	if err := labkit.StopCgroup(context.Background(), c.ProxyCgroup()); err != nil {
		t.Fatal(err)
	}
	p, err := plan.Parse("noproxy.yaml", []byte(`steps:
  - name: apt
    docker.run: {image: "everywhere/debian:bookworm", cmd: [apt-get, update, --error-on=any]}
    timeout: 3m
`), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range targets {
		if h.Arch != host.AMD64 {
			continue
		}
		s := labtest.RunPlan(t, []inventory.Host{h}, p, nil).Hosts[0].Step("apt")
		proxy := strings.TrimPrefix(c.ProxyURL(), "http://")
		proxyHost, _, _ := strings.Cut(proxy, ":")
		if s.Status != result.Failed || !strings.Contains(s.Stdout+s.Stderr, proxyHost) {
			t.Errorf("apt without the proxy: %s exit %d, want a failure naming %s:\n%s\n%s", s.Status, exitCode(s), proxy, tail(s.Stdout), tail(s.Stderr))
		}
		t.Logf("apt-get update without the proxy failed in %d ms", s.DurationMS)
	}
}
