package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"everywhere/internal/compare"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

// SideOptions shape the side-by-side view.
type SideOptions struct {
	Width    int    // terminal columns; 0 means DefaultWidth
	Color    bool   // ANSI colours
	MaxLines int    // output lines shown per cell; 0 means DefaultMaxLines
	Layout   Layout // panes, columns or groups; LayoutAuto chooses by width
}

// Layout is how the side view lays out hosts and steps.
type Layout int

// Layouts. LayoutAuto chooses panes for 3 to 9 hosts when three panes of
// minPaneWidth fit across, else columns when the hosts fit side by side in
// one band, else groups; it says which, and why, once under the title.
const (
	LayoutAuto    Layout = iota
	LayoutGroups         // a block per distinct answer of each step, headed by its hosts
	LayoutColumns        // a column per host, in bands of columns
	LayoutPanes          // a pane per host, its steps and outputs, three across
)

// LayoutNames are the names of --layout, in the order of Layout.
var LayoutNames = []string{"auto", "groups", "columns", "panes"}

// ParseLayout reads a layout's name.
func ParseLayout(name string) (Layout, error) {
	for i, n := range LayoutNames {
		if n == name {
			return Layout(i), nil
		}
	}
	if name == "" {
		return LayoutAuto, nil
	}
	return 0, fmt.Errorf("unknown layout %q (use auto, panes, columns or groups)", name)
}

func (l Layout) String() string { return LayoutNames[l] }

// Defaults for SideOptions' zero fields.
const (
	DefaultWidth    = 120
	DefaultMaxLines = 8
	minColumnWidth  = 18
	minWidth        = 40 // narrower is drawn as if this wide
)

const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiDim    = "\x1b[2m"
	ansiBold   = "\x1b[1m"
)

// sheet builds the view line by line, every line at most width cells.
type sheet struct {
	b     *bufio.Writer
	color bool
	width int
}

func (sh *sheet) paint(l line) string {
	if !sh.color || l.color == "" || l.s == "" {
		return l.s
	}
	return l.color + l.s + ansiReset
}

// text writes clean text wrapped to the width, each row indented.
func (sh *sheet) text(s, color string, indent, hang int) {
	first := true
	for _, l := range text.Lines(s) {
		for _, r := range text.Wrap(l, sh.width-max(indent, hang)) {
			pad := hang
			if first {
				pad = indent
			}
			first = false
			sh.b.WriteString(strings.Repeat(" ", pad) + sh.paint(line{r, color}) + "\n")
		}
	}
}

// Side writes the result as a table: a column per host headed by its name
// and architecture, a row per step with status, duration and output. Hosts
// that do not fit the width go into further bands below, unless they are
// grouped: then each step is a block per distinct outcome headed by the
// hosts that gave it (see Groups). A cell whose output differs in shape
// from most hosts' is marked ≠. Every remote string is neutralised and
// every line fits the width in display cells.
func Side(w io.Writer, res *result.Result, opts SideOptions) error {
	if opts.Width <= 0 {
		opts.Width = DefaultWidth
	}
	opts.Width = max(opts.Width, minWidth)
	if opts.MaxLines <= 0 {
		opts.MaxLines = DefaultMaxLines
	}
	sh := &sheet{b: bufio.NewWriterSize(w, 64<<10), color: opts.Color, width: opts.Width}
	title := fmt.Sprintf("%s · run %s · %s · %s · %s", text.Line(res.Plan), text.Line(res.RunID), text.Count(len(res.Hosts), "host", "hosts"), text.Count(len(res.Steps), "step", "steps"), formatDuration(durationMS(res.DurationMS)))
	sh.text(title, ansiBold, 0, 2)
	labels := stepLabels(res, opts.MaxLines)
	labelWidth := 8
	for _, l := range labels {
		for _, r := range l {
			labelWidth = max(labelWidth, text.Width(r.s))
		}
	}
	labelWidth = min(labelWidth, 28, opts.Width/4)
	perBand := max(1, (opts.Width-labelWidth)/(minColumnWidth+3))
	layout, why := chooseLayout(len(res.Hosts), opts, perBand)
	if why != "" {
		sh.text(why, ansiDim, 0, 2)
	}
	steps := compare.Run(res)
	switch layout {
	case LayoutGroups:
		sideGrouped(sh, res, opts, steps)
	case LayoutPanes:
		sidePanes(sh, res, opts, steps)
	default:
		labels = stepLabels(res, opts.MaxLines, labelWidth)
		sideColumns(sh, res, opts, labels, labelWidth, perBand, steps)
	}
	if layout != LayoutGroups {
		sh.b.WriteString("\n")
		for _, p := range problems(res) {
			where := p.host
			if p.step != "" {
				where += " · " + p.step
			}
			icon, colour := statusIcon(result.Failed), ansiRed
			if p.status == result.Flaky { // passed in the end: not in red
				icon, colour = statusIcon(result.Flaky), ansiYellow
			}
			sh.text(icon+" "+text.Line(where)+": "+text.Line(p.message), colour, 0, 2)
		}
	}
	sideMatrices(sh, res)
	sh.text(summaryLine(res), ansiBold, 0, 0)
	return sh.b.Flush()
}

