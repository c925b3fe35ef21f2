package tiles

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"everywhere/internal/result"
)

func TestGrid(t *testing.T) {
	for _, tc := range []struct {
		n, w, h    int
		cols, rows int
	}{
		{6, 200, 48, 3, 2}, // byobu's six panes on a wide terminal
		{6, 100, 60, 2, 3}, // on a tall one
		{1, 80, 22, 1, 1},
		{4, 200, 48, 2, 2},
		{2, 200, 48, 2, 1},
		{12, 200, 48, 4, 3},
	} {
		cols, rows, ok := grid(tc.n, tc.w, tc.h)
		if !ok || cols != tc.cols || rows != tc.rows {
			t.Errorf("%d panes on %d×%d: %d×%d (%v), want %d×%d", tc.n, tc.w, tc.h, cols, rows, ok, tc.cols, tc.rows)
		}
	}
	if _, _, ok := grid(200, 200, 48); ok {
		t.Error("200 panes fit on 200×48")
	}
}

func hosts(n int) []Host {
	var hs []Host
	for i := range n {
		hs = append(hs, Host{Name: fmt.Sprintf("h%03d", i), Arch: []string{"arm64", "amd64", "s390x"}[i%3]})
	}
	return hs
}

func at(m *Model, events ...result.Event) {
	for i := range events {
		if events[i].Time.IsZero() {
			events[i].Time = time.Now()
		}
	}
	m.Update(EventsMsg(events))
}

func sized(m *Model, w, h int) {
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
}

// Hosts that print their own arch agree; one that prints another's is the
// odd one out, marked ≠.
func TestOddOneOutMarked(t *testing.T) {
	m := New(hosts(3), Options{Title: "exec · uname -m", Steps: 1})
	sized(m, 120, 30)
	for i, out := range []string{"aarch64\n", "x86_64\n", "x86_64\n"} { // h002 is s390x: x86_64 is not its own
		name := fmt.Sprintf("h%03d", i)
		at(m, result.Event{Type: result.Connecting, Host: name}, result.Event{Type: result.StepStarted, Host: name, Step: "uname -m"},
			result.Event{Type: result.Output, Host: name, Step: "uname -m", Data: out},
			result.Event{Type: result.StepDone, Host: name, Step: "uname -m", Status: result.OK},
			result.Event{Type: result.HostDone, Host: name, Status: result.OK})
	}
	screen := ansi.Strip(m.Render())
	if !strings.Contains(screen, "≠ h002 (s390x)") || strings.Contains(screen, "≠ h000") || strings.Contains(screen, "≠ h001") {
		t.Errorf("want h002 alone marked ≠:\n%s", screen)
	}
}

// Interface indexes differ on every host and make none differ, live or
// at the end; the run's result, compared as every report compares it, has
// the last word.
func TestVolatileValuesDoNotMark(t *testing.T) {
	m := New(hosts(3), Options{Title: "exec · ip", Steps: 1})
	sized(m, 120, 30)
	res := &result.Result{Steps: []string{"ip"}}
	for i := range 3 {
		name, out := fmt.Sprintf("h%03d", i), fmt.Sprintf("eth0@if%d   UP   172.17.0.2/16\n", 7+i)
		at(m, result.Event{Type: result.Connecting, Host: name}, result.Event{Type: result.StepStarted, Host: name, Step: "ip"},
			result.Event{Type: result.Output, Host: name, Step: "ip", Data: out},
			result.Event{Type: result.StepDone, Host: name, Step: "ip", Status: result.OK},
			result.Event{Type: result.HostDone, Host: name, Status: result.OK})
		if screen := ansi.Strip(m.Render()); strings.Contains(screen, "≠") {
			t.Fatalf("after %s: an interface index marked a host:\n%s", name, screen)
		}
		if i == 2 {
			out = "eth0 not found\n" // the run's own record differs: the report's word stands
		}
		res.Hosts = append(res.Hosts, result.HostResult{Name: name, Arch: hosts(3)[i].Arch, Status: result.OK,
			Steps: []result.StepResult{{Name: "ip", Status: result.OK, Stdout: out}}})
	}
	m.Update(FinishedMsg{Result: res})
	if screen := ansi.Strip(m.Render()); !strings.Contains(screen, "≠ h002") || strings.Contains(screen, "≠ h000") {
		t.Errorf("the result's comparison is not the word at the end:\n%s", screen)
	}
}

