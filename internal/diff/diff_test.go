package diff

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"everywhere/internal/drivers"
	goldenfile "everywhere/internal/golden"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/result"
	"everywhere/internal/run"
	"everywhere/internal/sshconn"
	"everywhere/internal/sshtest"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, name, got)
}

func code(n int) *int { return &n }

// fleet is a run of four hosts on the day given, each answering with its
// own name, address, arch, the run id and the time of day, all of which a
// diff must mask.
func fleet(day int, kernel string) *result.Result {
	started := time.Date(2026, 11, day, 10, 0, 0, 0, time.UTC)
	runID := fmt.Sprintf("202611%02d-100000-0a1b2c3d", day)
	res := &result.Result{Schema: result.Schema, RunID: runID, Plan: "smoke", Started: started, DurationMS: 4000,
		Steps: []string{"kernel", "machine", "eth0"}, Cleanup: []string{"tidy"}}
	for i, a := range []host.Arch{host.ArmHF, host.Arm64, host.I686, host.AMD64} {
		name := []string{"pi4", "rpi5", "atom", "build"}[i]
		addr := fmt.Sprintf("10.213.%d.%d", day, 11+i)
		ok := func(step, command, stdout string, ms int64) result.StepResult {
			return result.StepResult{Name: step, Kind: "shell", Command: command, Status: result.OK, ExitCode: code(0), Stdout: stdout,
				StdoutBytes: int64(len(stdout)), Started: started, DurationMS: ms}
		}
		facts := &result.Facts{Kernel: kernel, Machine: a.Kernel(), Distro: "debian", DistroVersion: "12", Codename: "bookworm",
			Packages: map[string]string{"docker.io": "20.10.24+dfsg1-1+b3", "containerd": "1.6.20~ds1-1+b1"}, Engines: map[string]string{"docker": "20.10.24+dfsg1"}}
		res.Hosts = append(res.Hosts, result.HostResult{Name: name, Arch: string(a), Address: addr + ":22", Status: result.OK, ConnectMS: 100, Facts: facts,
			Steps: []result.StepResult{
				ok("kernel", "uname -a", fmt.Sprintf("Linux %s %s #1 SMP Debian %s\n", name, kernel, a.Kernel()), 800),
				ok("machine", "uname -m; date", fmt.Sprintf("%s\n2026-11-%02dT10:00:%02dZ run %s\n", a.Kernel(), day, i, runID), 600),
				ok("eth0", "ip -4 -brief addr show eth0", fmt.Sprintf("eth0 UP %s/24\n", addr), 700),
			},
			Cleanup: []result.StepResult{ok("tidy", "rm -rf /tmp/everywhere-"+runID, "", 50)},
		})
	}
	return res
}

func fail(s *result.StepResult, stderr string) {
	s.Status, s.ExitCode, s.Stderr, s.StderrBytes = result.Failed, code(1), stderr, int64(len(stderr))
}

