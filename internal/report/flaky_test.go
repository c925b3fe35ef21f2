package report

import (
	"bytes"
	"testing"
	"time"

	"everywhere/internal/result"
)

// flakyFixture is a run of the release plan's kind: one step flaky on
// arm64 (a qemu crash, then a pass), failed on every try on s390x (a
// timeout with the emulated limit, then a failure), and amd64 re-run by
// --rerun-failed.
func flakyFixture() *result.Result {
	started := time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC)
	res := &result.Result{Schema: result.Schema, RunID: "20261207-160000-0a1b2c3d", Plan: "everywhere-release", Started: started, DurationMS: 9000,
		Steps: []string{"apt"}}
	step := func(status result.Status, stdout string, tries ...result.Try) result.StepResult {
		return result.StepResult{Name: "apt", Kind: "docker.run", Command: "docker run everywhere/debian:trixie apt-get update", Status: status,
			ExitCode: code(0), Stdout: stdout, StdoutBytes: int64(len(stdout)), Started: started, DurationMS: 3000, TimeoutMS: 240000, Tries: tries}
	}
	crash := result.Try{Status: result.Failed, Reason: "exit status 139", ExitCode: code(139), Stderr: "qemu: uncaught target signal 11 (Segmentation fault) - core dumped\n",
		Started: started, DurationMS: 1500, TimeoutMS: 240000}
	slow := result.Try{Status: result.Timeout, Reason: "no result within 4m0s (step timeout 1m0s × 4: emulated host)", Started: started, DurationMS: 240000, TimeoutMS: 240000}
	failed := step(result.Failed, "", slow)
	failed.ExitCode, failed.Stderr, failed.StderrBytes = code(100), "E: Failed to fetch\n", 19
	trixie := func(kernel string, emulated bool) *result.Facts {
		return &result.Facts{Kernel: kernel, Distro: "debian", DistroVersion: "13", Codename: "trixie", Emulated: emulated}
	}
	res.Hosts = []result.HostResult{
		{Name: "amd64-trixie", Arch: "amd64", Address: "10.213.1.11:22", Status: result.OK, Facts: trixie("6.12.57-amd64", false), Steps: []result.StepResult{step(result.OK, "Reading package lists...\n")},
			Rerun: &result.Rerun{Attempt: 2, RunID: "20261207-170000-0a1b2c3d", Started: started.Add(time.Hour), Was: result.Error}},
		{Name: "arm64-trixie", Arch: "arm64", Address: "10.213.1.12:22", Status: result.Flaky, Facts: trixie("6.12.57-arm64", true), Steps: []result.StepResult{step(result.Flaky, "Reading package lists...\n", crash)}},
		{Name: "s390x-trixie", Arch: "s390x", Address: "10.213.1.16:22", Status: result.Failed, Steps: []result.StepResult{failed}},
	}
	return res
}

func TestFlakyGolden(t *testing.T) {
	for _, tt := range []struct{ name, format string }{
		{"junit-flaky.xml.golden", "junit"},
		{"side-flaky.golden", "side"},
		{"report-flaky.md.golden", "md"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, tt.format, flakyFixture(), SideOptions{Width: 160, Layout: LayoutColumns}); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, buf.Bytes())
		})
	}
}
