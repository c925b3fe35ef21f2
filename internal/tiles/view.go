package tiles

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"everywhere/internal/result"
	"everywhere/internal/text"
)

// The smallest pane worth drawing: a title bar and three lines of output.
const (
	minPaneWidth  = 24
	minPaneHeight = 4
	// paneAspect is the width:height, in cells, panes are tiled towards:
	// a cell is about twice as tall as wide, so this is a wide pane, as
	// tmux's tiled layout gives six panes on a wide terminal (3×2).
	paneAspect = 2.5
)

// paint is a lipgloss style taken apart once into the escape sequences
// before and after its text: lipgloss's Render of every line of every
// frame was half the view's cost.
type paint struct{ before, after string }

func painter(st lipgloss.Style) paint {
	before, after, _ := strings.Cut(st.Render("\x00"), "\x00")
	return paint{before, after}
}

func (p paint) on(s string) string { return p.before + s + p.after }

var (
	styleHeader = painter(lipgloss.NewStyle().Bold(true))
	styleMark   = painter(lipgloss.NewStyle().Bold(true))
	styleNote   = painter(lipgloss.NewStyle().Foreground(lipgloss.Color("3")))
	separator   = painter(lipgloss.NewStyle().Faint(true)).on("│")
	styleTitle  = map[result.Status]paint{
		"":             painter(lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("15")).Background(lipgloss.Color("4"))),
		result.OK:      painter(lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("0")).Background(lipgloss.Color("2"))),
		result.Flaky:   painter(lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("0")).Background(lipgloss.Color("11"))),
		result.Failed:  painter(lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("15")).Background(lipgloss.Color("1"))),
		result.Timeout: painter(lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("0")).Background(lipgloss.Color("3"))),
		result.Error:   painter(lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("15")).Background(lipgloss.Color("5"))),
		result.Skipped: painter(lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("0")).Background(lipgloss.Color("7"))),
	}
	styleIdle = painter(lipgloss.NewStyle().Foreground(lipgloss.Color("0")).Background(lipgloss.Color("8")))
)

// grid is the columns and rows that tile n panes on w×h cells: the panes
// as near paneAspect as can be, few cells left empty. ok is false when n
// panes of the smallest size do not fit.
func grid(n, w, h int) (cols, rows int, ok bool) {
	best := math.Inf(1)
	for c := 1; c <= n; c++ {
		r := (n + c - 1) / c
		pw, ph := (w-(c-1))/c, h/r
		if pw < minPaneWidth || ph < minPaneHeight {
			continue
		}
		score := math.Abs(math.Log(float64(pw) / float64(ph) / paneAspect))
		score += float64(c*r-n) / float64(n) // empty tiles
		if score < best {
			best, cols, rows = score, c, r
		}
	}
	return cols, rows, cols > 0
}

// capacity is how many panes of the smallest size fit on w×h cells.
func capacity(w, h int) int {
	return max((w+1)/(minPaneWidth+1), 1) * max(h/minPaneHeight, 1)
}

// shown picks the panes to draw: every candidate when they fit; else the
// failing ones, then the slowest (longest in their current step), in
// inventory order, and says how many were left out.
func (m *Model) shown(w, h int) (panes []int, left int) {
	var candidates []int
	for i, p := range m.panes {
		if p.selected {
			candidates = append(candidates, i)
		}
	}
	room := capacity(w, h)
	if len(candidates) <= room {
		return candidates, 0
	}
	urgency := func(i int) (int, time.Duration) {
		p := m.panes[i]
		switch {
		case p.shown().Severity() > 0:
			return 0, 0
		case p.state == running || p.state == connecting:
			return 1, -m.now.Sub(p.stepSince)
		case p.state == waiting:
			return 2, 0
		}
		return 3, 0
	}
	sort.SliceStable(candidates, func(a, b int) bool {
		ca, da := urgency(candidates[a])
		cb, db := urgency(candidates[b])
		if ca != cb {
			return ca < cb
		}
		return da < db
	})
	panes = append([]int(nil), candidates[:room]...)
	sort.Ints(panes)
	return panes, len(candidates) - room
}

// View draws the screen: a header line, the panes, a line under them.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "everywhere"
	return v
}

// Render is the screen as text with styles, width × height cells.
func (m *Model) Render() string {
	w, h := max(m.width, minPaneWidth), max(m.height, 3)
	lines := make([]string, 0, h)
	lines = append(lines, m.header(w))
	below := 1
	if m.console != nil {
		below = 2
	}
	gridH := max(h-1-below, 1)
	panes, left := m.shown(w, gridH)
	footer := m.footer(w, left)
	if len(panes) == 0 {
		for len(lines) < h-below {
			lines = append(lines, "")
		}
		return strings.Join(append(lines, footer...), "\n")
	}
	cols, rows, ok := grid(len(panes), w, gridH)
	if !ok { // a terminal smaller than one pane: one pane, as much as fits
		cols, rows, panes = 1, 1, panes[:1]
	}
	var b strings.Builder
	for r := range rows {
		ph := span(gridH, rows, r)
		cells := make([][]string, cols)
		widths := make([]int, cols)
		for c := range cols {
			widths[c] = span(w-(cols-1), cols, c)
			if k := r*cols + c; k < len(panes) {
				cells[c] = m.pane(m.panes[panes[k]], widths[c], ph)
			}
		}
		for y := range ph {
			b.Reset()
			for c := range cols {
				if c > 0 {
					b.WriteString(separator)
				}
				if cells[c] == nil {
					b.WriteString(strings.Repeat(" ", widths[c]))
					continue
				}
				b.WriteString(cells[c][y])
			}
			lines = append(lines, b.String())
		}
	}
	for len(lines) < h-below {
		lines = append(lines, "")
	}
	return strings.Join(append(lines, footer...), "\n")
}

