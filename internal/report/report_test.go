package report

import (
	"bytes"
	"encoding/xml"
	"everywhere/internal/compare"
	"strings"
	"testing"
	"time"

	goldenfile "everywhere/internal/golden"
	"everywhere/internal/result"
)

func code(n int) *int { return &n }

// fixture is a run on the six seed architectures with every kind of outcome.
func fixture() *result.Result {
	started := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ok := func(name, command, stdout string, ms int64) result.StepResult {
		return result.StepResult{Name: name, Kind: "shell", Command: command, Status: result.OK, ExitCode: code(0), Stdout: stdout,
			StdoutBytes: int64(len(stdout)), Started: started, DurationMS: ms}
	}
	archs := []struct{ name, arch, kernel, debian, eth0 string }{
		{"pi4", "armhf", "armv7l", "armhf", "inet 10.213.0.11/24 brd 10.213.0.255 scope global eth0"},
		{"rpi5", "arm64", "aarch64", "arm64", "inet 10.213.0.12/24 brd 10.213.0.255 scope global eth0"},
		{"atom", "i686", "i686", "i386", "inet 10.213.0.13/24 brd 10.213.0.255 scope global eth0"},
		{"build", "amd64", "x86_64", "amd64", "inet 10.213.0.14/24 brd 10.213.0.255 scope global eth0"},
		{"power9", "ppc64el", "ppc64le", "ppc64el", "inet 10.213.0.15/24 brd 10.213.0.255 scope global eth0"},
		{"z15", "s390x", "s390x", "s390x", "!!!Deficit 56, rta_len=8\ninet 10.213.0.16/24 brd 255.0.213.10 scope global eth0"},
	}
	res := &result.Result{Schema: result.Schema, RunID: "20261125-100000-0a1b2c3d", Plan: "everywhere-default", Started: started,
		DurationMS: 4321, Steps: []string{"kernel", "machine", "eth0"}, Cleanup: []string{"tidy"}}
	for i, a := range archs {
		h := result.HostResult{Name: a.name, Arch: a.arch, Address: "10.213.0.1" + string(rune('1'+i)) + ":22", Status: result.OK, ConnectMS: 120}
		h.Steps = []result.StepResult{
			ok("kernel", "uname -a", "Linux "+a.name+" 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) "+a.kernel+" GNU/Linux\n", 800+int64(i)*100),
			ok("machine", "uname -m", a.kernel+"\n", 600),
			ok("eth0", "ip -4 addr show eth0", a.eth0+"\n", 700),
		}
		h.Steps[1].Expectations = []result.Outcome{{Name: "arch_matches_host " + a.arch, OK: true}}
		h.Cleanup = []result.StepResult{ok("tidy", "rm -f /tmp/x", "", 50)}
		res.Hosts = append(res.Hosts, h)
	}
	// atom answers with the wrong architecture; power9 hangs; build is unreachable.
	atom := &res.Hosts[2].Steps[1]
	atom.Status, atom.Stdout = result.Failed, "x86_64\n"
	atom.Expectations = []result.Outcome{{Name: "arch_matches_host i686", Detail: "host reports x86_64 (amd64), inventory declares i686"}}
	res.Hosts[2].Status = result.Failed
	power := &res.Hosts[4].Steps[2]
	power.Status, power.ExitCode, power.Stdout, power.DurationMS = result.Timeout, nil, "", 120000
	power.Error = "no result within 2m0s (step timeout): sent SIGKILL and closed the session"
	res.Hosts[4].Status = result.Timeout
	build := &res.Hosts[3]
	build.Status, build.Error, build.Cleanup = result.Error, "host build (10.213.0.14:22): unreachable: dial tcp 10.213.0.14:22: connect: connection refused", nil
	for i := range build.Steps {
		build.Steps[i] = result.StepResult{Name: build.Steps[i].Name, Kind: "shell", Command: build.Steps[i].Command, Status: result.Skipped, Error: "host not reached"}
	}
	// pi4 printed more than the output cap, with a control sequence.
	pi := &res.Hosts[0].Steps[0]
	pi.Stderr, pi.StderrBytes, pi.StderrTruncated = "warning: \x1b[31mred\x1b[0m\n", 2<<20, true
	return res
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, name, got)
}

func TestRenderersGolden(t *testing.T) {
	tests := []struct {
		name, format string
		opts         SideOptions
	}{
		{"side-wide.golden", "side", SideOptions{Width: 160, Layout: LayoutColumns}},
		{"side-panes.golden", "side", SideOptions{Width: 160}},
		{"side-panes-color.golden", "side", SideOptions{Width: 160, Color: true, Layout: LayoutPanes}},
		{"side-narrow.golden", "side", SideOptions{Width: 80, MaxLines: 3}},
		{"side-color.golden", "side", SideOptions{Width: 160, Color: true, Layout: LayoutColumns}},
		{"result.json.golden", "json", SideOptions{}},
		{"junit.xml.golden", "junit", SideOptions{}},
		{"report.md.golden", "md", SideOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, tt.format, fixture(), tt.opts); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, buf.Bytes())
		})
	}
}

// In the fixture's eth0 step the addresses are each host's own: only
// z15's QEMU quirk, power9's timeout and build, not reached, stand out.
func TestDiffersOnlyWhereAnswersDo(t *testing.T) {
	res := fixture()
	eth0 := compare.Run(res)[2]
	want := []bool{false, false, false, true, true, true}
	for i := range want {
		if eth0.Odd(i) != want[i] {
			t.Errorf("host %s marked %v, want %v", res.Hosts[i].Name, eth0.Odd(i), want[i])
		}
	}
}

func TestJUnitIsValidXML(t *testing.T) {
	var buf bytes.Buffer
	if err := JUnit(&buf, fixture()); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 24 || doc.Failures != 2 || doc.Errors != 1 || doc.Skipped != 3 || len(doc.Suites) != 6 {
		t.Errorf("counts: tests %d failures %d errors %d skipped %d suites %d", doc.Tests, doc.Failures, doc.Errors, doc.Skipped, len(doc.Suites))
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	if err := Render(&bytes.Buffer{}, "yaml", fixture(), SideOptions{}); err == nil || !strings.Contains(err.Error(), "side, json, junit, md") {
		t.Errorf("err = %v", err)
	}
}