// stepLabels are the label column's rows of each step (connect first when
// a host was not reached): its name and its command, wrapped to width
// when one is given.
func stepLabels(res *result.Result, maxLines int, width ...int) [][]line {
	wrap := func(s string, prefix string) []outRow {
		var rows []outRow
		for i, l := range text.Lines(text.Clean(s)) {
			if len(width) == 0 {
				rows = append(rows, outRow{s: prefix + l, line: i})
				continue
			}
			for _, r := range text.Wrap(prefix+l, width[0]) {
				rows = append(rows, outRow{s: r, line: i})
			}
			prefix = ""
		}
		return rows
	}
	var labels [][]line
	if unreached(res) {
		labels = append(labels, []line{{"connect", ansiBold}})
	}
	add := func(name string, pick func(result.HostResult) *result.StepResult) {
		var l []line
		for _, r := range wrap(name, "") {
			l = append(l, line{r.s, ansiBold})
		}
		command := ""
		for _, h := range res.Hosts {
			if s := pick(h); s != nil && s.Command != "" {
				command = s.Command
				break
			}
		}
		if command != "" && command != name {
			st := stream{rows: wrap(strings.TrimRight(command, "\n"), "")}
			if len(width) > 0 {
				st.width = width[0]
			}
			for _, c := range st.show(maxLines) {
				l = append(l, line{c.s, ansiDim})
			}
		}
		labels = append(labels, l)
	}
	for i, name := range res.Steps {
		add(name, func(h result.HostResult) *result.StepResult { return stepAt(h.Steps, i) })
	}
	for i, name := range res.Cleanup {
		add(result.CleanupLabel(name), func(h result.HostResult) *result.StepResult { return stepAt(h.Cleanup, i) })
	}
	return labels
}

func unreached(res *result.Result) bool {
	for _, h := range res.Hosts {
		if h.Error != "" {
			return true
		}
	}
	return false
}

// chooseLayout is the layout opts ask for and, when it was chosen for
// them, why.
func chooseLayout(hosts int, opts SideOptions, perBand int) (Layout, string) {
	if opts.Layout != LayoutAuto {
		return opts.Layout, ""
	}
	panesWidth := 3*minPaneWidth + 2*text.Width(paneGap)
	switch {
	case hosts >= 3 && hosts <= maxAutoPanes && opts.Width >= panesWidth:
		return LayoutPanes, fmt.Sprintf("layout: panes, as %d hosts fit three across in %d columns (--layout columns or groups)", hosts, opts.Width)
	case hosts <= perBand && hosts >= 3 && hosts <= maxAutoPanes:
		return LayoutColumns, fmt.Sprintf("layout: columns, as panes need %d columns, not %d (--layout panes or groups)", panesWidth, opts.Width)
	case hosts <= perBand:
		return LayoutColumns, ""
	}
	return LayoutGroups, fmt.Sprintf("layout: groups, as %d hosts do not fit side by side in %d columns (--layout columns or panes)", hosts, opts.Width)
}