// Whatever a host sends, no escape sequence of its own reaches the screen.
func TestHostOutputNeutralised(t *testing.T) {
	m := New(hosts(1), Options{Steps: 1})
	sized(m, 80, 10)
	at(m, result.Event{Type: result.StepStarted, Host: "h000", Step: "s"},
		result.Event{Type: result.Output, Host: "h000", Data: "a\x1b]0;title\x07b\x1b[2Jc\u202ed\r\nprogress 10%\rprogress 99%\npartial \x1b["})
	screen := m.Render()
	for _, bad := range []string{"\x1b]0;title", "\x1b[2J", "\u202e", "\r", "10%"} {
		if strings.Contains(screen, bad) {
			t.Errorf("screen holds %q:\n%q", bad, screen)
		}
	}
	plain := ansi.Strip(screen)
	for _, want := range []string{"a␛]0;title␇b␛[2Jc<U+202E>d", "progress 99%", "partial ␛["} {
		if !strings.Contains(plain, want) {
			t.Errorf("screen lacks %q:\n%s", want, plain)
		}
	}
}

// More hosts than panes fit: the failing and the slowest get panes, the
// rest a summary line; every line is as wide as the terminal, no wider.
func TestMoreHostsThanFit(t *testing.T) {
	m := New(hosts(200), Options{Steps: 2})
	sized(m, 200, 50)
	now := time.Now()
	for i := range 200 {
		name := fmt.Sprintf("h%03d", i)
		at(m, result.Event{Type: result.Connecting, Host: name, Time: now.Add(-time.Minute)},
			result.Event{Type: result.StepStarted, Host: name, Step: "one", Time: now.Add(-time.Duration(i) * time.Second)})
		if i%50 == 7 {
			at(m, result.Event{Type: result.StepDone, Host: name, Step: "one", Status: result.Failed, Detail: "exit status 1"})
		}
	}
	screen := ansi.Strip(m.Render())
	lines := strings.Split(screen, "\n")
	if len(lines) != 50 {
		t.Errorf("%d lines, want 50", len(lines))
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > 200 {
			t.Errorf("line %d is %d wide", i, w)
		}
	}
	for _, failing := range []string{"h007", "h057", "h107", "h157"} {
		if !strings.Contains(screen, " "+failing+" (") {
			t.Errorf("failing %s has no pane", failing)
		}
	}
	if !strings.Contains(screen, " h199 (") || strings.Contains(screen, " h000 (") {
		t.Errorf("want the slowest (h199) shown and the quickest (h000) not:\n%s", screen)
	}
	if !strings.Contains(screen, "more hosts without a pane") {
		t.Errorf("no summary line:\n%s", screen)
	}
}

func TestCast(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x.cast")
	c, err := CreateCast(file, 100, 30, "t")
	if err != nil {
		t.Fatal(err)
	}
	c.Output([]byte("héllo \xe2\x94")) // a character cut between two writes
	c.Output([]byte("\x82 \x1b[1m"))
	c.Resize(120, 40)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(file)
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	var hdr map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &hdr); err != nil || hdr["version"] != 2.0 || hdr["width"] != 100.0 || hdr["height"] != 30.0 {
		t.Fatalf("header %s", lines[0])
	}
	var got string
	for _, l := range lines[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("event %s", l)
		}
		if ev[1] == "o" {
			got += ev[2].(string)
		}
	}
	if got != "héllo │ \x1b[1m" || !strings.Contains(lines[len(lines)-1], `"r","120x40"`) {
		t.Errorf("recorded %q; last line %s", got, lines[len(lines)-1])
	}
}

