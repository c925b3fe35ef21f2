package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"everywhere/internal/result"
)

func feed(p *Progress, events ...result.Event) {
	ch := make(chan result.Event, len(events))
	for _, e := range events {
		e.Time = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		ch <- e
	}
	close(ch)
	p.Run(ch)
}

var sampleEvents = []result.Event{
	{Type: result.Connecting, Host: "pi4", HostIndex: 0},
	{Type: result.Connecting, Host: "z15", HostIndex: 1},
	{Type: result.Connected, Host: "pi4", HostIndex: 0},
	{Type: result.StepStarted, Host: "pi4", HostIndex: 0, Step: "kernel"},
	{Type: result.StepDone, Host: "pi4", HostIndex: 0, Step: "kernel", Status: result.Failed, Duration: 800 * time.Millisecond, Detail: "exit status 1"},
	{Type: result.HostDone, Host: "pi4", HostIndex: 0, Status: result.Failed},
	{Type: result.HostDone, Host: "z15", HostIndex: 1, Status: result.Error},
}

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	feed(NewProgress(&buf, false, []string{"pi4", "z15"}, 2), sampleEvents...)
	want := "✘ pi4 · kernel: failed 0.80s: exit status 1\n✘ pi4: failed (1/2 steps run)\n! z15: error (0/2 steps run)\n"
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	feed(NewProgress(&buf, true, []string{"pi4", "z15"}, 2), sampleEvents[:4]...)
	out := buf.String()
	if !strings.Contains(out, "pi4  ▸ kernel (1/2)") || !strings.Contains(out, "z15  ▸ connecting (0/2)") {
		t.Errorf("live lines missing:\n%q", out)
	}
	if !strings.HasSuffix(out, "\x1b[2A\x1b[J") {
		t.Errorf("the live lines are not cleared at the end:\n%q", out)
	}
}

func TestProgressSummarisesBigFleets(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, true, []string{"a", "b", "c"}, 1)
	p.MaxLines = 2
	feed(p, result.Event{Type: result.Connecting, HostIndex: 0}, result.Event{Type: result.HostDone, HostIndex: 1, Status: result.Failed})
	if !strings.Contains(buf.String(), "1/3 hosts done (1 not ok) · 1 running · slowest: a (connecting") {
		t.Errorf("got %q", buf.String())
	}
}

func TestProgressPlainBigFleet(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, false, []string{"a", "b", "c"}, 1)
	p.MaxLines = 2
	feed(p, result.Event{Type: result.Connecting, HostIndex: 0}, result.Event{Type: result.HostDone, HostIndex: 1, Status: result.Failed},
		result.Event{Type: result.HostDone, HostIndex: 0, Status: result.OK})
	if got, want := buf.String(), "2/3 hosts done (1 not ok) · 0 running\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
