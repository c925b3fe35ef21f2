package report

import (
	"bytes"
	"regexp"
	"strings"
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
	columns := SideOptions{Width: 160, Layout: LayoutColumns}
	for _, tt := range []struct {
		name, format string
		opts         SideOptions
	}{
		{"junit-flaky.xml.golden", "junit", columns},
		{"side-flaky.golden", "side", columns},
		{"side-panes-flaky-color.golden", "side", SideOptions{Width: 160, Color: true, Layout: LayoutPanes}},
		{"result-flaky.json.golden", "json", columns},
		{"report-flaky.md.golden", "md", columns},
		{"report-flaky.html.golden", "html", columns},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, tt.format, flakyFixture(), tt.opts); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, buf.Bytes())
		})
	}
}

// A flaky cell is a status of its own in the page's data, not an error:
// its own letter, which the script names flaky, an icon, a status filter,
// and a row after the failures in the reasons table.
func TestHTMLFlakyView(t *testing.T) {
	v := embeddedView(t, flakyFixture())
	if want := []string{"O", "K", "F"}; strings.Join(v.Cells, ",") != strings.Join(want, ",") {
		t.Errorf("cells %q, want %q (every host differs)", v.Cells, want)
	}
	if v.Hosts[1].Status != "k" {
		t.Errorf("arm64's host status %q, want k (flaky)", v.Hosts[1].Status)
	}
	if v.Icons[result.Flaky] != "≈" {
		t.Errorf("icons %q lack flaky's", v.Icons)
	}
	if g := v.Groups[0][1]; g.Status != "k" || !strings.HasPrefix(g.Head, "flaky ") {
		t.Errorf("apt's flaky group %+v, want status k, head flaky", g)
	}
	if len(v.Reasons) != 2 || v.Reasons[0].Status != "f" || v.Reasons[1].Status != "k" || !strings.HasPrefix(v.Reasons[1].Reason, "passed on try 2") {
		t.Errorf("reasons %+v, want the failure, then the flaky step", v.Reasons)
	}
	// The script reads the letters back through its NAME table: every
	// letter Go writes must name its own status there, and the status
	// filter must offer it.
	m := regexp.MustCompile(`const NAME = \{([^}]*)\}`).FindStringSubmatch(htmlJS)
	if m == nil {
		t.Fatal("html.js has no NAME table")
	}
	names := map[string]string{}
	for _, kv := range regexp.MustCompile(`"?([a-z-])"?: "([a-z]+)"`).FindAllStringSubmatch(m[1], -1) {
		names[kv[1]] = kv[2]
	}
	for status, letter := range statusLetter {
		if status == "" {
			continue
		}
		if names[letter] != string(status) {
			t.Errorf("html.js names letter %q %q, want %q", letter, names[letter], status)
		}
		if !strings.Contains(htmlSource, `<option value="`+string(status)+`">`) {
			t.Errorf("the status filter has no %s", status)
		}
	}
}

// When nothing failed, the flaky steps are no failures: the summary is
// amber, not red, and their table is headed so.
func TestHTMLOnlyFlaky(t *testing.T) {
	res := flakyFixture()
	res.Hosts = res.Hosts[:2]
	var page bytes.Buffer
	if err := HTML(&page, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<p class="summary flaky">2 hosts: 1 ok, 1 flaky · exit 0`, `<details class="reasons flaky" open><summary>Flaky steps by reason</summary>`, `<tr class="s-flaky">`} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}