func TestDiffGolden(t *testing.T) {
	tests := []struct {
		name   string
		change func(old, new *result.Result)
		opts   Options
		exit   int
	}{
		{"same", func(_, _ *result.Result) {}, Options{Slower: 2}, 0},
		{"status", func(old, new *result.Result) {
			fail(&new.Hosts[2].Steps[1], "E: something broke\n") // atom: a regression
			fail(&old.Hosts[1].Steps[2], "E: no eth0\n")         // rpi5: fixed
			skip := &new.Hosts[0].Steps[2]                       // pi4: changed, neither a regression nor a fix
			skip.Status, skip.ExitCode, skip.Stdout, skip.Error = result.Skipped, nil, "", "not run: an earlier step failed"
			new.Hosts[3].Status, new.Hosts[3].Error = result.Error, "host build (10.213.26.14:22): unreachable: connection refused"
		}, Options{}, 1},
		{"output", func(_, new *result.Result) {
			s := &new.Hosts[1].Steps[0]
			s.Stdout = strings.Replace(s.Stdout, "6.1.0-18", "6.1.0-25", 1) + "a new line\n"
			big := &new.Hosts[0].Steps[2] // cut by the output limit, differently: only the kept lines count
			big.Stdout, big.StdoutTruncated = "eth0 UP 10.213.26.11/24\n"+host.Cut{Bytes: 12345, Lines: 99}.Marker()+"end\n", true
		}, Options{}, 0},
		{"duration", func(old, new *result.Result) {
			new.Hosts[0].Steps[0].DurationMS = 2500 // 3.1x slower
			new.Hosts[1].Steps[0].DurationMS = 1500 // 1.9x: under the factor
			new.Hosts[2].Steps[1].DurationMS = 200  // 3x faster
			old.Hosts[3].Cleanup[0].DurationMS = 10 // 5x slower, but by 40ms: noise
		}, Options{Slower: 2}, 0},
		{"hosts", func(old, new *result.Result) {
			new.Hosts = append(new.Hosts[:1], new.Hosts[2:]...) // rpi5 gone
			extra := new.Hosts[0]
			extra.Name = "pi4b"
			new.Hosts = append(new.Hosts, extra)
		}, Options{}, 0},
		{"steps", func(old, new *result.Result) {
			new.Steps = []string{"kernel", "machine", "dpkg"}
			for i := range new.Hosts {
				s := &new.Hosts[i].Steps[2]
				s.Name, s.Command, s.Stdout = "dpkg", "dpkg --print-architecture", new.Hosts[i].Arch+"\n"
			}
		}, Options{}, 0},
		{"match-arch", func(_, new *result.Result) {
			for i := range new.Hosts { // the same architectures on other machines
				h := &new.Hosts[i]
				for j := range h.Steps {
					h.Steps[j].Stdout = strings.ReplaceAll(h.Steps[j].Stdout, h.Name, "cloud-"+h.Arch)
				}
				h.Name = "cloud-" + h.Arch
			}
			fail(&new.Hosts[3].Steps[1], "E: qemu: uncaught target signal 11\n")
		}, Options{MatchArch: true}, 1},
		{"suites", func(old, new *result.Result) { // a lab of each suite: ARCH-SUITE, paired by arch unasked
			for _, r := range []*result.Result{old, new} {
				suite := map[*result.Result]string{old: "bookworm", new: "trixie"}[r]
				for i := range r.Hosts {
					h := &r.Hosts[i]
					for j := range h.Steps {
						h.Steps[j].Stdout = strings.ReplaceAll(h.Steps[j].Stdout, h.Name, h.Arch+"-"+suite)
					}
					h.Name = h.Arch + "-" + suite
				}
			}
			for i := range new.Hosts {
				f := new.Hosts[i].Facts
				f.DistroVersion, f.Codename, f.Kernel = "13", "trixie", "6.12.9-amd64"
				f.Packages = map[string]string{"docker.io": "26.1.5+dfsg1-9+b1", "containerd": "1.7.24~ds1-6+b1", "runc": "1.1.15+ds1-2"}
				f.Engines["docker"] = "26.1.5+dfsg1"
			}
			new.Hosts[1].Facts.Emulated, new.Hosts[1].Facts.Emulator = true, "qemu-user (/usr/libexec/qemu-binfmt/aarch64-binfmt-P)"
			flaky := &new.Hosts[1].Steps[2]
			flaky.Status, flaky.Tries = result.Flaky, []result.Try{{Status: result.Timeout, Reason: "no result within 4m0s (step timeout 1m0s × 4: emulated host)"}}
			fail(&new.Hosts[0].Steps[1], "E: qemu: uncaught target signal 11\n")
		}, Options{}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, new := fleet(25, "6.1.0-18-amd64"), fleet(26, "6.1.0-18-amd64")
			tt.change(old, new)
			d, err := Compare(old, new, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Render(&buf, "side", d); err != nil {
				t.Fatal(err)
			}
			golden(t, "diff-"+tt.name+".golden", buf.Bytes())
			if d.ExitCode() != tt.exit {
				t.Errorf("exit %d, want %d", d.ExitCode(), tt.exit)
			}
		})
	}
}

