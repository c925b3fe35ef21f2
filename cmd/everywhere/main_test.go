package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"everywhere/internal/drivers"
	"everywhere/internal/host"
	"everywhere/internal/plan"
	"everywhere/internal/result"
	"everywhere/internal/sshtest"
	"everywhere/internal/text"
)

// everywhere runs the command line in-process and returns its exit code and output.
func everywhere(ctx context.Context, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Main(ctx, args, &stdout, &stderr)
	checkResultSchema(args, stdout.String())
	return code, stdout.String(), stderr.String()
}

// writeFile writes a test's input file.
func writeFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// openSSHInventory writes an inventory whose hosts all reach one real sshd.
func openSSHInventory(t *testing.T, sshd *sshtest.OpenSSH, names ...string) string {
	t.Helper()
	arch, err := host.ParseArch(runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "defaults:\n  user: %s\n  identity: %s\n  known_hosts: %s\n  connect_timeout: 5s\nhosts:\n", sshd.User, sshd.IdentityFile, sshd.KnownHostsFile)
	for _, n := range names {
		port := sshd.Port
		if n == "down" {
			port = 1 // nothing listens on 127.0.0.1:1
		}
		fmt.Fprintf(&b, "  - {name: %s, arch: %s, address: %s, port: %d}\n", n, arch, sshd.Host, port)
	}
	file := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestRunDefaultPlanOnOpenSSH is the integration test of the whole flow
// against a real OpenSSH sshd: default plan, side-by-side report, saved
// result, JUnit, and rendering the saved result again.
func TestRunDefaultPlanOnOpenSSH(t *testing.T) {
	sshd := sshtest.StartOpenSSH(t)
	inv := openSSHInventory(t, sshd, "alpha", "bravo", "charlie")
	out := t.TempDir()
	code, stdout, stderr := everywhere(context.Background(), "run", "-i", inv, "-o", out, "--width", "200", "--color", "never")

	res, err := result.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	// The SSH steps pass; the Docker steps pass where this machine runs a
	// Docker engine on the default socket and otherwise say why not.
	wantCode := result.ExitOK
	for _, h := range res.Hosts {
		for _, s := range h.Steps {
			switch {
			case s.Kind == "shell" && s.Name == "eth0" && s.Status != result.OK:
				if _, err := os.Stat("/sys/class/net/eth0"); err == nil {
					t.Errorf("host %s: eth0 step %s on a machine with eth0: %s", h.Name, s.Status, s.Summary())
				}
				wantCode = result.ExitFailed
			case s.Kind == "shell" && s.Status != result.OK:
				t.Errorf("host %s step %s: %s %s", h.Name, s.Name, s.Status, s.Summary())
			case strings.HasPrefix(s.Kind, "docker.") && s.Status != result.OK:
				if !strings.Contains(s.Error, "no Docker socket at /var/run/docker.sock") {
					t.Errorf("host %s step %s: %s %q", h.Name, s.Name, s.Status, s.Error)
				}
				wantCode = result.ExitFailed
			case s.Kind == "lxd.launch" && s.Status != result.OK:
				if s.Status != result.Error || !strings.Contains(s.Error, "no LXD socket on the host") {
					t.Errorf("host %s step %s: %s %q", h.Name, s.Name, s.Status, s.Error)
				}
				wantCode = result.ExitFailed
			case strings.HasPrefix(s.Kind, "lxd.") && s.Status != result.OK:
				// Steps that need the launch are skipped, saying why, not errors of their own.
				if s.Status != result.Skipped || !strings.Contains(s.Error, "lxd.launch did not succeed (") || !strings.Contains(s.Error, "no LXD socket on the host") {
					t.Errorf("host %s step %s: %s %q, want skipped after the failed launch", h.Name, s.Name, s.Status, s.Error)
				}
			}
		}
	}
	if code != wantCode {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, wantCode, stdout, stderr)
	}
	arch, _ := host.ParseArch(runtime.GOARCH)
	for _, want := range []string{"alpha (" + string(arch) + ")", "bravo", "charlie", "kernel", "uname -a", "machine", arch.Kernel(), "dpkg-arch", arch.Debian(), "3 hosts:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	for _, h := range res.Hosts {
		machine := h.Step("machine")
		if machine.Name != "machine" || machine.Status != result.OK || strings.TrimSpace(machine.Stdout) != arch.Kernel() {
			t.Errorf("host %s machine step: %+v", h.Name, machine)
		}
		if len(machine.Expectations) != 1 || !machine.Expectations[0].OK {
			t.Errorf("host %s: arch_matches_host not checked: %+v", h.Name, machine.Expectations)
		}
		if dpkg := h.Step("dpkg-arch"); strings.TrimSpace(dpkg.Stdout) != arch.Debian() {
			t.Errorf("host %s dpkg-arch: %q", h.Name, dpkg.Stdout)
		}
	}
	junit, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name string `xml:"name,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(junit, &suites); err != nil || len(suites.Suites) != 3 || len(suites.Suites[0].Cases) != len(res.Steps)+len(res.Cleanup) {
		t.Errorf("junit.xml: %v %+v", err, suites)
	}
	// A saved result renders again with the run's exit code.
	code, md, _ := everywhere(context.Background(), "report", filepath.Join(out, "result.json"), "--format", "md")
	if code != wantCode || !strings.Contains(md, "| **machine** |") {
		t.Errorf("report: exit %d\n%s", code, md)
	}
}

func TestRunFaultsOnOpenSSH(t *testing.T) {
	sshd := sshtest.StartOpenSSH(t)
	inv := openSSHInventory(t, sshd, "good", "down")
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	writeFile(t, plan, "steps:\n  - {name: m, shell: uname -m, expect: {arch_matches_host: true}}\n  - {name: slow, shell: sleep 5, timeout: 500ms}\n")
	code, stdout, stderr := everywhere(context.Background(), "run", "-i", inv, "-p", plan, "--width", "200", "--no-progress")
	if code != result.ExitFailed {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"✘ down: host down (127.0.0.1:1): unreachable:", "connection refused", "✘ good · slow: no result within 500ms (step timeout)", "2 hosts: 1 timeout, 1 error · exit 1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
}

func TestExecQuotesArguments(t *testing.T) {
	sshd := sshtest.StartOpenSSH(t)
	inv := openSSHInventory(t, sshd, "one")
	code, stdout, stderr := everywhere(context.Background(), "exec", "-i", inv, "--no-progress", "--format", "json", "--", "printf", `%s|`, "a b", "it's", "$HOME")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, `"stdout": "a b|it's|$HOME|"`) {
		t.Errorf("arguments were not passed intact:\n%s", stdout)
	}
}

// TestInterruptRunsCleanupOnOpenSSH: Ctrl-C during a step; cleanup still
// runs on the host (it creates a file we can see: the sshd is local).
func TestInterruptRunsCleanupOnOpenSSH(t *testing.T) {
	sshd := sshtest.StartOpenSSH(t)
	inv := openSSHInventory(t, sshd, "one", "two")
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	writeFile(t, plan, fmt.Sprintf("steps:\n  - {shell: sleep 3}\n  - {shell: 'true'}\ncleanup:\n  - {shell: 'touch %s/cleaned-$$'}\n", dir))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(700*time.Millisecond, cancel)
	code, stdout, stderr := everywhere(ctx, "run", "-i", inv, "-p", plan, "--no-progress", "--width", "200")
	if code != result.ExitInterrupted {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, stdout, stderr)
	}
	cleaned, _ := filepath.Glob(filepath.Join(dir, "cleaned-*"))
	if len(cleaned) != 2 {
		t.Errorf("cleanup ran on %d hosts, want 2\n%s", len(cleaned), stdout)
	}
	if !strings.Contains(stdout, "(interrupted)") {
		t.Errorf("report does not say interrupted:\n%s", stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "hosts:\n  - {name: a, arch: mips, address: x}\n")
	badPlan := filepath.Join(dir, "plan.yaml")
	writeFile(t, badPlan, "steps:\n  - {shel: ls}\n")
	good := filepath.Join(dir, "good.yaml")
	writeFile(t, good, "hosts:\n  - {name: a, arch: amd64, address: 127.0.0.1}\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "-i", filepath.Join(dir, "none.yaml")}, "inventory " + filepath.Join(dir, "none.yaml") + " not found"},
		{[]string{"run", "-i", bad}, bad + `:2: host "a": arch: unknown arch "mips"`},
		{[]string{"run", "-i", good, "-p", badPlan}, badPlan + `:2: unknown step field or kind "shel"`},
		{[]string{"run", "-i", good, "--hosts", "arch=s390x"}, `--hosts "arch=s390x" matches no host`},
		{[]string{"run", "-i", good, "--format", "yaml"}, `--format "yaml": use one of side, json, junit, md`},
		{[]string{"run", "--nope"}, "unknown flag: --nope"},
		{[]string{"exec", "-i", good}, "requires at least 1 arg"},
		{[]string{"lauch"}, `unknown command "lauch" for "everywhere"`},
		{[]string{"report", filepath.Join(dir, "good.yaml")}, "not a result document"},
		// Bad flag values are refused as parsed, before the inventory (absent here) is read.
		{[]string{"run", "-i", filepath.Join(dir, "none.yaml"), "--parallel", "0"}, `invalid argument "0" for "--parallel" flag: must be at least 1`},
		{[]string{"exec", "-i", filepath.Join(dir, "none.yaml"), "--timeout", "-1s", "--", "true"}, `invalid argument "-1s" for "--timeout" flag: must not be negative`},
		{[]string{"hosts", "-i", filepath.Join(dir, "none.yaml"), "--output-limit", "-5"}, `invalid argument "-5" for "--output-limit" flag: must be at least 1`},
		{[]string{"clean", "-i", filepath.Join(dir, "none.yaml"), "--max-handshakes", "many"}, `invalid argument "many" for "--max-handshakes" flag: not a whole number`},
		{[]string{"exec", "--retries", "-1", "--", "true"}, `invalid argument "-1" for "--retries" flag: must be at least 0`},
		{[]string{"exec", "-i", good, "-H", "a", "--", "true"}, "-H and -i both name the hosts: give one of them"},
		{[]string{"exec", "-H", "@" + filepath.Join(dir, "hosts.txt"), "--", "true"}, "-H @" + filepath.Join(dir, "hosts.txt") + ": open"},
		{[]string{"exec", "-i", good, "--ssh-config", filepath.Join(dir, "ssh_config"), "--", "true"}, "ssh config: open " + filepath.Join(dir, "ssh_config")},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := everywhere(context.Background(), tt.args...)
			if code != result.ExitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

func TestHostsOnOpenSSH(t *testing.T) {
	sshd := sshtest.StartOpenSSH(t)
	inv := openSSHInventory(t, sshd, "up", "down")
	code, stdout, stderr := everywhere(context.Background(), "hosts", "-i", inv, "--no-progress")
	if code != result.ExitFailed {
		t.Fatalf("exit %d, want 1 (one host down)\n%s\n%s", code, stdout, stderr)
	}
	arch, _ := host.ParseArch(runtime.GOARCH)
	lines := strings.Split(stdout, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "HOST") {
		t.Fatalf("table:\n%s", stdout)
	}
	up, down := strings.Fields(lines[1]), lines[2]
	if up[0] != "up" || up[3] != "yes" || up[4] != arch.Kernel() {
		t.Errorf("reachable host row: %q", lines[1])
	}
	if !strings.HasPrefix(down, "down") || !strings.Contains(down, " no ") || !strings.Contains(down, "connection refused") {
		t.Errorf("unreachable host row: %q", down)
	}
	// This sshd's machine has no Docker socket for the test user: the probe says why.
	if !strings.Contains(lines[1], "docker: ") {
		t.Errorf("reachable host row has no docker note: %q", lines[1])
	}
}

// TestHostTableFromFacts: the table's engine columns are the probes' fields,
// whatever sentence a step would print.
func TestHostTableFromFacts(t *testing.T) {
	res := &result.Result{Hosts: []result.HostResult{{Name: "arm", Arch: "arm64", Address: "10.0.0.1:22", Status: result.OK, Steps: []result.StepResult{
		{Name: "shell", Status: result.OK, Facts: &host.Facts{Available: true, Arch: "aarch64", Version: "6.1.0", OS: "Debian 12"}},
		{Name: "docker", Status: result.OK, Facts: &host.Facts{Available: true, Version: "20.10.24+dfsg1", API: "1.41", Arch: "amd64", Note: "engine is amd64"}},
		{Name: "lxd", Status: result.OK, Facts: &host.Facts{Reason: "no LXD socket on the host"}},
	}}, {Name: "liar", Arch: "s390x", Address: "10.0.0.2:22", Status: result.OK, Steps: []result.StepResult{
		{Name: "shell", Status: result.OK, Facts: &host.Facts{Available: true, Arch: "x86_64", Version: "6.1.0", OS: "Debian 12"}},
	}}, {Name: "hostile", Arch: "amd64", Address: "10.0.0.3:22", Status: result.OK, Steps: []result.StepResult{
		// A fake uname -m that writes to the clipboard (OSC 52), and a distro name over two lines.
		{Name: "shell", Status: result.OK, Facts: &host.Facts{Available: true, Arch: "\x1b]52;c;ZXZpbA==\x07x86_64", Version: "6.1.0", OS: "Debian\n12 \u202e"}},
	}}}}
	var b strings.Builder
	if err := hostTable(&b, res, []string{"docker", "lxd"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	for _, want := range []string{"aarch64", "6.1.0", "Debian 12", "20.10.24+dfsg1 (API 1.41)", "docker: engine is amd64", "lxd: no LXD socket on the host"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
	if !strings.Contains(lines[2], "declared s390x but uname -m says x86_64") {
		t.Errorf("row %q does not say the arch is wrong", lines[2])
	}
	if len(lines) != 5 || strings.ContainsAny(b.String(), "\x1b\x07\u202e") || !strings.Contains(lines[3], "␛]52;c;ZXZpbA==␇x86_64") {
		t.Errorf("hostile text reached the table raw:\n%q", b.String())
	}
	if a, h := strings.Index(lines[0], "MACHINE"), strings.Index(lines[3], "␛"); a < 0 || text.Width(lines[0][:a]) != text.Width(lines[3][:h]) {
		t.Errorf("columns misaligned:\n%s", b.String())
	}
	if err := hostsExit(res); err == nil {
		t.Error("a host of the wrong arch should fail hosts")
	}
}

// TestRunHelpShowsTheBuiltInPlan: run --help lists every step of the real
// built-in plan, generated from it.
func TestRunHelpShowsTheBuiltInPlan(t *testing.T) {
	code, stdout, _ := everywhere(context.Background(), "run", "--help")
	p, err := plan.Default(drivers.All())
	if code != result.ExitOK || err != nil {
		t.Fatalf("exit %d, %v", code, err)
	}
	for _, s := range append(p.Steps, p.Cleanup...) {
		if !strings.Contains(stdout, "  "+s.Name+" ") || !strings.Contains(stdout, s.Action.Command()) {
			t.Errorf("run --help does not show step %s (%s):\n%s", s.Name, s.Action.Command(), stdout)
		}
	}
}
