package diff

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"everywhere/internal/report"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

// Formats lists the names Render accepts.
var Formats = []string{"side", "md", "json", "html"}

// Render writes d in the named format: side for a terminal (as `everywhere
// report` names its own), md for a pull request, json for scripts, html for
// a browser. Remote text is neutralised in every format but json, which
// carries it as the hosts sent it, masked.
func Render(w io.Writer, format string, d *Diff) error {
	switch format {
	case "side":
		return Text(w, d)
	case "md":
		return Markdown(w, d)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(d)
	case "html":
		return HTML(w, d)
	}
	return fmt.Errorf("unknown format %q (use %s)", format, strings.Join(Formats, ", "))
}

// entry is one change as every renderer shows it, its text clean: where,
// a label and what.
type entry struct {
	Kind  Kind
	Step  string
	Label string // REGRESSION, fixed, status, output, slower, faster
	What  string // one line
	Hunks []Hunk
}

var labels = map[Kind]string{Regression: "REGRESSION", Fix: "fixed", Status: "status", Output: "output", Slower: "slower", Faster: "faster"}

func entryOf(c Change) entry {
	e := entry{Kind: c.Kind, Step: text.Line(c.Step), Label: labels[c.Kind]}
	for _, h := range c.Hunks {
		clean := Hunk{OldLine: h.OldLine, NewLine: h.NewLine, Lines: make([]Line, len(h.Lines))}
		for i, l := range h.Lines {
			clean.Lines[i] = Line{l.Op, text.Line(l.Text)}
		}
		e.Hunks = append(e.Hunks, clean)
	}
	switch c.Kind {
	case Regression, Fix, Status:
		e.What = fmt.Sprintf("%s → %s", orNone(c.OldStatus), orNone(c.NewStatus))
		if reason := c.NewReason; reason != "" && c.Kind != Fix {
			e.What += ": " + reason
		} else if c.Kind == Fix && c.OldReason != "" {
			e.What += " (was: " + c.OldReason + ")"
		}
	case Output:
		e.What = c.Stream + " changed"
	case Slower, Faster:
		oldD, newD := time.Duration(c.OldMS)*time.Millisecond, time.Duration(c.NewMS)*time.Millisecond
		factor := float64(newD) / float64(max(oldD, time.Millisecond))
		if c.Kind == Faster {
			factor = float64(oldD) / float64(max(newD, time.Millisecond))
		}
		e.What = fmt.Sprintf("%s → %s (%.1fx %s)", seconds(oldD), seconds(newD), factor, c.Kind)
	}
	e.What = text.Line(e.What)
	return e
}

