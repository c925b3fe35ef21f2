package report

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"everywhere/internal/result"
)

// SideOptions shape the side-by-side view.
type SideOptions struct {
	Width    int  // terminal columns; 0 means DefaultWidth
	Color    bool // ANSI colours
	MaxLines int  // output lines shown per cell; 0 means DefaultMaxLines
}

// Defaults for SideOptions' zero fields.
const (
	DefaultWidth    = 120
	DefaultMaxLines = 8
	minColumnWidth  = 18
)

const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiDim    = "\x1b[2m"
	ansiBold   = "\x1b[1m"
)

// text is a line of a cell with the colour it is drawn in.
type text struct {
	s     string
	color string
}

type sideRow struct {
	label []text
	cells [][]text // per host
}

// Side writes the result as a table: a column per host headed by its name
// and architecture, a row per step with status, duration and output. Hosts
// that do not fit the width go into further blocks below. A cell whose
// output differs in shape from most hosts' is marked ≠.
func Side(w io.Writer, res *result.Result, opts SideOptions) error {
	if opts.Width <= 0 {
		opts.Width = DefaultWidth
	}
	if opts.MaxLines <= 0 {
		opts.MaxLines = DefaultMaxLines
	}
	rows := sideRows(res, opts.MaxLines)
	labelWidth := 8
	for _, r := range rows {
		for _, l := range r.label {
			labelWidth = max(labelWidth, utf8.RuneCountInString(l.s))
		}
	}
	labelWidth = min(labelWidth, 28, opts.Width/4)
	perBlock := max(1, (opts.Width-labelWidth)/(minColumnWidth+3))
	b := &strings.Builder{}
	paint := func(t text) string {
		if !opts.Color || t.color == "" {
			return t.s
		}
		return t.color + t.s + ansiReset
	}
	fmt.Fprintln(b, paint(text{fmt.Sprintf("%s · run %s · %d hosts · %d steps · %s", res.Plan, res.RunID, len(res.Hosts), len(res.Steps), formatDuration(durationMS(res.DurationMS))), ansiBold}))
	for start := 0; start < len(res.Hosts); start += perBlock {
		end := min(start+perBlock, len(res.Hosts))
		n := end - start
		colWidth := max(8, (opts.Width-labelWidth-3*n)/n)
		line := func(label text, cells []text) {
			b.WriteString(paint(label) + strings.Repeat(" ", labelWidth-utf8.RuneCountInString(label.s)))
			for _, c := range cells {
				b.WriteString(" │ " + paint(c) + strings.Repeat(" ", colWidth-utf8.RuneCountInString(c.s)))
			}
			trimLine(b)
		}
		rule := func() {
			b.WriteString(strings.Repeat("─", labelWidth))
			for i := 0; i < n; i++ {
				b.WriteString("─┼─" + strings.Repeat("─", colWidth))
			}
			b.WriteString("\n")
		}
		fmt.Fprintln(b)
		header := make([][]text, n)
		for i, h := range res.Hosts[start:end] {
			header[i] = []text{{truncate(h.Name+" ("+h.Arch+")", colWidth), ansiBold}, {truncate(h.Address, colWidth), ansiDim}}
		}
		drawRow(line, sideRow{label: []text{{"", ""}, {"", ""}}, cells: header})
		for _, r := range rows {
			rule()
			drawRow(line, sideRow{label: wrapTexts(r.label, labelWidth), cells: wrapCells(r.cells[start:end], colWidth, opts.MaxLines)})
		}
	}
	fmt.Fprintln(b)
	for _, p := range problems(res) {
		where := p.host
		if p.step != "" {
			where += " · " + p.step
		}
		for _, l := range wrapTexts([]text{{statusIcon(result.Failed) + " " + where + ": " + cleanText(p.message), ansiRed}}, opts.Width) {
			fmt.Fprintln(b, paint(l))
		}
	}
	fmt.Fprintln(b, paint(text{summaryLine(res), ansiBold}))
	_, err := io.WriteString(w, b.String())
	return err
}

// trimLine ends the line being built without its trailing padding.
func trimLine(b *strings.Builder) {
	s := strings.TrimRight(b.String(), " ")
	b.Reset()
	b.WriteString(s + "\n")
}

func drawRow(line func(text, []text), r sideRow) {
	height := len(r.label)
	for _, c := range r.cells {
		height = max(height, len(c))
	}
	for y := 0; y < height; y++ {
		label := text{}
		if y < len(r.label) {
			label = r.label[y]
		}
		cells := make([]text, len(r.cells))
		for i, c := range r.cells {
			if y < len(c) {
				cells[i] = c[y]
			}
		}
		line(label, cells)
	}
}

