package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/rivo/uniseg"

	"everywhere/internal/host"
	"everywhere/internal/result"
)

// checkGrid fails unless every line of a side view fits width display
// cells and, in a band of columns, every line has its separators (│ ┼) in
// the same display columns.
func checkGrid(t *testing.T, name, out string, width int) {
	t.Helper()
	var band []int
	for i, l := range strings.Split(out, "\n") {
		if w := uniseg.StringWidth(l); w > width {
			t.Errorf("%s: line %d is %d cells wide, more than %d: %q", name, i, w, width, l)
		}
		cols := separators(l)
		switch {
		case len(cols) == 0:
			band = nil
		case band == nil:
			band = cols
		case fmt.Sprint(cols) != fmt.Sprint(band):
			t.Errorf("%s: line %d has separators at %v, its band at %v: %q", name, i, cols, band, l)
		}
	}
}

// separators are the display columns of the grid's separators in l.
func separators(l string) []int {
	var cols []int
	col, state := 0, -1
	for rest := l; rest != ""; {
		var cluster string
		var w int
		cluster, rest, w, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if cluster == "│" || cluster == "┼" {
			cols = append(cols, col)
		}
		col += w
	}
	return cols
}

func side(t testing.TB, res *result.Result, opts SideOptions) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Side(&buf, res, opts); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// tiny is a run of one step on a few hosts, each host's step set by fn.
func tiny(hosts int, command string, fn func(i int, s *result.StepResult)) *result.Result {
	archs := host.AllArchs()
	res := &result.Result{Schema: result.Schema, RunID: "20261201-120000-feedbeef", Plan: "p", Steps: []string{"step"}}
	for i := range hosts {
		a := archs[i%len(archs)]
		s := result.StepResult{Name: "step", Kind: "shell", Command: command, Status: result.OK, ExitCode: code(0), DurationMS: 100}
		fn(i, &s)
		res.Hosts = append(res.Hosts, result.HostResult{Name: fmt.Sprintf("h%d", i+1), Arch: string(a),
			Address: fmt.Sprintf("10.0.0.%d:22", i+1), Status: s.Status, Steps: []result.StepResult{s}})
	}
	return res
}

func withOutput(stdout, stderr string) func(int, *result.StepResult) {
	return func(_ int, s *result.StepResult) {
		s.Stdout, s.StdoutBytes, s.Stderr, s.StderrBytes = stdout, int64(len(stdout)), stderr, int64(len(stderr))
	}
}

// A multi-line command (shell: | in a plan) is a label of several rows,
// not raw newlines that shift every row after it.
func TestSideMultiLineCommand(t *testing.T) {
	res := tiny(3, "echo one\necho two\r\n\techo three", withOutput("one\ntwo\nthree\n", ""))
	out := side(t, res, SideOptions{Width: 80, Layout: LayoutColumns})
	checkGrid(t, "multi-line command", out, 80)
	for _, want := range []string{"\necho one ", "\necho two ", "\n        echo three "} {
		if !strings.Contains(out, want) {
			t.Errorf("label row %q missing:\n%s", want, out)
		}
	}
	golden(t, "side-multiline.golden", []byte(out))
}

// The grid holds whatever the hosts print: CJK, emoji, combining marks,
// ZWJ sequences, flags, tabs, CR, very long lines.
func TestSideUnicodeKeepsTheGrid(t *testing.T) {
	outputs := []string{
		"日本語のテキスト、全角の文字。中文输出也是双宽度的字符。한국어 출력도 있습니다\n",
		"emoji 🎉🚀 ZWJ 👩‍💻👨‍👩‍👧 flags 🇩🇪🇯🇵 skin 👍🏽\n",
		"combining e\u0301e\u0301e\u0301 a\u0308 Z\u0335\u0321a\u0337\u0322l\u0334go\n",
		"tab\tseparated\tvalues\tand\ta\tCR\rprogress 50%\r100%\n",
		strings.Repeat("x", 5000) + "\n",
		strings.Repeat("漢", 3000) + "\n",
	}
	res := tiny(len(outputs), "print things", func(i int, s *result.StepResult) { withOutput(outputs[i], outputs[(i+1)%len(outputs)])(i, s) })
	res.Hosts[0].Name = "名前のホスト"
	for _, width := range []int{40, 60, 77, 80, 100, 160, 240} {
		for _, g := range []Layout{LayoutColumns, LayoutGroups, LayoutPanes} {
			out := side(t, res, SideOptions{Width: width, Layout: g})
			checkGrid(t, fmt.Sprintf("width %d group %d", width, g), out, width)
			if width == 160 && g == LayoutColumns {
				golden(t, "side-unicode.golden", []byte(out))
			}
		}
	}
}

func TestSideFitsWidth(t *testing.T) {
	for _, width := range []int{40, 60, 80, 100, 160, 240} {
		for _, g := range []Layout{LayoutAuto, LayoutColumns, LayoutGroups, LayoutPanes} {
			out := side(t, fixture(), SideOptions{Width: width, Layout: g})
			checkGrid(t, fmt.Sprintf("width %d group %d", width, g), out, width) // every line, the title too
			if strings.Contains(out, "\x1b") {
				t.Errorf("width %d: remote escape sequence reached the terminal", width)
			}
		}
	}
}

// aptFailure is `seq 1 20; echo 'E: Unable to locate package foo' >&2; exit 100`.
func aptFailure(_ int, s *result.StepResult) {
	var out strings.Builder
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&out, "%d\n", i)
	}
	withOutput(out.String(), "E: Unable to locate package foo\n")(0, s)
	s.Status, s.ExitCode = result.Failed, code(100)
}