// sideColumns draws the hosts side by side, perBand columns at a time.
func sideColumns(sh *sheet, res *result.Result, opts SideOptions, labels [][]line, labelWidth, perBand int, steps []compare.RunStep) {
	type stepRow struct {
		steps []*result.StepResult
		cmp   *compare.Step
	}
	rows := make([]stepRow, len(steps))
	for ri, rs := range steps {
		rows[ri] = stepRow{steps: make([]*result.StepResult, len(res.Hosts)), cmp: rs.Step}
		for i, h := range res.Hosts {
			rows[ri].steps[i] = compare.Pick(h, rs.Index, rs.Cleanup)
		}
	}
	connect := unreached(res)
	for start := 0; start < len(res.Hosts); start += perBand {
		end := min(start+perBand, len(res.Hosts))
		n := end - start
		colWidth := max(4, (opts.Width-labelWidth-3*n)/n)
		g := &grid{sh: sh, labelWidth: labelWidth, colWidth: colWidth}
		sh.b.WriteString("\n")
		header := make([][]line, n)
		for i, h := range res.Hosts[start:end] {
			header[i] = []line{{text.Truncate(text.Line(h.Name+" ("+h.Arch+")"), colWidth), ansiBold}, {text.Truncate(text.Line(h.Address), colWidth), ansiDim}}
			if note := factsNote(h); note != "" {
				header[i] = append(header[i], line{text.Truncate(note, colWidth), ansiDim})
			}
			if note := rerunNote(h); note != "" {
				header[i] = append(header[i], line{text.Truncate(note, colWidth), ansiYellow})
			}
		}
		g.row(nil, header)
		li := 0
		if connect {
			cells := make([][]line, n)
			for i, h := range res.Hosts[start:end] {
				if h.Error == "" {
					cells[i] = []line{{"✔ " + formatDuration(durationMS(h.ConnectMS)), ansiGreen}}
					continue
				}
				cells[i] = []line{{statusIcon(h.Status) + " " + string(h.Status), ansiRed}}
				st := layoutStream(h.Error, false, 0, "", colWidth)
				for _, l := range st.show(opts.MaxLines) {
					cells[i] = append(cells[i], line{l.s, ansiRed})
				}
			}
			g.rule(n)
			g.row(labels[0], cells)
			li = 1
		}
		for ri, r := range rows {
			cells := make([][]line, n)
			for i := start; i < end; i++ {
				s := r.steps[i]
				if s == nil {
					cells[i-start] = []line{{"-", ansiDim}}
					continue
				}
				c := []line{cellHead(s)}
				if r.cmp.Odd(i) {
					c = append(c, line{"≠ differs", ansiYellow})
				}
				cells[i-start] = append(c, cellBody(s, colWidth, opts.MaxLines, nil)...)
			}
			g.rule(n)
			g.row(labels[li+ri], cells)
		}
	}
}

// grid draws rows of a label and cells, the separators of every line in
// the same display column.
type grid struct {
	sh                   *sheet
	labelWidth, colWidth int
	ruleText             []string // the rule for n columns, at [0], len n
}

func (g *grid) rule(n int) {
	if len(g.ruleText) != n {
		var b strings.Builder
		b.WriteString(strings.Repeat("─", g.labelWidth))
		for i := 0; i < n; i++ {
			b.WriteString("─┼─" + strings.Repeat("─", g.colWidth))
		}
		g.ruleText = append(g.ruleText[:0], b.String()+"\n")
		for len(g.ruleText) < n {
			g.ruleText = append(g.ruleText, "")
		}
	}
	g.sh.b.WriteString(g.ruleText[0])
}

