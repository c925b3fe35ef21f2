package report

import (
	"fmt"
	"io"
	"strings"

	"everywhere/internal/result"
)

// Markdown writes the result as a GitHub-flavoured table (a column per
// host) followed by the details of every step that was not ok.
func Markdown(w io.Writer, res *result.Result) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# %s\n\nRun `%s` · %s · %s\n\n", mdEscape(res.Plan), res.RunID, formatDuration(durationMS(res.DurationMS)), summaryLine(res))
	b.WriteString("| step |")
	for _, h := range res.Hosts {
		fmt.Fprintf(b, " %s<br>%s |", mdEscape(h.Name), mdEscape(h.Arch))
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(res.Hosts)) + "\n")
	names := make([]string, len(res.Hosts))
	for i, h := range res.Hosts {
		names[i] = h.Name
	}
	row := func(label string, pick func(result.HostResult) *result.StepResult) {
		steps := make([]*result.StepResult, len(res.Hosts))
		for i, h := range res.Hosts {
			steps[i] = pick(h)
		}
		marks := divergent(steps, names)
		fmt.Fprintf(b, "| **%s** |", mdEscape(label))
		for i, s := range steps {
			if s == nil {
				b.WriteString(" |")
				continue
			}
			cell := statusIcon(s.Status) + " " + string(s.Status)
			if s.Status != result.Skipped {
				cell += " " + formatDuration(s.Duration())
			}
			if marks[i] {
				cell += " ≠"
			}
			if out := strings.TrimSpace(cleanText(s.Stdout)); out != "" {
				cell += "<br>`" + strings.ReplaceAll(mdCode(firstLines(out, 3)), "\n", "`<br>`") + "`"
			}
			fmt.Fprintf(b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	for i, name := range res.Steps {
		row(name, func(h result.HostResult) *result.StepResult { return stepAt(h.Steps, i) })
	}
	for i, name := range res.Cleanup {
		row("cleanup: "+name, func(h result.HostResult) *result.StepResult { return stepAt(h.Cleanup, i) })
	}
	if list := problems(res); len(list) > 0 {
		b.WriteString("\n## Problems\n\n")
		for _, p := range list {
			if p.step == "" {
				fmt.Fprintf(b, "- **%s**: %s\n", mdEscape(p.host), mdEscape(p.message))
				continue
			}
			fmt.Fprintf(b, "- **%s** / %s (`%s`): %s\n", mdEscape(p.host), mdEscape(p.step), mdCode(p.command), mdEscape(p.message))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("… %d more lines", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

// mdEscape keeps text from breaking the table or being read as markup.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "`", "'", "*", `\*`, "_", `\_`).Replace(s)
}

// mdCode escapes text for a code span inside a table cell, where only the
// pipe and the backtick need care.
func mdCode(s string) string {
	return strings.NewReplacer("|", `\|`, "`", "'").Replace(s)
}