func sideRows(res *result.Result, maxLines int) []sideRow {
	var rows []sideRow
	names := make([]string, len(res.Hosts))
	anyUnreached := false
	for i, h := range res.Hosts {
		names[i] = h.Name
		anyUnreached = anyUnreached || h.Error != ""
	}
	if anyUnreached {
		r := sideRow{label: []text{{"connect", ""}}}
		for _, h := range res.Hosts {
			if h.Error != "" {
				r.cells = append(r.cells, []text{{statusIcon(h.Status) + " " + string(h.Status), ansiRed}, {h.Error, ansiRed}})
			} else {
				r.cells = append(r.cells, []text{{"✔ " + formatDuration(durationMS(h.ConnectMS)), ansiGreen}})
			}
		}
		rows = append(rows, r)
	}
	add := func(name string, pick func(result.HostResult) *result.StepResult) {
		steps := make([]*result.StepResult, len(res.Hosts))
		command := ""
		for i, h := range res.Hosts {
			if steps[i] = pick(h); steps[i] != nil && command == "" {
				command = steps[i].Command
			}
		}
		r := sideRow{label: []text{{name, ansiBold}}}
		if command != "" && command != name {
			r.label = append(r.label, text{command, ansiDim})
		}
		marks := divergent(steps, names)
		for i, s := range steps {
			r.cells = append(r.cells, cellText(s, marks[i]))
		}
		rows = append(rows, r)
	}
	for i, name := range res.Steps {
		add(name, func(h result.HostResult) *result.StepResult { return stepAt(h.Steps, i) })
	}
	for i, name := range res.Cleanup {
		add("cleanup: "+name, func(h result.HostResult) *result.StepResult { return stepAt(h.Cleanup, i) })
	}
	return rows
}

func stepAt(steps []result.StepResult, i int) *result.StepResult {
	if i < len(steps) {
		return &steps[i]
	}
	return nil
}

var statusColor = map[result.Status]string{result.OK: ansiGreen, result.Failed: ansiRed, result.Timeout: ansiRed, result.Error: ansiRed, result.Skipped: ansiDim}

func cellText(s *result.StepResult, divergent bool) []text {
	if s == nil {
		return []text{{"-", ansiDim}}
	}
	head := statusIcon(s.Status) + " " + string(s.Status)
	if s.Status != result.Skipped {
		head += " " + formatDuration(s.Duration())
	}
	lines := []text{{head, statusColor[s.Status]}}
	if divergent {
		lines = append(lines, text{"≠ differs", ansiYellow})
	}
	add := func(out, prefix string, truncated bool, total int64) {
		out = strings.TrimRight(cleanText(out), "\n")
		if out != "" {
			for _, l := range strings.Split(out, "\n") {
				lines = append(lines, text{prefix + l, ""})
			}
		}
		if truncated {
			lines = append(lines, text{fmt.Sprintf("[%s kept of %d bytes]", prefix+"output", total), ansiYellow})
		}
	}
	add(s.Stdout, "", s.StdoutTruncated, s.StdoutBytes)
	add(s.Stderr, "2> ", s.StderrTruncated, s.StderrBytes)
	if summary := s.Summary(); summary != "" {
		lines = append(lines, text{"→ " + cleanText(summary), statusColor[s.Status]})
	}
	return lines
}

// wrapCells wraps each cell's lines to width, keeping its first line (the
// status) and at most maxLines after it.
func wrapCells(cells [][]text, width, maxLines int) [][]text {
	out := make([][]text, len(cells))
	for i, c := range cells {
		wrapped := wrapTexts(c, width)
		if len(wrapped) > maxLines+1 {
			hidden := len(wrapped) - maxLines
			wrapped = append(wrapped[:maxLines], text{fmt.Sprintf("… %d more lines", hidden), ansiDim})
		}
		out[i] = wrapped
	}
	return out
}

// wrapTexts breaks lines to width, at a space where there is one in the
// second half of the line, else mid-word.
func wrapTexts(lines []text, width int) []text {
	var out []text
	for _, l := range lines {
		runes := []rune(l.s)
		for len(runes) > width {
			cut := width
			for i := width; i > width/2; i-- {
				if runes[i] == ' ' {
					cut = i
					break
				}
			}
			out = append(out, text{strings.TrimRight(string(runes[:cut]), " "), l.color})
			runes = []rune(strings.TrimLeft(string(runes[cut:]), " "))
		}
		out = append(out, text{string(runes), l.color})
	}
	return out
}

func truncate(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	return string([]rune(s)[:width-1]) + "…"
}
