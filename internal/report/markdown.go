package report

import (
	"fmt"
	"io"
	"strings"

	"everywhere/internal/compare"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

// mdMaxLines is the output lines shown per Markdown cell.
const mdMaxLines = DefaultMaxLines

// Markdown writes the result as a GitHub-flavoured table (a column per
// host) followed by the details of every step that was not ok. A cell
// holds the status, then for a step that is not ok its reason and the end
// of stderr, then the head and tail of stdout; remote text is escaped so it
// can never leave its cell or become markup.
func Markdown(w io.Writer, res *result.Result) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# %s\n\nRun <code>%s</code> · %s · %s\n\n", mdText(res.Plan), mdText(res.RunID), formatDuration(durationMS(res.DurationMS)), summaryLine(res))
	b.WriteString("| step |")
	for _, h := range res.Hosts {
		fmt.Fprintf(b, " %s<br>%s", mdText(h.Name), mdText(h.Arch))
		for _, note := range []string{factsNote(h), rerunNote(h)} {
			if note != "" {
				b.WriteString("<br>" + mdText(note))
			}
		}
		b.WriteString(" |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(res.Hosts)) + "\n")
	if unreached(res) {
		b.WriteString("| **connect** |")
		for _, h := range res.Hosts {
			if h.Error == "" {
				fmt.Fprintf(b, " ✔ %s |", formatDuration(durationMS(h.ConnectMS)))
				continue
			}
			fmt.Fprintf(b, " %s %s<br>%s |", statusIcon(h.Status), h.Status, mdText(h.Error))
		}
		b.WriteString("\n")
	}
	for _, rs := range compare.Run(res) {
		label := rs.Name
		if rs.Cleanup {
			label = result.CleanupLabel(label)
		}
		fmt.Fprintf(b, "| **%s** |", mdText(label))
		for i, h := range res.Hosts {
			s := compare.Pick(h, rs.Index, rs.Cleanup)
			if s == nil {
				b.WriteString(" |")
				continue
			}
			cell := cellHead(s).s
			if rs.Odd(i) {
				cell += " ≠"
			}
			for _, l := range cellBody(s, 0, mdMaxLines, nil) {
				if strings.HasPrefix(l.s, "→ ") {
					cell += "<br>" + mdText(l.s)
					continue
				}
				cell += "<br><code>" + mdText(l.s) + "</code>"
			}
			fmt.Fprintf(b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	if list := problems(res); len(list) > 0 {
		b.WriteString("\n## Problems\n\n")
		for _, p := range list {
			if p.step == "" {
				fmt.Fprintf(b, "- **%s**: %s\n", mdText(p.host), mdText(p.message))
				continue
			}
			fmt.Fprintf(b, "- **%s** / %s (<code>%s</code>): %s\n", mdText(p.host), mdText(p.step), mdText(p.command), mdText(p.message))
		}
	}
	mdMatrices(b, res)
	_, err := io.WriteString(w, b.String())
	return err
}

// mdText makes untrusted text one line of plain Markdown text, good in a
// table cell, a heading, a list item or between <code> tags: neutralised
// (see text.Line), HTML's & < > as entities and the characters that start
// markup inside a line backslash-escaped, so nothing in it is markup: no
// code span, link, image, emphasis, strike-through, math, mention,
// heading, HTML or cell break. (GitHub still links a bare URL, showing it as
// it is.)
func mdText(s string) string {
	s = text.Line(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r < 0x80 && strings.ContainsRune("\\`*_[]()!#|~$@", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MarkdownText is mdText for Markdown that other packages write (everywhere
// diff), so that one function decides what is markup.
func MarkdownText(s string) string { return mdText(s) }