func orNone(s result.Status) string {
	if s == "" {
		return "none"
	}
	return string(s)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// heading names a pair of hosts: its name, or with --match arch the arch
// and both names.
func heading(d *Diff, h Host) string {
	if d.Match == "arch" {
		if h.Old == h.New {
			return text.Line(h.Key + ": " + h.New)
		}
		return text.Line(h.Key + ": " + h.Old + " → " + h.New)
	}
	return text.Line(h.New + " (" + h.Arch + ")")
}

func title(d *Diff) string {
	side := func(r Run) string {
		s := "run " + r.RunID
		if !r.Started.IsZero() {
			s += " (" + r.Started.UTC().Format(time.RFC3339) + ")"
		}
		return s
	}
	plan := d.New.Plan
	if d.Old.Plan != d.New.Plan {
		plan = d.Old.Plan + " → " + d.New.Plan
	}
	match := d.Match
	if d.MatchWhy != "" {
		match += " (" + d.MatchWhy + ")"
	}
	return text.Line(fmt.Sprintf("everywhere diff · %s · %s → %s · hosts matched by %s", plan, side(d.Old), side(d.New), match))
}

// sets are the run-level changes, each a label and its names.
func sets(d *Diff) [][2]string {
	var out [][2]string
	for _, s := range []struct {
		label string
		names []string
	}{{"steps added", d.StepsAdded}, {"steps gone", d.StepsGone}, {d.hostWord() + " added", d.HostsAdded}, {d.hostWord() + " gone", d.HostsGone}} {
		if len(s.names) > 0 {
			out = append(out, [2]string{s.label, text.Line(strings.Join(s.names, ", "))})
		}
	}
	return out
}

func (d *Diff) hostWord() string {
	if d.Match == "arch" {
		return "architectures"
	}
	return "hosts"
}

// Summary is the last line: how many changes of each kind, and the exit code.
func (d *Diff) Summary() string {
	var parts []string
	for _, k := range []Kind{Regression, Fix, Status, Output, Slower, Faster} {
		if n := d.Counts[k]; n > 0 {
			word := string(k)
			if k == Regression || k == Fix {
				word = map[Kind]string{Regression: "regression", Fix: "fix"}[k]
				if n > 1 {
					word = map[Kind]string{Regression: "regressions", Fix: "fixes"}[k]
				}
			}
			parts = append(parts, fmt.Sprintf("%d %s", n, word))
		}
	}
	if n := d.underneathCount(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d changed underneath", n))
	}
	if len(parts) == 0 && len(sets(d)) == 0 {
		parts = append(parts, "no change")
	}
	if len(parts) == 0 {
		parts = append(parts, "no change in the hosts both runs have")
	}
	return fmt.Sprintf("%s · exit %d", strings.Join(parts, ", "), d.ExitCode())
}

// Text writes the diff for a terminal: the run-level changes, then each
// host's changes, output as diff -u hunks.
func Text(w io.Writer, d *Diff) error {
	var b strings.Builder
	b.WriteString(title(d) + "\n")
	for _, s := range sets(d) {
		fmt.Fprintf(&b, "%s: %s\n", s[0], s[1])
	}
	if u := d.underneath(); len(u) > 0 {
		b.WriteString("\nunderneath, by architecture:\n")
		for _, g := range u {
			b.WriteString("  " + g.Arches + "\n")
			for _, l := range g.Lines {
				b.WriteString("    " + l + "\n")
			}
		}
	}
	for _, h := range d.Hosts {
		facts := d.hostFacts(h)
		if len(h.Changes) == 0 && !facts {
			continue
		}
		b.WriteString("\n" + heading(d, h) + "\n")
		if facts {
			fmt.Fprintf(&b, "  %-10s %s\n", "underneath", factLine(h.Facts))
		}
		for _, c := range h.Changes {
			e := entryOf(c)
			fmt.Fprintf(&b, "  %-10s %s: %s\n", e.Label, e.Step, e.What)
			for _, hunk := range e.Hunks {
				fmt.Fprintf(&b, "      %s\n", hunk.Header())
				for _, l := range hunk.Lines {
					b.WriteString("      " + l.Op + " " + l.Text + "\n")
				}
			}
		}
	}
	b.WriteString("\n" + d.Summary() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Markdown writes the diff for a pull request: a list per host, its text
// escaped (report.MarkdownText), output hunks in a fenced diff block that
// no line of output can close (see fenceFor), so none becomes markup.
func Markdown(w io.Writer, d *Diff) error {
	md := report.MarkdownText
	var b strings.Builder
	b.WriteString("# " + md(title(d)) + "\n\n")
	for _, s := range sets(d) {
		fmt.Fprintf(&b, "- **%s**: %s\n", md(s[0]), md(s[1]))
	}
	if u := d.underneath(); len(u) > 0 {
		b.WriteString("\n## Underneath, by architecture\n\n")
		for _, g := range u {
			fmt.Fprintf(&b, "- **%s**\n", md(g.Arches))
			for _, l := range g.Lines {
				fmt.Fprintf(&b, "  - %s\n", md(l))
			}
		}
	}
	for _, h := range d.Hosts {
		facts := d.hostFacts(h)
		if len(h.Changes) == 0 && !facts {
			continue
		}
		b.WriteString("\n## " + md(heading(d, h)) + "\n\n")
		if facts {
			fmt.Fprintf(&b, "- **underneath**: %s\n", md(factLine(h.Facts)))
		}
		for _, c := range h.Changes {
			e := entryOf(c)
			fmt.Fprintf(&b, "- **%s** %s: %s\n", md(e.Label), md(e.Step), md(e.What))
			if len(e.Hunks) == 0 {
				continue
			}
			var body strings.Builder
			for _, hunk := range e.Hunks {
				fmt.Fprintf(&body, "%s\n", hunk.Header())
				for _, l := range hunk.Lines {
					body.WriteString(l.Op + " " + l.Text + "\n")
				}
			}
			fence := fenceFor(body.String())
			b.WriteString("\n  " + fence + "diff\n")
			for _, l := range strings.SplitAfter(strings.TrimSuffix(body.String(), "\n"), "\n") {
				b.WriteString("  " + l)
			}
			b.WriteString("\n  " + fence + "\n\n")
		}
	}
	b.WriteString("\n" + md(d.Summary()) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// fenceFor is a code fence longer than any run of backticks in body: in
// CommonMark only a fence at least as long closes it.
func fenceFor(body string) string {
	longest, run := 0, 0
	for i := 0; i < len(body); i++ {
		if body[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

//go:embed diff.tmpl
var htmlSource string

var htmlPage = template.Must(template.New("diff").Parse(htmlSource))

type htmlHost struct {
	Heading    string
	Underneath string // the host's own fact changes, where its arch has other hosts
	Entries    []entry
}

// HTML writes the diff as one self-contained page, escaped by html/template
// and under a policy that runs no script and fetches nothing.
func HTML(w io.Writer, d *Diff) error {
	v := struct {
		Title, Summary string
		Regression     bool
		Sets           [][2]string
		Underneath     []factGroup
		Hosts          []htmlHost
	}{Title: title(d), Summary: d.Summary(), Regression: d.Regressions() > 0, Sets: sets(d), Underneath: d.underneath()}
	for _, h := range d.Hosts {
		facts := d.hostFacts(h)
		if len(h.Changes) == 0 && !facts {
			continue
		}
		hh := htmlHost{Heading: heading(d, h)}
		if facts {
			hh.Underneath = factLine(h.Facts)
		}
		for _, c := range h.Changes {
			hh.Entries = append(hh.Entries, entryOf(c))
		}
		v.Hosts = append(v.Hosts, hh)
	}
	return htmlPage.Execute(w, v)
}
