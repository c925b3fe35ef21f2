package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode"

	"everywhere/internal/result"
)

// hostile is text a host, an inventory or a saved result may carry, by
// class, each with a character that must not reach a terminal or a page.
var hostile = []struct{ class, s string }{
	{"ESC sequence", "a\x1b[2J\x1b]0;owned\x07b"},
	{"C0 controls", "a\x00\x08\x0b\x0cb"},
	{"DEL", "a\x7fb"},
	{"C1 controls", "a\u009b2J\u0085b"},
	{"bidi override", "a\u202Eevil\u202Cb"},
	{"bidi isolates", "a\u2066\u2067\u2068\u2069b"},
	{"bidi marks", "a\u200E\u200F\u061Cb"},
	{"zero width", "a\u200B\u2060\uFEFF\u00ADb"},
	{"line separator", "a\u2028\u2029b"},
}

// forbidden says whether r must never be written raw (ESC only in colour,
// which these tests do not use).
func forbidden(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == 0x2028 || r == 0x2029
}

// places put s where a run's text shows: output, command text, host
// names, error strings, signal names, step names, the plan name.
var places = []struct {
	name string
	put  func(res *result.Result, s string)
}{
	{"stdout", func(r *result.Result, s string) { r.Hosts[0].Steps[0].Stdout = s }},
	{"stderr", func(r *result.Result, s string) { r.Hosts[0].Steps[0].Stderr = s }},
	{"command", func(r *result.Result, s string) {
		for i := range r.Hosts {
			r.Hosts[i].Steps[0].Command = s
		}
	}},
	{"host name", func(r *result.Result, s string) { r.Hosts[0].Name = s }},
	{"address", func(r *result.Result, s string) { r.Hosts[0].Address = s }},
	{"arch", func(r *result.Result, s string) { r.Hosts[0].Arch = s }},
	{"connect error", func(r *result.Result, s string) {
		r.Hosts[0].Error, r.Hosts[0].Status = s, result.Error
		r.Hosts[0].Steps[0] = result.StepResult{Name: "step", Status: result.Skipped, Error: "host not reached"}
	}},
	{"step error", func(r *result.Result, s string) {
		r.Hosts[0].Steps[0].Status, r.Hosts[0].Steps[0].Error = result.Error, s
	}},
	{"signal", func(r *result.Result, s string) {
		r.Hosts[0].Steps[0].Status, r.Hosts[0].Steps[0].Signal = result.Failed, "SIGKILL"+s
	}},
	{"expectation detail", func(r *result.Result, s string) {
		r.Hosts[0].Steps[0].Status = result.Failed
		r.Hosts[0].Steps[0].Expectations = []result.Outcome{{Name: "contains " + s, Detail: s}}
	}},
	{"step name", func(r *result.Result, s string) {
		r.Steps[0] = s
		for i := range r.Hosts {
			r.Hosts[i].Steps[0].Name = s
		}
	}},
	{"plan name", func(r *result.Result, s string) { r.Plan = s }},
	{"run id", func(r *result.Result, s string) { r.RunID = s }},
}

func TestUntrustedTextIsNeutralisedEverywhere(t *testing.T) {
	for _, h := range hostile {
		for _, p := range places {
			res := tiny(3, "true", withOutput("ok\n", ""))
			p.put(res, h.s)
			views := map[string]string{}
			for _, format := range []string{"junit", "md"} {
				var buf bytes.Buffer
				if err := Render(&buf, format, res, SideOptions{}); err != nil {
					t.Fatal(err)
				}
				views[format] = buf.String()
			}
			views["side columns"] = side(t, res, SideOptions{Width: 120, Layout: LayoutColumns})
			views["side grouped"] = side(t, res, SideOptions{Width: 120, Layout: LayoutGroups})
			views["side colour"] = stripColour(side(t, res, SideOptions{Width: 120, Color: true}))
			for name, v := range views {
				if i := strings.IndexFunc(v, forbidden); i >= 0 {
					t.Errorf("%s in %s: %s writes %q raw:\n%s", h.class, p.name, name, v[i:i+4], v)
				}
			}
			checkGrid(t, h.class+" in "+p.name, views["side columns"], 120)
		}
	}
}

// stripColour drops the view's own SGR sequences.
func stripColour(s string) string {
	for _, c := range []string{ansiReset, ansiRed, ansiGreen, ansiYellow, ansiDim, ansiBold} {
		s = strings.ReplaceAll(s, c, "")
	}
	return s
}

func TestUntrustedTextInProgress(t *testing.T) {
	for _, h := range hostile {
		for _, tty := range []bool{false, true} {
			var buf bytes.Buffer
			p := NewProgress(&buf, tty, []string{"pi4" + h.s, "z15"}, 1)
			feed(p,
				result.Event{Type: result.Connecting, HostIndex: 0},
				result.Event{Type: result.StepStarted, HostIndex: 0, Step: "kernel" + h.s},
				result.Event{Type: result.StepDone, HostIndex: 0, Step: "kernel" + h.s, Status: result.Failed, Duration: time.Second, Detail: "exit" + h.s + "\n## status 1"},
				result.Event{Type: result.HostDone, HostIndex: 0, Status: result.Failed})
			out := buf.String()
			if tty { // the view's own cursor moves are fine; nothing else
				out = strings.NewReplacer("\x1b[2K", "", "\x1b[1A", "", "\x1b[2A", "", "\x1b[J", "").Replace(out)
			}
			if i := strings.IndexFunc(out, func(r rune) bool { return r != '\n' && forbidden(r) }); i >= 0 {
				t.Errorf("%s (tty %v): progress writes %q raw:\n%q", h.class, tty, out[i:min(i+4, len(out))], out)
			}
			if !tty && strings.Count(out, "\n") != 2 {
				t.Errorf("%s: a detail spilled over lines:\n%s", h.class, out)
			}
		}
	}
}

// Output can never leave its Markdown cell or become markup.
func TestMarkdownCellsHoldAnyOutput(t *testing.T) {
	nasty := "```\n| a | b |\n<script>alert(1)</script>\n[Download the fix](https://example.com)\n![img](https://example.com/x.png)\n**bold** _em_ ~~s~~ $x$ @team #1\n\\|`code`\n"
	res := tiny(3, "cat nasty | tee `x`", withOutput(nasty, nasty))
	res.Hosts[0].Steps[0].Status, res.Hosts[0].Steps[0].ExitCode = result.Failed, code(2)
	var buf bytes.Buffer
	if err := Markdown(&buf, res); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, bad := range []string{"<script", "](", "**bold", "```", "\n|---|---|---|---|\n| a"} {
		if strings.Contains(md, bad) {
			t.Errorf("Markdown holds %q:\n%s", bad, md)
		}
	}
	for i, l := range strings.Split(strings.TrimSpace(md), "\n") {
		if strings.HasPrefix(l, "|") && cellCount(l) != 4 {
			t.Errorf("row %d has %d cells, want 4: %s", i, cellCount(l), l)
		}
	}
	if !strings.Contains(md, "\\`\\`\\`") {
		t.Errorf("a ``` line of output is not shown as it is:\n%s", md)
	}
	if !strings.Contains(md, "→ exit status 2") || !strings.Contains(md, "<code>2&gt; ") {
		t.Errorf("reason or stderr missing from the failed cell:\n%s", md)
	}
	golden(t, "report-untrusted.md.golden", buf.Bytes())
}

// cellCount counts a GFM table row's cells: pipes not escaped by a backslash.
func cellCount(row string) int {
	n := 0
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	return n - 1
}