func TestHistory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state", "history")
	h, err := OpenHistory(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"uname -m", "uptime", "uptime", "df -h"} {
		if err := h.Add(l); err != nil {
			t.Fatal(err)
		}
	}
	h, _ = OpenHistory(file) // a new console
	steps := []string{h.Older("draft"), h.Older(""), h.Older(""), h.Older(""), h.Newer(), h.Newer(), h.Newer()}
	want := []string{"df -h", "uptime", "uname -m", "uname -m", "uptime", "df -h", "draft"}
	if fmt.Sprint(steps) != fmt.Sprint(want) {
		t.Errorf("walked %q, want %q", steps, want)
	}
}

// isQuit says whether cmd ends the program.
func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

// Ctrl-C during the run is passed on (each press), other keys do nothing;
// the end of the run waits for a key, unless ExitAtEnd.
func TestKeysAroundTheEnd(t *testing.T) {
	pressed := 0
	m := New(hosts(2), Options{Steps: 1, Interrupt: func() { pressed++ }})
	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"}); isQuit(cmd) || pressed != 0 {
		t.Error("q during the run quit or interrupted")
	}
	for range 2 {
		m.Update(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	}
	if pressed != 2 || !strings.Contains(ansi.Strip(m.Render()), "cutting cleanup short") {
		t.Errorf("Ctrl-C twice: interrupted %d times:\n%s", pressed, ansi.Strip(m.Render()))
	}
	if _, cmd := m.Update(FinishedMsg{Result: &result.Result{}}); cmd != nil {
		t.Error("the view left before a key was pressed")
	}
	if !strings.Contains(ansi.Strip(m.Render()), "press any key") {
		t.Error("the end does not say to press a key")
	}
	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'x', Text: "x"}); !isQuit(cmd) {
		t.Error("a key after the end did not leave")
	}
	m = New(hosts(2), Options{Steps: 1, ExitAtEnd: true})
	if _, cmd := m.Update(FinishedMsg{Result: &result.Result{}}); !isQuit(cmd) {
		t.Error("ExitAtEnd: the view stayed")
	}
}

// A host whose step passed on a retry is flaky: its own title colour
// (not the plain bar of an unknown status), its icon, and its own count
// in the line for hosts without a pane.
func TestFlakyTile(t *testing.T) {
	finish := func(m *Model, n int) {
		for i := range n {
			name, status := fmt.Sprintf("h%03d", i), result.OK
			if i%100 == 1 {
				status = result.Flaky
			}
			at(m, result.Event{Type: result.Connecting, Host: name}, result.Event{Type: result.StepStarted, Host: name, Step: "apt"},
				result.Event{Type: result.StepDone, Host: name, Step: "apt", Status: status},
				result.Event{Type: result.HostDone, Host: name, Status: status})
		}
	}
	if title := styleTitle[result.Flaky].before; title == "" || title == styleTitle[result.OK].before || title == styleTitle[result.Timeout].before {
		t.Fatalf("flaky's title style %q is none, ok's or timeout's", title)
	}
	m := New(hosts(3), Options{Steps: 1})
	sized(m, 120, 30)
	finish(m, 3)
	screen := m.Render()
	// h001 differs (its status does), so its title bar is marked ≠.
	if !strings.Contains(screen, styleTitle[result.Flaky].before+" ≠ h001 (") {
		t.Errorf("h001's title is not in flaky's colours:\n%q", screen)
	}
	if plain := ansi.Strip(screen); !strings.Contains(plain, "≈ flaky") {
		t.Errorf("no ≈ flaky title:\n%s", plain)
	}
	m = New(hosts(200), Options{Steps: 1})
	sized(m, 200, 50)
	finish(m, 200)
	if plain := ansi.Strip(m.Render()); !strings.Contains(plain, "all: 198 ok 2 flaky") {
		t.Errorf("the line for hosts without a pane does not count the flaky ones:\n%s", plain)
	}
}