// span is the size of part i when total is cut into n parts, the first
// ones a cell larger when it does not divide.
func span(total, n, i int) int {
	size := total / n
	if i < total%n {
		size++
	}
	return size
}

func (m *Model) header(w int) string {
	counts := map[state]int{}
	for _, p := range m.panes {
		if p.selected {
			counts[p.state]++
		}
	}
	selected := counts[waiting] + counts[connecting] + counts[running] + counts[done]
	s := fmt.Sprintf("everywhere %s · %s · %d running · %d done", m.title, text.Count(selected, "host", "hosts"), counts[connecting]+counts[running], counts[done])
	switch {
	case m.console != nil:
		s += " · Ctrl-C stops a command, Ctrl-D or :quit leaves"
	case !m.finished:
		s += " · Ctrl-C stops (cleanup runs)"
	}
	return styleHeader.on(text.Pad(text.Truncate(s, w), w))
}

// footer is the line under the panes: the summary of the hosts without a
// pane, and what everywhere has to say; in the console, then the prompt.
func (m *Model) footer(w, left int) []string {
	var parts []string
	if left > 0 {
		parts = append(parts, m.summary(left))
	}
	if m.status != "" {
		parts = append(parts, m.status)
	}
	status := styleNote.on(text.Truncate(strings.Join(parts, " · "), w))
	if m.console == nil {
		return []string{status}
	}
	return []string{status, m.input.View()}
}

// summary says what the hosts without a pane are doing.
func (m *Model) summary(left int) string {
	counts := map[string]int{}
	for _, p := range m.panes {
		if !p.selected {
			continue
		}
		switch {
		case p.state == done:
			counts[string(p.status)]++
		case p.state == waiting:
			counts["waiting"]++
		default:
			counts["running"]++
		}
	}
	s := fmt.Sprintf("%d more hosts without a pane; all:", left)
	for _, k := range []string{"running", "waiting", string(result.OK), string(result.Flaky), string(result.Failed), string(result.Timeout), string(result.Error), string(result.Skipped)} {
		if counts[k] > 0 {
			s += fmt.Sprintf(" %d %s", counts[k], k)
		}
	}
	return s
}

// pane draws one host's pane: its title bar, then its latest lines.
func (m *Model) pane(p *pane, w, h int) []string {
	out := make([]string, 0, h)
	out = append(out, m.titleBar(p, w))
	body := h - 1
	partial := ""
	if len(p.partial) > 0 {
		partial = cleanLine(p.partial)
	}
	n := len(p.lines)
	if partial != "" {
		n++
	}
	first := max(n-body, 0)
	for i := first; i < n; i++ {
		if i == len(p.lines) {
			out = append(out, text.Pad(text.Truncate(partial, w), w))
			continue
		}
		l := p.lines[i]
		s := text.Pad(text.Truncate(l.text, w), w)
		switch l.kind {
		case markLine:
			s = styleMark.on(s)
		case noteLine:
			s = styleNote.on(s)
		}
		out = append(out, s)
	}
	for len(out) < h {
		out = append(out, strings.Repeat(" ", w))
	}
	return out
}

// titleBar is the pane's first line: the host and its arch, the step it is
// at, then how long it has taken and its state, in its status's colour.
// What does not fit is cut from the step's name: the host, its arch and
// its state always show.
func (m *Model) titleBar(p *pane, w int) string {
	left := " " + p.name
	if p.arch != "" {
		left += " (" + p.arch + ")"
	}
	if p.isOdd() {
		left = " ≠" + left
	}
	right := stateWord(p) + " "
	if d := p.elapsed(m.now); d > 0 {
		right = elapsed(d) + " " + right
	}
	if p.note != "" {
		right = p.note + " · " + right
	}
	middle := ""
	if p.step != "" {
		middle = p.step
		switch {
		case p.cleanup:
			middle = "cleanup " + middle
		case m.steps > 1 && m.console == nil:
			middle = fmt.Sprintf("%d/%d %s", p.stepNo, m.steps, middle)
		}
		middle = " · " + middle
	}
	style, ok := styleTitle[p.shown()]
	if !ok || (p.state == waiting && p.shown() == "") {
		style = styleIdle
	}
	room := w - text.Width(left) - text.Width(right) - 1
	if room < 0 {
		return style.on(text.Pad(text.Truncate(left+" "+right, w), w))
	}
	middle = text.Truncate(middle, room)
	return style.on(left + middle + strings.Repeat(" ", room+1-text.Width(middle)) + right)
}

func stateWord(p *pane) string {
	switch p.state {
	case waiting:
		return "waiting"
	case connecting:
		return "connecting"
	case running:
		if s := p.shown(); s != "" {
			return "running, " + string(s)
		}
		return "running"
	}
	icon := map[result.Status]string{result.OK: "✔", result.Flaky: "≈", result.Failed: "✘", result.Timeout: "⧖", result.Error: "!", result.Skipped: "-"}[p.status]
	return icon + " " + string(p.status)
}

func elapsed(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
