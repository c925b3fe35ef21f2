package report

import (
	"fmt"
	"strings"

	"everywhere/internal/host"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

// line is one row of a cell, clean and at most the cell's width, with the
// colour it is drawn in.
type line struct {
	s     string
	color string
}

// outRow is a row of a stream's output with the source line it belongs
// to, so that what is left out is counted in lines, not screen rows.
type outRow struct {
	s      string
	line   int
	marker bool // stands for the bytes an output limit cut
}

// stream is one output stream laid out in rows.
type stream struct {
	rows   []outRow
	prefix string
	cut    host.Cut
	tailed bool // when it must be shortened, keep its end only (stderr of a failure)
	width  int  // of a row, prefix included; 0: rows are not wrapped
}

// splitStream is a stream's kept text split at the cut marker, if any.
func splitStream(kept string, truncated bool) (head, tail string, cut host.Cut, ok bool) {
	if !truncated {
		return kept, "", host.Cut{}, false
	}
	return host.SplitKept(kept)
}

// layoutStream wraps kept text to width (0: no wrapping) into rows.
func layoutStream(kept string, truncated bool, total int64, prefix string, width int) stream {
	st := stream{prefix: prefix, width: width}
	head, tail, cut, ok := splitStream(kept, truncated)
	st.cut = cut
	w := width - text.Width(prefix)
	add := func(s string, base int) int {
		s = strings.TrimSuffix(text.Clean(s), "\n")
		if s == "" {
			return 0
		}
		lines := text.Lines(s)
		for i, l := range lines {
			if width <= 0 {
				st.rows = append(st.rows, outRow{s: l, line: base + i})
				continue
			}
			for _, r := range text.Wrap(l, w) {
				st.rows = append(st.rows, outRow{s: r, line: base + i})
			}
		}
		return len(lines)
	}
	n := add(head, 0)
	marker := func(s string) {
		rows := []string{s}
		if width > 0 {
			rows = text.Wrap(s, w)
		}
		for _, r := range rows {
			st.rows = append(st.rows, outRow{s: r, line: n, marker: true})
		}
	}
	if ok {
		marker(fmt.Sprintf("[… %s, %s not kept (--output-limit) …]", bytesText(cut.Bytes), text.Count(int(cut.Lines), "line", "lines")))
		add(tail, n+1)
	} else if truncated {
		marker(fmt.Sprintf("[… %s kept of %s …]", bytesText(int64(len(kept))), bytesText(total)))
	}
	return st
}

// bytesText is a byte count for people: 812 bytes, 300 KiB, 1.0 MiB.
func bytesText(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// show picks k of the stream's rows: its head and tail around a row that
// says what was left out, or only its tail for a tailed stream.
func (st stream) show(k int) []line {
	n := len(st.rows)
	paint := func(r outRow) line {
		if r.marker {
			return line{st.prefix + r.s, ansiYellow}
		}
		return line{st.prefix + r.s, ""}
	}
	var out []line
	if k >= n {
		for _, r := range st.rows {
			out = append(out, paint(r))
		}
		return out
	}
	k = max(k, 1)
	h, t := (k-1)-(k-1)/2, (k-1)/2
	if st.tailed {
		h, t = 0, k-1
	}
	for _, r := range st.rows[:h] {
		out = append(out, paint(r))
	}
	elision := st.prefix + st.leftOut(h, n-t)
	if st.width > 0 {
		elision = text.Truncate(elision, st.width)
	}
	out = append(out, line{elision, ansiDim})
	for _, r := range st.rows[n-t:] {
		out = append(out, paint(r))
	}
	return out
}

// leftOut says what rows [from, to) hold: how many whole lines, and the
// bytes an output limit cut if its marker is among them.
func (st stream) leftOut(from, to int) string {
	lines, partial := 0, false
	var cut *host.Cut
	for i := from; i < to; {
		r := st.rows[i]
		j := i
		for j < to && st.rows[j].line == r.line && st.rows[j].marker == r.marker {
			j++
		}
		switch whole := (i > 0 && st.rows[i-1].line == r.line) || (j < len(st.rows) && st.rows[j].line == r.line && !st.rows[j].marker); {
		case r.marker:
			c := st.cut
			cut = &c
			lines += int(c.Lines)
		case whole:
			partial = true
		default:
			lines++
		}
		i = j
	}
	var s string
	switch {
	case lines == 1:
		s = "… 1 more line"
	case lines > 1:
		s = fmt.Sprintf("… %d more lines", lines)
	case partial:
		s = "… line continues"
	default:
		s = "…"
	}
	if cut != nil && cut.Bytes > 0 {
		s += fmt.Sprintf(" (%s not kept)", bytesText(cut.Bytes))
	}
	return s
}

// fit shares budget rows between streams: each gets what it needs when the
// others leave room, else an equal share, the first stream the larger.
func fit(streams []stream, budget int) []line {
	var live []stream
	total := 0
	for _, st := range streams {
		if len(st.rows) > 0 {
			live = append(live, st)
			total += len(st.rows)
		}
	}
	if len(live) == 0 {
		return nil
	}
	budget = max(budget, len(live))
	shares := make([]int, len(live))
	if total <= budget {
		for i, st := range live {
			shares[i] = len(st.rows)
		}
	} else {
		// Water-filling: small streams take what they need, the rest
		// share what remains.
		left, open := budget, len(live)
		done := make([]bool, len(live))
		for changed := true; changed; {
			changed = false
			for i, st := range live {
				if !done[i] && len(st.rows) <= left/open {
					shares[i], done[i], changed = len(st.rows), true, true
					left -= len(st.rows)
					open--
				}
			}
		}
		for i := range live {
			if !done[i] {
				shares[i] = left / open
			}
		}
		for i := range live { // the remainder to the first open stream
			if !done[i] {
				shares[i] += left % open
				break
			}
		}
	}
	var out []line
	for i, st := range live {
		out = append(out, st.show(shares[i])...)
	}
	return out
}

// cellBody is a cell below its status line: for a step that is not ok,
// the reason and the end of stderr first, then stdout; for an ok one,
// stdout then stderr. width 0 does not wrap. mask rewrites remote text
// before it is shown (nil: as it is).
func cellBody(s *result.StepResult, width, budget int, mask func(string) string) []line {
	if mask == nil {
		mask = func(s string) string { return s }
	}
	var out []line
	if summary := s.Summary(); summary != "" {
		reason := stream{width: width}
		for i, l := range text.Lines(text.Clean("→ " + mask(summary))) {
			if width <= 0 {
				reason.rows = append(reason.rows, outRow{s: l, line: i})
				continue
			}
			for _, r := range text.Wrap(l, width) {
				reason.rows = append(reason.rows, outRow{s: r, line: i})
			}
		}
		for _, l := range reason.show(budget) {
			out = append(out, line{l.s, statusColor[s.Status]})
		}
	}
	stdout := layoutStream(mask(s.Stdout), s.StdoutTruncated, s.StdoutBytes, "", width)
	stderr := layoutStream(mask(s.Stderr), s.StderrTruncated, s.StderrBytes, "2> ", width)
	if !result.Passed(s.Status) && s.Status != result.Skipped {
		stderr.tailed = true
		return append(out, fit([]stream{stderr, stdout}, budget)...)
	}
	return append(out, fit([]stream{stdout, stderr}, budget)...)
}

// cellHead is a cell's status line: ✘ failed 0.80s.
func cellHead(s *result.StepResult) line {
	head := statusIcon(s.Status) + " " + string(s.Status)
	if s.Status != result.Skipped {
		head += " " + formatDuration(s.Duration())
	}
	return line{head, statusColor[s.Status]}
}