func (g grid) row(label []line, cells [][]line) {
	height := len(label)
	for _, c := range cells {
		height = max(height, len(c))
	}
	b := g.sh.b
	for y := 0; y < height; y++ {
		pending := 0 // spaces owed: written only before something visible
		put := func(l line, width int) {
			if text.Width(l.s) > width { // never: rows are wrapped to fit; but the grid must hold
				l.s = text.Truncate(l.s, width)
			}
			if l.s != "" {
				b.WriteString(strings.Repeat(" ", pending))
				b.WriteString(g.sh.paint(l))
				pending = 0
			}
			pending += width - text.Width(l.s)
		}
		if y < len(label) {
			put(label[y], g.labelWidth)
		} else {
			pending = g.labelWidth
		}
		for _, c := range cells {
			b.WriteString(strings.Repeat(" ", pending) + " │")
			pending = 1
			if y < len(c) {
				put(c[y], g.colWidth)
			} else {
				pending += g.colWidth
			}
		}
		b.WriteString("\n")
	}
}

// sideGrouped draws each step as a block per distinct outcome, the largest
// first, headed by the hosts that gave it; the others are marked ≠.
func sideGrouped(sh *sheet, res *result.Result, opts SideOptions, steps []compare.RunStep) {
	hostList := hostLister(res, 3*opts.Width)
	if unreached(res) {
		sh.b.WriteString("\n")
		sh.text("connect", ansiBold, 0, 0)
		reached, errors, byError := connectOutcomes(res)
		if len(reached) > 0 {
			sh.text("✔ reached · "+hostList(reached), ansiGreen, 2, 4)
		}
		for _, e := range errors {
			sh.text("! unreachable · "+hostList(byError[e]), ansiRed, 2, 4)
			sh.text(text.Clean(e), ansiRed, 4, 4)
		}
	}
	names := hostNamer(res)
	for _, so := range groupStepsOf(res, steps) {
		sh.b.WriteString("\n")
		name := so.name
		if so.cleanup {
			name = result.CleanupLabel(name)
		}
		sh.text(text.Clean(name), ansiBold, 0, 2)
		if so.command != "" && so.command != so.name {
			st := stream{width: opts.Width - 4}
			for i, l := range text.Lines(text.Clean(strings.TrimRight(so.command, "\n"))) {
				for _, r := range text.Wrap(l, opts.Width-4) {
					st.rows = append(st.rows, outRow{s: r, line: i})
				}
			}
			for j, l := range st.show(opts.MaxLines) {
				prefix := "  $ "
				if j > 0 {
					prefix = "    "
				}
				sh.b.WriteString(prefix + sh.paint(line{l.s, ansiDim}) + "\n")
			}
		}
		for _, o := range so.outcomes {
			mark := ""
			if o.odd {
				mark = "≠ "
			}
			var head line
			if o.step == nil {
				head = line{"- no such step", ansiDim}
			} else {
				head = cellHead(o.step)
				if o.step.Status != result.Skipped && o.maxMS != o.minMS {
					head.s = statusIcon(o.status) + " " + string(o.status) + " " + formatDuration(durationMS(o.minMS)) + "–" + formatDuration(durationMS(o.maxMS))
				}
			}
			if mark != "" {
				sh.b.WriteString("  " + sh.paint(line{mark, ansiYellow}))
				sh.text(head.s+" · "+hostList(o.hosts), head.color, 0, 6)
			} else {
				sh.text(head.s+" · "+hostList(o.hosts), head.color, 2, 6)
			}
			if o.step == nil {
				continue
			}
			for _, l := range cellBody(o.step, opts.Width-6, opts.MaxLines, o.expanded(names, opts.Width-6)) {
				sh.b.WriteString("      " + sh.paint(l) + "\n")
			}
		}
	}
	sh.b.WriteString("\n")
}

func stepAt(steps []result.StepResult, i int) *result.StepResult {
	if i < len(steps) {
		return &steps[i]
	}
	return nil
}

var statusColor = map[result.Status]string{result.OK: ansiGreen, result.Flaky: ansiYellow, result.Failed: ansiRed, result.Timeout: ansiRed, result.Error: ansiRed, result.Skipped: ansiDim}
