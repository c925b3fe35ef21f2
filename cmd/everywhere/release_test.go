package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"everywhere/internal/host"
	"everywhere/internal/result"
	"everywhere/internal/sshtest"
)

// sshdInventory writes an inventory of one host per sshd, each with its own
// keys, named as given.
func sshdInventory(t *testing.T, hosts map[string]*sshtest.OpenSSH) string {
	t.Helper()
	arch, err := host.ParseArch(runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("defaults: {connect_timeout: 5s}\nhosts:\n")
	names := make([]string, 0, len(hosts))
	for n := range hosts {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := hosts[n]
		fmt.Fprintf(&b, "  - {name: %s, arch: %s, address: %s, port: %d, user: %s, identity: %s, known_hosts: %s}\n", n, arch, s.Host, s.Port, s.User, s.IdentityFile, s.KnownHostsFile)
	}
	file := filepath.Join(t.TempDir(), "inventory.yaml")
	writeFile(t, file, b.String())
	return file
}

func lines(t *testing.T, file string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

// TestRerunFailedOnOpenSSH: a host whose sshd is stopped fails the run;
// once its sshd is back, --rerun-failed runs that host alone and writes the
// earlier result back with its outcome in place: all ok, marked re-run.
func TestRerunFailedOnOpenSSH(t *testing.T) {
	alpha := sshtest.StartOpenSSH(t)
	bravo := sshtest.StartOpenSSHWith(t, sshtest.Options{Host: "127.0.0.2"})
	inv := sshdInventory(t, map[string]*sshtest.OpenSSH{"alpha": alpha, "bravo": bravo})
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	plan := filepath.Join(dir, "plan.yaml")
	writeFile(t, plan, fmt.Sprintf("steps:\n  - {name: machine, shell: uname -m, expect: {arch_matches_host: true}}\n  - {name: count, shell: 'echo >> %s'}\n", ran))
	out := filepath.Join(dir, "out")

	bravo.Stop()
	code, stdout, stderr := everywhere(context.Background(), "run", "-i", inv, "-p", plan, "-o", out, "--retries", "0", "--no-progress", "--width", "200")
	if code != result.ExitFailed || !strings.Contains(stdout, "2 hosts: 1 ok, 1 error · exit 1") {
		t.Fatalf("first run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	first, err := result.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}

	bravo.Restart(t)
	code, stdout, stderr = everywhere(context.Background(), "run", "-i", inv, "-p", plan, "--rerun-failed", filepath.Join(out, "result.json"), "--no-progress", "--width", "200")
	if code != result.ExitOK || !strings.Contains(stdout, "2 hosts: 2 ok · exit 0 · 1 re-run") {
		t.Fatalf("re-run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := lines(t, ran); n != 2 { // alpha in the first run, bravo in the re-run
		t.Errorf("the count step ran %d times, want 2: alpha must not run again", n)
	}
	merged, err := result.ReadFile(filepath.Join(out, "result.json")) // written back where the earlier one was
	if err != nil {
		t.Fatal(err)
	}
	a, b := merged.Hosts[0], merged.Hosts[1]
	if merged.RunID != first.RunID || merged.ExitCode() != result.ExitOK || len(merged.Reruns) != 1 || !slices.Equal(merged.Reruns[0].Hosts, []string{"bravo"}) {
		t.Errorf("merged result: run %s (first %s), exit %d, reruns %+v", merged.RunID, first.RunID, merged.ExitCode(), merged.Reruns)
	}
	if a.Rerun != nil || !a.Steps[0].Started.Equal(first.Hosts[0].Steps[0].Started) {
		t.Errorf("alpha was touched: %+v", a.Rerun)
	}
	if b.Status != result.OK || b.Rerun == nil || b.Rerun.Attempt != 2 || b.Rerun.Was != result.Error || b.Rerun.RunID != merged.Reruns[0].RunID || b.Facts == nil {
		t.Errorf("bravo: %s, rerun %+v, facts %v", b.Status, b.Rerun, b.Facts)
	}
	// Nothing left to run: the result stays as it is.
	code, _, stderr = everywhere(context.Background(), "run", "-i", inv, "-p", plan, "--rerun-failed", filepath.Join(out, "result.json"), "--no-progress")
	if code != result.ExitOK || !strings.Contains(stderr, "nothing to run again") || lines(t, ran) != 2 {
		t.Errorf("second re-run: exit %d: %s", code, stderr)
	}
}

// TestRerunFailedStepsOnOpenSSH: --steps failed runs again only the step
// that failed and what it needs, and keeps the others' outcomes.
func TestRerunFailedStepsOnOpenSSH(t *testing.T) {
	inv := openSSHInventory(t, sshtest.StartOpenSSH(t), "one")
	dir := t.TempDir()
	ran, fixed := filepath.Join(dir, "ran"), filepath.Join(dir, "fixed")
	plan := filepath.Join(dir, "plan.yaml")
	writeFile(t, plan, fmt.Sprintf(`steps:
  - {name: count, shell: 'echo >> %s'}
  - {name: prepare, shell: 'echo prepared'}
  - {name: check, shell: 'test -e %s', needs: [prepare]}
`, ran, fixed))
	out := filepath.Join(dir, "out")
	if code, stdout, _ := everywhere(context.Background(), "run", "-i", inv, "-p", plan, "-o", out, "--no-progress"); code != result.ExitFailed {
		t.Fatalf("first run: exit %d\n%s", code, stdout)
	}
	writeFile(t, fixed, "")
	code, stdout, stderr := everywhere(context.Background(), "run", "-i", inv, "-p", plan, "--rerun-failed", filepath.Join(out, "result.json"), "--steps", "failed", "--no-progress")
	if code != result.ExitOK {
		t.Fatalf("re-run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := lines(t, ran); n != 1 {
		t.Errorf("count ran %d times, want once: it did not fail", n)
	}
	merged, err := result.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	h := merged.Hosts[0]
	if h.Status != result.OK || h.Rerun == nil || !slices.Equal(h.Rerun.Steps, []string{"prepare", "check"}) || h.Steps[0].Status != result.OK {
		t.Errorf("host %s, rerun %+v, steps %+v", h.Status, h.Rerun, h.Steps)
	}
}

// TestFlakyInEveryReportOnOpenSSH: a step that fails once and passes on
// its retry is flaky in the side view, JSON, JUnit (Surefire's
// flakyFailure) and HTML; the run exits 0, 1 with --strict-flaky.
func TestFlakyInEveryReportOnOpenSSH(t *testing.T) {
	inv := openSSHInventory(t, sshtest.StartOpenSSH(t), "one")
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	writeFile(t, plan, fmt.Sprintf("steps:\n  - {name: shaky, shell: 'test -e %[1]s/once || { touch %[1]s/once; echo qemu crashed >&2; exit 139; }'}\n", dir))
	out := filepath.Join(dir, "out")
	code, stdout, stderr := everywhere(context.Background(), "run", "-i", inv, "-p", plan, "--step-retries", "1", "-o", out, "--no-progress", "--width", "200", "--color", "never")
	if code != result.ExitOK {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"≈ flaky", "≈ one · shaky: passed on try 2 (try 1: exit status 139)", "1 host: 1 flaky · exit 0"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("side view lacks %q:\n%s", want, stdout)
		}
	}
	res, err := result.ReadFile(filepath.Join(out, "result.json"))
	if err != nil || res.Hosts[0].Steps[0].Status != result.Flaky || res.Hosts[0].Status != result.Flaky {
		t.Fatalf("result.json: %v %+v", err, res)
	}
	junit, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Failure *struct{} `xml:"failure"`
				Flaky   []struct {
					Message    string `xml:"message,attr"`
					Type       string `xml:"type,attr"`
					StackTrace string `xml:"stackTrace"`
					SystemErr  string `xml:"system-err"`
				} `xml:"flakyFailure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(junit, &doc); err != nil {
		t.Fatal(err)
	}
	c := doc.Suites[0].Cases[0]
	if doc.Failures != 0 || c.Failure != nil || len(c.Flaky) != 1 || c.Flaky[0].Message != "exit status 139" || c.Flaky[0].Type != "failed" || c.Flaky[0].SystemErr != "qemu crashed\n" {
		t.Errorf("junit:\n%s", junit)
	}
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil || !strings.Contains(string(page), `"status": "flaky"`) && !strings.Contains(string(page), `"status":"flaky"`) {
		t.Errorf("report.html does not carry the flaky status (%v)", err)
	}

	code, _, _ = everywhere(context.Background(), "run", "-i", inv, "-p", plan, "--step-retries", "1", "--strict-flaky", "--no-progress")
	if code != result.ExitOK { // the marker exists now: the step passes at once
		t.Errorf("a step that passed at once: exit %d", code)
	}
	if err := os.Remove(filepath.Join(dir, "once")); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = everywhere(context.Background(), "run", "-i", inv, "-p", plan, "--step-retries", "1", "--strict-flaky", "--no-progress")
	if code != result.ExitFailed || !strings.Contains(stdout, "1 flaky · exit 1") {
		t.Errorf("--strict-flaky: exit %d, want 1\n%s", code, stdout)
	}
}

func TestReleaseFlagsUsage(t *testing.T) {
	inv := openSSHInventory(t, sshtest.StartOpenSSH(t), "one")
	prev := filepath.Join(t.TempDir(), "result.json")
	writeFile(t, prev, `{"schema": "everywhere.result/1.0", "plan": "everywhere-seed", "steps": ["a"], "hosts": []}`)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--steps", "failed"}, "--steps failed goes with --rerun-failed"},
		{[]string{"--steps", "some"}, `--steps "some": use all or failed`},
		{[]string{"--step-retries", "11"}, "--step-retries 11: give 0 to 10"},
		{[]string{"--rerun-failed", prev}, `ran plan "everywhere-seed", this run plan "everywhere-default": give -p the plan it ran`},
		{[]string{"--rerun-failed", prev + ".missing"}, "--rerun-failed: open"},
	} {
		code, _, stderr := everywhere(context.Background(), append([]string{"run", "-i", inv, "--no-progress"}, tt.args...)...)
		if code != result.ExitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, want 2 saying %q: %s", tt.args, code, tt.want, stderr)
		}
	}
}