// A failed cell shows why first: the exit status and the end of stderr,
// then stdout's head and tail.
func TestSideFailureFirst(t *testing.T) {
	res := tiny(2, "seq 1 20; echo 'E: Unable to locate package foo' >&2; exit 100", aptFailure)
	res.Hosts[1].Steps[0] = result.StepResult{Name: "step", Command: res.Hosts[0].Steps[0].Command, Status: result.OK, ExitCode: code(0), Stdout: "fine\n"}
	res.Hosts[1].Status = result.OK
	out := side(t, res, SideOptions{Width: 100, Layout: LayoutColumns})
	checkGrid(t, "failure", out, 100)
	cell := column(out, 0)
	want := []string{"✘ failed 0.10s", "≠ differs", "→ exit status 100", "2> E: Unable to locate package foo", "1", "2", "3", "… 14 more lines", "18", "19", "20"}
	if strings.Join(cell, "|") != strings.Join(want, "|") {
		t.Errorf("failed cell:\n%s\nwant:\n%s", strings.Join(cell, "\n"), strings.Join(want, "\n"))
	}
	golden(t, "side-failure.golden", []byte(out))
	var md bytes.Buffer
	if err := Markdown(&md, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "→ exit status 100<br><code>2&gt; E: Unable to locate package foo</code>") {
		t.Errorf("Markdown lacks the reason and stderr:\n%s", md.String())
	}
}

// column is the text of the first step's cell of column i (0-based) of a
// one-band side view.
func column(out string, i int) []string {
	var cell []string
	rules := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "┼") {
			rules++
			continue
		}
		parts := strings.Split(l, "│")
		if rules != 1 || len(parts) < i+2 {
			continue
		}
		if s := strings.TrimSpace(parts[i+1]); s != "" {
			cell = append(cell, s)
		}
	}
	return cell
}

// The end of a long log survives the output limit and the cell says how
// many lines, not screen rows, it leaves out.
func TestSideLongLogKeepsItsEnd(t *testing.T) {
	buf := host.CappedBuffer{Limit: 4096}
	for i := 1; i <= 5000; i++ {
		fmt.Fprintf(&buf, "Get:%d http://deb.debian.org/debian bookworm/main amd64 package-%d all 1.0 [12.3 kB]\n", i, i)
	}
	fmt.Fprintf(&buf, "E: Unable to locate package foo\n")
	res := tiny(1, "apt-get install foo", func(_ int, s *result.StepResult) {
		s.Stdout, s.StdoutBytes, s.StdoutTruncated = buf.String(), buf.Total(), buf.Truncated()
		s.Status, s.ExitCode = result.Failed, code(100)
	})
	out := side(t, res, SideOptions{Width: 60, Layout: LayoutColumns, MaxLines: 6})
	checkGrid(t, "long log", out, 60)
	if !strings.Contains(out, "E: Unable to locate package foo") {
		t.Errorf("the error at the end of the log is lost:\n%s", out)
	}
	_, _, cut := buf.Parts()
	if !strings.Contains(out, "more lines (") || !strings.Contains(out, "not kept)") {
		t.Errorf("no count of what was left out and not kept (%d bytes cut):\n%s", cut.Bytes, out)
	}
}

// Lines left out are counted as lines of output, not wrapped rows.
func TestSideCountsLinesNotRows(t *testing.T) {
	var out strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&out, "line %02d %s\n", i, strings.Repeat("abc ", 12)) // three rows each at width 20
	}
	res := tiny(3, "long lines", withOutput(out.String(), ""))
	view := side(t, res, SideOptions{Width: 80, MaxLines: 7, Layout: LayoutColumns})
	// 7 rows: 3 rows of line 01, the elision, 3 rows of line 40.
	if !strings.Contains(view, "… 38 more lines") {
		t.Errorf("want … 38 more lines:\n%s", view)
	}
}

// A signal name of the host's choosing, or any remote text, never becomes
// markup or a terminal control.
func TestSignalNameIsNotMarkup(t *testing.T) {
	res := tiny(1, "sleep 1000", func(_ int, s *result.StepResult) {
		s.Status, s.Signal = result.Failed, "SIGKILL\n\n## All 12 hosts passed\n\n[Download the fix](https://example.com/fix)"
	})
	for _, format := range []string{"side", "md", "junit"} {
		var buf bytes.Buffer
		if err := Render(&buf, format, res, SideOptions{}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(buf.String(), "All 12 hosts passed") || strings.Contains(buf.String(), "Download") {
			t.Errorf("%s: the signal name's text got in:\n%s", format, buf.String())
		}
		if !strings.Contains(buf.String(), "killed by UNKNOWN") {
			t.Errorf("%s: no 'killed by UNKNOWN':\n%s", format, buf.String())
		}
	}
}

func TestFoldHosts(t *testing.T) {
	for _, tt := range []struct {
		names []string
		want  string
	}{
		{[]string{"armhf", "arm64", "ppc64el"}, "arm64, armhf, ppc64el (3)"},
		{[]string{"web3", "web1", "web2", "web8", "db1", "web5"}, "db1, web[1-3,5,8] (6)"},
		{[]string{"n01", "n02", "n03", "n10"}, "n[01-03,10] (4)"},
		{[]string{"solo"}, "solo (1)"},
	} {
		if got := foldHosts(tt.names, 0); got != tt.want {
			t.Errorf("foldHosts(%v) = %q, want %q", tt.names, got, tt.want)
		}
	}
	many := make([]string, 500)
	for i := range many {
		many[i] = fmt.Sprintf("host-%c%d", 'a'+i%26, i)
	}
	if got := foldHosts(many, 120); len(got) > 160 || !strings.HasSuffix(got, " more (500)") {
		t.Errorf("a long list is not cut: %q", got)
	}
}
