package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"everywhere/internal/result"
	"everywhere/internal/text"
)

// Progress shows a run's events as they happen, on stderr, every name and
// detail from a host neutralised and folded onto one line. On a terminal
// it keeps a line per host updated in place (one summary line for fleets of
// more than MaxLines hosts); elsewhere, as in CI logs, it prints a line when
// a host finishes or a step is not ok, and every WarnEvery a line naming
// the hosts still running, slowest first; for a big fleet, only a summary
// line every WarnEvery and at the end.
type Progress struct {
	w         io.Writer
	tty       bool
	hosts     []hostProgress
	steps     int
	drawn     int // lines drawn last time on the terminal
	WarnEvery time.Duration
	MaxLines  int // hosts drawn one per line on a terminal; more get a summary line
	Width     int // terminal columns: longer lines are cut so redrawing stays in place
}

type hostProgress struct {
	name    string
	step    string
	stepNo  int
	since   time.Time // when the current step (or connecting) began
	started bool
	done    bool
	status  result.Status
	notOK   int
}

// NewProgress prepares a view of hosts (in report order) running steps steps.
func NewProgress(w io.Writer, tty bool, hosts []string, steps int) *Progress {
	p := &Progress{w: w, tty: tty, steps: steps, WarnEvery: 30 * time.Second, MaxLines: 30}
	for _, h := range hosts {
		p.hosts = append(p.hosts, hostProgress{name: text.Line(h)})
	}
	return p
}

// Run consumes events until the channel is closed, then clears its lines.
func (p *Progress) Run(events <-chan result.Event) {
	redraw := time.NewTicker(250 * time.Millisecond)
	defer redraw.Stop()
	warn := time.NewTicker(p.WarnEvery)
	defer warn.Stop()
	for {
		select {
		case e, ok := <-events:
			if !ok {
				p.clear()
				if !p.tty && p.big() {
					fmt.Fprintln(p.w, p.summary(time.Now()))
				}
				return
			}
			p.apply(e)
		case <-redraw.C:
			if p.tty {
				p.draw()
			}
		case <-warn.C:
			switch {
			case p.tty:
			case p.big():
				fmt.Fprintln(p.w, p.summary(time.Now()))
			default:
				p.stillRunning()
			}
		}
	}
}

// big says the fleet is too big for a line per host.
func (p *Progress) big() bool { return len(p.hosts) > p.MaxLines }

func (p *Progress) apply(e result.Event) {
	h := &p.hosts[e.HostIndex]
	quiet := p.tty || p.big()
	switch e.Type {
	case result.Connecting:
		h.started, h.step, h.since = true, "connecting", e.Time
	case result.Connected:
		h.step = "connected"
	case result.StepStarted:
		if !e.Cleanup {
			h.stepNo++
		}
		h.step, h.since = text.Line(e.Step), e.Time
		if e.Cleanup {
			h.step = result.CleanupLabel(h.step)
		}
	case result.StepDone:
		if e.Status != result.OK && e.Status != result.Skipped {
			if e.Status != result.Flaky {
				h.notOK++
			}
			if !quiet {
				fmt.Fprintf(p.w, "%s %s · %s: %s %s: %s\n", statusIcon(e.Status), h.name, h.step, e.Status, formatDuration(e.Duration), text.Line(e.Detail))
			}
		}
	case result.HostDone:
		h.done, h.status = true, e.Status
		if !quiet {
			fmt.Fprintf(p.w, "%s %s: %s (%d/%d steps run)\n", statusIcon(e.Status), h.name, e.Status, h.stepNo, p.steps)
		}
	}
	if p.tty {
		p.draw()
	}
}

func (p *Progress) lines(now time.Time) []string {
	if p.big() {
		return []string{p.summary(now)}
	}
	width := 0
	for _, h := range p.hosts {
		width = max(width, text.Width(h.name))
	}
	var out []string
	for _, h := range p.hosts {
		var state string
		switch {
		case h.done:
			state = fmt.Sprintf("%s %s", statusIcon(h.status), h.status)
		case !h.started:
			state = "waiting"
		default:
			state = fmt.Sprintf("▸ %s (%d/%d) %s", h.step, h.stepNo, p.steps, formatDuration(now.Sub(h.since)))
		}
		if h.notOK > 0 && !h.done {
			state += fmt.Sprintf(" · %d not ok", h.notOK)
		}
		out = append(out, text.Pad(h.name, width)+"  "+state)
	}
	return out
}

// summary is one line for a big fleet: counts and the slowest hosts.
func (p *Progress) summary(now time.Time) string {
	done, notOK, running := 0, 0, 0
	for _, h := range p.hosts {
		switch {
		case h.done:
			done++
			if !result.Passed(h.status) {
				notOK++
			}
		case h.started:
			running++
		}
	}
	line := fmt.Sprintf("%d/%s done (%d not ok) · %d running", done, text.Count(len(p.hosts), "host", "hosts"), notOK, running)
	if slow := p.slowest(now, 3); slow != "" {
		line += " · slowest: " + slow
	}
	return line
}

func (p *Progress) slowest(now time.Time, n int) string {
	var active []hostProgress
	for _, h := range p.hosts {
		if h.started && !h.done {
			active = append(active, h)
		}
	}
	sort.SliceStable(active, func(i, j int) bool { return active[i].since.Before(active[j].since) })
	var names []string
	for _, h := range active[:min(n, len(active))] {
		names = append(names, fmt.Sprintf("%s (%s %s)", h.name, h.step, formatDuration(now.Sub(h.since))))
	}
	return strings.Join(names, ", ")
}

func (p *Progress) stillRunning() {
	if slow := p.slowest(time.Now(), 5); slow != "" {
		fmt.Fprintf(p.w, "… still running: %s\n", slow)
	}
}

func (p *Progress) draw() {
	lines := p.lines(time.Now())
	var b strings.Builder
	p.moveUp(&b)
	for _, l := range lines {
		if p.Width > 1 {
			l = text.Truncate(l, p.Width-1)
		}
		b.WriteString("\x1b[2K" + l + "\n")
	}
	p.drawn = len(lines)
	_, _ = io.WriteString(p.w, b.String())
}

func (p *Progress) moveUp(b *strings.Builder) {
	if p.drawn > 0 {
		fmt.Fprintf(b, "\x1b[%dA", p.drawn)
	}
}

// clear removes the live lines so the report that follows stands alone.
func (p *Progress) clear() {
	if !p.tty || p.drawn == 0 {
		return
	}
	var b strings.Builder
	p.moveUp(&b)
	b.WriteString("\x1b[J")
	p.drawn = 0
	_, _ = io.WriteString(p.w, b.String())
}