// Every format of one diff with a change of each kind.
func TestDiffFormatsGolden(t *testing.T) {
	old, new := fleet(25, "6.1.0-18-amd64"), fleet(26, "6.1.0-25-amd64")
	fail(&new.Hosts[2].Steps[1], "E: <b>something</b> `broke` | *here*\n```\n# not a heading\n")
	new.Hosts[0].Steps[0].DurationMS = 4000
	new.Steps = append(new.Steps, "docker")
	new.Hosts[3].Facts.Packages["docker.io"] = "20.10.24+dfsg1-1+deb12u1"                          // a point release on amd64 alone
	new.Hosts[3].Facts.Packages["runc"] = "1.1 <script>x</script>\n## `heading` [link](x)\x1b[31m" // a host's text, untrusted
	twin := new.Hosts[2]                                                                           // two i686 hosts that moved apart
	twin.Name, twin.Facts = "atom2", &result.Facts{Kernel: "6.1.0-26-686"}
	oldTwin := old.Hosts[2]
	oldTwin.Name, oldTwin.Facts = "atom2", &result.Facts{Kernel: "6.1.0-18-686"}
	old.Hosts, new.Hosts = append(old.Hosts, oldTwin), append(new.Hosts, twin)
	for _, f := range Formats {
		d, err := Compare(old, new, Options{Slower: 2})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Render(&buf, f, d); err != nil {
			t.Fatal(err)
		}
		golden(t, "diff-all."+f+".golden", buf.Bytes())
	}
	if err := Render(io.Discard, "yaml", &Diff{}); err == nil || !strings.Contains(err.Error(), "side, md, json, html") {
		t.Errorf("unknown format: %v", err)
	}
}

// Two real runs through the runner against in-process SSH servers: a new
// kernel shows; the run ids, times and ports that differ do not.
func TestDiffRealRuns(t *testing.T) {
	kernel := "6.1.0-18"
	handler := func(a host.Arch) sshtest.Handler {
		return func(command string, stdout, _ io.Writer, _ <-chan struct{}) int {
			switch {
			case command == "uname -rm":
				fmt.Fprintf(stdout, "%s-%s %s\n", kernel, a.Debian(), a.Kernel())
			case command == "date -u +%T":
				fmt.Fprintln(stdout, time.Now().UTC().Format("15:04:05"))
			case strings.HasPrefix(command, "echo "):
				fmt.Fprintln(stdout, strings.TrimPrefix(command, "echo "))
			}
			return 0
		}
	}
	p, err := plan.Parse("smoke.yaml", []byte(`
name: smoke
steps:
  - {name: kernel, shell: uname -rm, expect: {arch_matches_host: true}}
  - {name: clock, shell: date -u +%T}
`), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	runOnce := func() *result.Result {
		var hosts []inventory.Host
		for i, a := range []host.Arch{host.Arm64, host.S390X} {
			s := sshtest.NewServer(t, handler(a)) // a new port each run: masked as the address
			hosts = append(hosts, inventory.Host{Name: fmt.Sprintf("%s-%d", a, i), Arch: a, Address: s.Host, Port: s.Port, User: "u",
				Identity: s.IdentityFile, KnownHosts: s.KnownHostsFile, ConnectTimeout: 5 * time.Second})
		}
		r := &run.Runner{RunID: run.NewRunID(), Connect: run.Connector(sshconn.NewDialer(false, 0).Dial), Parallel: 2, OutputLimit: host.DefaultOutputLimit}
		return r.Run(context.Background(), hosts, p)
	}
	old := runOnce()
	time.Sleep(1100 * time.Millisecond) // another second on the clock
	kernel = "6.1.0-25"
	new := runOnce()
	if old.RunID == new.RunID {
		t.Fatal("two runs, one run id")
	}
	d, err := Compare(old, new, Options{Slower: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range d.Hosts {
		for _, c := range h.Changes {
			got = append(got, h.Key+" "+c.Step+" "+string(c.Kind))
		}
	}
	if want := "arm64-0 kernel output,s390x-1 kernel output"; strings.Join(got, ",") != want {
		t.Errorf("changes %q, want %s", got, want)
	}
	if d.ExitCode() != 0 {
		t.Errorf("exit %d, want 0", d.ExitCode())
	}
}
