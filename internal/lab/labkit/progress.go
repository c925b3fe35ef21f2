package labkit

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Progress prints, for a person waiting, each machine's phase as it
// changes and, every 30 s, one line of every machine's phase, time in it
// and the estimate.
type Progress struct {
	mu     sync.Mutex
	w      interface{ Write([]byte) (int, error) }
	start  time.Time
	phases map[string]phaseState
	order  []string
	done   chan struct{}
	once   sync.Once
}

type phaseState struct {
	name     string
	since    time.Time
	estimate time.Duration
}

// NewProgress starts a Progress that writes to w, its times counted from
// start; Stop ends its summaries.
func NewProgress(w interface{ Write([]byte) (int, error) }, start time.Time) *Progress {
	p := &Progress{w: w, start: start, phases: map[string]phaseState{}, done: make(chan struct{})}
	go func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.summary()
			}
		}
	}()
	return p
}

// Phase says that name is now in phase, which took estimate the last time
// (0: not known). A nil Progress says nothing.
func (p *Progress) Phase(name, phase string, estimate time.Duration) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.phases[name]; !ok {
		p.order = append(p.order, name)
	}
	p.phases[name] = phaseState{name: phase, since: time.Now(), estimate: estimate}
	est := ""
	if estimate > 0 {
		est = fmt.Sprintf(" (last time ~%s)", estimate.Round(time.Second))
	}
	fmt.Fprintf(p.w, "%6s [%s] %s%s\n", time.Since(p.start).Round(time.Second), name, phase, est)
}

func (p *Progress) summary() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	for _, name := range p.order {
		s := p.phases[name]
		part := fmt.Sprintf("%s %s %s", name, s.name, time.Since(s.since).Round(time.Second))
		if s.estimate > 0 && s.name != "up" {
			part += "/~" + s.estimate.Round(time.Second).String()
		}
		parts = append(parts, part)
	}
	fmt.Fprintf(p.w, "%6s lab up: %s\n", time.Since(p.start).Round(time.Second), strings.Join(parts, " · "))
}

// Stop ends the summaries; it may be called more than once.
func (p *Progress) Stop() { p.once.Do(func() { close(p.done) }) }
