// Package tiles is the live view of a run: one pane per host, tiled to fit
// the terminal as tmux's tiled layout and byobu's splits do, each with a
// title bar (host, arch, step, elapsed time, status colour) and the host's
// output streaming in as it arrives; and the broadcast console's prompt.
//
// It is a bubbletea program: the runner's events become messages, the model
// is updated by one goroutine, View is a function of the model, and
// bubbletea's renderer, the one writer of the terminal, draws at most FPS
// frames a second. Everything a host sent passes through internal/text
// before it is drawn: no escape sequence from a host reaches the terminal.
package tiles

import (
	"strings"
	"time"

	"everywhere/internal/compare"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

// Host is a host the view shows, as the inventory names it.
type Host struct {
	Name, Arch, Address string
}

// Limits of what a pane holds: more lines than any terminal is tall, and a
// step's output for comparing it with the other hosts'.
const (
	keepLines  = 256
	partialMax = 4 << 10
	compareMax = 64 << 10
)

// lineKind says how a pane line is drawn.
type lineKind uint8

const (
	outLine  lineKind = iota // the host's output
	markLine                 // a step or command starting
	noteLine                 // what everywhere says: not ok, dropped output, reconnected
)

type line struct {
	text string // clean: text.Clean'ed, tabs expanded, one line
	kind lineKind
}

// pane is one host's view.
type pane struct {
	host               Host // as given; name, arch and address shown cleaned
	name, arch         string
	state              state
	step               string
	stepNo             int
	cleanup            bool
	started, stepSince time.Time
	ended              time.Time
	status             result.Status // the host's, once done
	worst              result.Status // the worst step status so far
	lines              []line
	partial            []byte
	out                []byte // this step's output, for comparing with the others'
	outCut             bool
	odd                map[string]bool // steps whose outcome departs from the majority's
	note               string          // shown in the title: reconnected, not connected
	selected           bool            // the console sends commands to it
}

type state uint8

const (
	waiting state = iota
	connecting
	running
	done
)

func newPane(h Host) *pane {
	return &pane{host: h, name: text.Line(h.Name), arch: text.Line(h.Arch), selected: true}
}

// add appends a clean line, keeping the last keepLines.
func (p *pane) add(l line) {
	p.lines = append(p.lines, l)
	if len(p.lines) > 2*keepLines {
		p.lines = append(p.lines[:0], p.lines[len(p.lines)-keepLines:]...)
	}
}

// note adds what everywhere says, from text that may be a host's.
func (p *pane) addNote(s string) {
	for _, l := range text.Lines(text.Clean(s)) {
		p.add(line{l, noteLine})
	}
}

// write takes raw output: complete lines go to the pane, the last partial
// line waits (and shows) until its end arrives. A carriage return starts
// the line again, as on a terminal (progress bars).
func (p *pane) write(data string) {
	if len(p.out)+len(data) <= compareMax {
		p.out = append(p.out, data...)
	} else {
		p.outCut = true
	}
	for {
		i := strings.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		p.partial = append(p.partial, data[:i]...)
		p.add(line{cleanLine(p.partial), outLine})
		p.partial = p.partial[:0]
		data = data[i+1:]
	}
	p.partial = append(p.partial, data...)
	if len(p.partial) > partialMax {
		p.add(line{cleanLine(p.partial), outLine})
		p.partial = p.partial[:0]
	}
}

// cleanLine is what a terminal would leave of raw: what follows its last
// carriage return, neutralised.
func cleanLine(raw []byte) string {
	s := strings.TrimSuffix(string(raw), "\r")
	if i := strings.LastIndexByte(s, '\r'); i >= 0 {
		s = s[i+1:]
	}
	return strings.Join(text.Lines(text.Clean(s)), " ")
}

// answer is the step's answer as compared: its status and reason, and
// its output as it arrived (stdout and stderr together, as the pane has
// them), marked when it was more than the pane keeps for comparing.
func (p *pane) answer(e result.Event) compare.Answer {
	out := string(p.out)
	if p.outCut {
		out += "\x00cut"
	}
	return compare.Answer{Status: e.Status, Texts: [3]string{compare.Reason: e.Detail, compare.Stdout: out}}
}

// elapsed is how long the host has been at it.
func (p *pane) elapsed(now time.Time) time.Duration {
	switch {
	case p.started.IsZero():
		return 0
	case p.state == done && !p.ended.IsZero():
		return p.ended.Sub(p.started)
	}
	return now.Sub(p.started)
}

// shown is the status the title bar's colour says.
func (p *pane) shown() result.Status {
	if p.state == done {
		return p.status
	}
	if p.worst != "" && p.worst != result.OK && p.worst != result.Skipped {
		return p.worst
	}
	return ""
}
