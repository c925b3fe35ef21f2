package report

import (
	"strings"

	"everywhere/internal/compare"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

const (
	// minPaneWidth is the narrowest pane the automatic layout draws: a
	// `uname -a` line in two rows.
	minPaneWidth = 40
	// maxAutoPanes is the most hosts the automatic layout draws as panes:
	// three rows of three.
	maxAutoPanes = 9
	paneGap      = " │ "
)

// paneTitle is a pane's title bar in each status's colours, as the live
// tiles draw it: the status is seen from across the room.
var paneTitle = map[result.Status]string{
	result.OK:      "\x1b[1;30;42m",
	result.Flaky:   "\x1b[1;30;103m", // bright yellow: passed, on a retry
	result.Failed:  "\x1b[1;97;41m",
	result.Timeout: "\x1b[1;30;43m",
	result.Error:   "\x1b[1;97;45m",
	result.Skipped: "\x1b[1;30;47m",
}

// sidePanes draws every host as a pane, three across (fewer when the width
// does not hold three of minPaneWidth): a title bar with its name, arch and
// status, then each step's status, ≠ where the host differs from the
// step's most common answer (steps), its command and its output.
func sidePanes(sh *sheet, res *result.Result, opts SideOptions, steps []compare.RunStep) {
	gap := text.Width(paneGap)
	cols := min(3, max(len(res.Hosts), 1), max(1, (opts.Width+gap)/(minPaneWidth+gap)))
	width := (opts.Width - (cols-1)*gap) / cols
	for start := 0; start < len(res.Hosts); start += cols {
		end := min(start+cols, len(res.Hosts))
		panes := make([][]line, 0, cols)
		height := 0
		for i := start; i < end; i++ {
			p := pane(res, i, width, opts.MaxLines, steps)
			panes = append(panes, p)
			height = max(height, len(p))
		}
		sh.b.WriteString("\n")
		for y := range height {
			pending := 0
			for c, p := range panes {
				if c > 0 {
					sh.b.WriteString(strings.Repeat(" ", pending) + paneGap)
					pending = 0
				}
				if y >= len(p) {
					pending += width
					continue
				}
				l := p[y]
				if text.Width(l.s) > width { // never: rows are wrapped to fit
					l.s = text.Truncate(l.s, width)
				}
				if l.s != "" {
					sh.b.WriteString(strings.Repeat(" ", pending) + sh.paint(l))
					pending = 0
				}
				pending += width - text.Width(l.s)
			}
			sh.b.WriteString("\n")
		}
	}
}

// pane is host i's pane, each line at most width cells.
func pane(res *result.Result, i, width, maxLines int, steps []compare.RunStep) []line {
	h := res.Hosts[i]
	title := " " + text.Line(h.Name) + " (" + text.Line(h.Arch) + ")"
	state := statusIcon(h.Status) + " " + string(h.Status) + " "
	if room := width - text.Width(state); text.Width(title) > room-1 {
		title = text.Truncate(title, max(room-1, 0))
	}
	title += strings.Repeat(" ", max(width-text.Width(title)-text.Width(state), 0)) + state
	out := []line{{text.Truncate(title, width), paneTitle[h.Status]}}
	if paneTitle[h.Status] == "" { // no status: drawn plain
		out[0].color = ansiBold
	}
	if h.Address != "" {
		out = append(out, line{text.Truncate(" "+text.Line(h.Address), width), ansiDim})
	}
	if h.Error != "" {
		out = append(out, line{"! not reached", ansiRed})
		for _, l := range layoutStream(h.Error, false, 0, "  ", width).show(maxLines) {
			out = append(out, line{l.s, ansiRed})
		}
	}
	for _, rs := range steps {
		s := compare.Pick(h, rs.Index, rs.Cleanup)
		if s == nil {
			continue
		}
		name := rs.Name
		if rs.Cleanup {
			name = result.CleanupLabel(name)
		}
		// One colour a line: the ≠ mark's, else the status's.
		head := cellHead(s)
		tail, color := " "+head.s, head.color
		if rs.Odd(i) {
			tail, color = tail+" ≠ differs", ansiYellow
		}
		label := text.Truncate("▸ "+text.Line(name), max(width-text.Width(tail), 1))
		out = append(out, line{label + tail, color})
		if s.Command != "" && s.Command != rs.Name {
			out = append(out, line{text.Truncate("  $ "+text.Line(s.Command), width), ansiDim})
		}
		for _, l := range cellBody(s, width-2, maxLines, nil) {
			out = append(out, line{"  " + l.s, l.color})
		}
	}
	return out
}
