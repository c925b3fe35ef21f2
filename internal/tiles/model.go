package tiles

import (
	"fmt"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"everywhere/internal/compare"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

// Messages the model takes besides bubbletea's own.
type (
	// EventsMsg is the runner's events since the last frame, in order.
	EventsMsg []result.Event
	// FinishedMsg says the run (or the console's command) ended with res.
	FinishedMsg struct{ Result *result.Result }
	// NoteMsg is something everywhere says about a host, in its pane
	// (Title: in its title bar too, until the next command).
	NoteMsg struct {
		Host, Text string
		Title      bool
	}
	// SelectMsg sets which hosts the console's commands go to.
	SelectMsg struct{ Hosts []string }
	// StatusMsg replaces the line under the panes (the console's answers).
	StatusMsg string
	tickMsg   time.Time
)

// Console is what the console's prompt drives; its methods are called on
// the view's goroutine and must not block (start the work, then Send).
type Console interface {
	// Submit runs a typed line: a command for the hosts or a :directive.
	Submit(line string)
	// Interrupt stops the command running, if one is (Ctrl-C).
	Interrupt()
}

// Model is the state of the view.
type Model struct {
	panes         []*pane
	byName        map[string]int
	title         string
	steps         int // of the plan, for "step 3/10"
	width, height int
	now           time.Time
	finished      bool
	stopping      int // Ctrl-C presses during the run
	exitAtEnd     bool
	interrupt     func()
	status        string                   // the line under the panes
	answers       map[string]*compare.Live // a step's answers so far, by command, cleanup and step
	// console only
	console Console
	input   textinput.Model
	history *History
	running bool
	command int // commands submitted: names each command's step
	record  func(w, h int)
}

// Options shape the view.
type Options struct {
	Title string // what the header line says first: "run · plan smoke"
	Steps int    // the plan's steps (not cleanup)
	// ExitAtEnd leaves as soon as the run ends (--tiles-exit); else the
	// panes stay until a key is pressed.
	ExitAtEnd bool
	// Interrupt is what Ctrl-C does while a run is on: what SIGINT does
	// (cleanup runs; again cuts it short). The terminal is raw meanwhile,
	// so Ctrl-C arrives as a key, not as a signal.
	Interrupt func()
	// Console, when set, makes the view the broadcast console: a prompt
	// under the panes, history in History.
	Console Console
	History *History
}

// New is the view of hosts, in inventory order.
func New(hosts []Host, o Options) *Model {
	m := &Model{title: text.Line(o.Title), steps: o.Steps, exitAtEnd: o.ExitAtEnd, interrupt: o.Interrupt,
		byName: map[string]int{}, answers: map[string]*compare.Live{}, console: o.Console, history: o.History,
		width: 80, height: 24, now: time.Now()}
	for i, h := range hosts {
		m.panes = append(m.panes, newPane(h))
		m.byName[h.Name] = i
	}
	if m.console != nil {
		m.input = textinput.New()
		m.input.Prompt = "everywhere> "
		m.input.Placeholder = "a command for every host · :hosts SEL · :save DIR · :help · :quit"
		m.input.Focus()
		m.finished = true // no command running yet
	}
	return m
}

// Init starts the clock of the title bars.
func (m *Model) Init() tea.Cmd { return tick() }

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Update applies one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		if m.record != nil {
			m.record(msg.Width, msg.Height)
		}
		m.input.SetWidth(max(msg.Width-len(m.input.Prompt)-1, 10))
	case tickMsg:
		m.now = time.Time(msg)
		return m, tick()
	case EventsMsg:
		m.now = time.Now()
		for _, e := range msg {
			m.apply(e)
		}
	case FinishedMsg:
		m.now = time.Now()
		m.finish(msg.Result)
		if m.exitAtEnd && m.console == nil {
			return m, tea.Quit
		}
	case NoteMsg:
		if i, ok := m.byName[msg.Host]; ok {
			m.panes[i].addNote(msg.Text)
			if msg.Title {
				m.panes[i].note = text.Line(msg.Text)
			}
		}
	case SelectMsg:
		chosen := map[string]bool{}
		for _, h := range msg.Hosts {
			chosen[h] = true
		}
		for _, p := range m.panes {
			p.selected = chosen[p.host.Name]
		}
	case StatusMsg:
		m.status = text.Line(string(msg))
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	if m.console != nil {
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	if m.console != nil {
		return m.consoleKey(k)
	}
	if m.finished {
		return tea.Quit // any key: the panes have been seen
	}
	if k.String() == "ctrl+c" {
		m.stopping++
		if m.stopping == 1 {
			m.status = "stopping: cleanup runs on every host (Ctrl-C again cuts it short)"
		} else {
			m.status = "cutting cleanup short; the report follows"
		}
		if m.interrupt != nil {
			m.interrupt()
		}
		// The signal's own message lands on the screen: draw it all again.
		return tea.Tick(200*time.Millisecond, func(time.Time) tea.Msg { return tea.ClearScreen() })
	}
	return nil
}

func (m *Model) consoleKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "ctrl+c":
		if m.running {
			m.console.Interrupt()
			m.status = "interrupting: the command is killed on every host"
		} else {
			m.input.Reset()
		}
		return nil
	case "ctrl+d":
		if m.input.Value() == "" {
			return tea.Quit
		}
	case "up":
		if m.history != nil {
			m.input.SetValue(m.history.Older(m.input.Value()))
			m.input.CursorEnd()
		}
		return nil
	case "down":
		if m.history != nil {
			m.input.SetValue(m.history.Newer())
			m.input.CursorEnd()
		}
		return nil
	case "enter":
		line := m.input.Value()
		m.input.Reset()
		if line == "" {
			return nil
		}
		if m.history != nil {
			if err := m.history.Add(line); err != nil {
				m.status = text.Line(err.Error())
			}
		}
		if line == ":quit" || line == ":q" || line == ":exit" {
			return tea.Quit
		}
		if m.running {
			m.status = "a command is still running: wait for it, or Ctrl-C"
			return nil
		}
		if line[0] != ':' {
			m.begin(line)
		}
		m.console.Submit(line)
		return nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	return cmd
}

// begin marks a console command starting on the selected hosts.
func (m *Model) begin(command string) {
	m.command++
	m.running, m.finished = true, false
	m.status = ""
	for _, p := range m.panes {
		if !p.selected {
			continue
		}
		p.state, p.step, p.worst, p.status, p.note = waiting, "", "", "", ""
		p.started, p.ended = time.Time{}, time.Time{}
		p.add(line{"$ " + text.Line(command), markLine})
	}
}

func (m *Model) apply(e result.Event) {
	i, ok := m.byName[e.Host]
	if !ok {
		return
	}
	p := m.panes[i]
	switch e.Type {
	case result.Connecting:
		p.state, p.started, p.stepSince = connecting, e.Time, e.Time
	case result.Connected:
		p.state = running
	case result.StepStarted:
		p.state, p.step, p.cleanup, p.stepSince = running, text.Line(e.Step), e.Cleanup, e.Time
		p.out, p.outCut, p.partial = p.out[:0], false, p.partial[:0]
		if !e.Cleanup {
			p.stepNo++
		}
		if m.console == nil && (m.steps > 1 || e.Cleanup) {
			name := p.step
			if e.Cleanup {
				name = "cleanup: " + name
			}
			p.add(line{"▸ " + name, markLine})
		}
	case result.Output:
		if e.Dropped > 0 {
			p.add(line{fmt.Sprintf("… %d bytes not shown (the view fell behind; the report keeps them)", e.Dropped), noteLine})
		}
		p.write(e.Data)
	case result.StepDone:
		if len(p.partial) > 0 {
			p.add(line{cleanLine(p.partial), outLine})
			p.partial = p.partial[:0]
		}
		if e.Status != result.OK {
			p.addNote(fmt.Sprintf("%s %s %s", e.Status, p.step, e.Detail))
		}
		p.worst = result.Worse(p.worst, e.Status)
		m.compare(i, e)
	case result.HostDone:
		p.state, p.status, p.ended = done, e.Status, e.Time
	}
}

// compare files a finished step's answer with the other hosts' of the
// same step and marks, as compare.Compare decides over the hosts that
// finished it so far, those that differ. The run's result has the last
// word (finish).
func (m *Model) compare(i int, e result.Event) {
	key := fmt.Sprintf("%d\x00%t\x00%s", m.command, e.Cleanup, e.Step)
	l := m.answers[key]
	if l == nil {
		ids := make([]compare.Identity, len(m.panes))
		for j, p := range m.panes {
			ids[j] = compare.Identity{Name: p.host.Name, Address: p.host.Address, Arch: p.host.Arch}
		}
		l = compare.NewLive(ids)
		m.answers[key] = l
	}
	c := l.Add(i, m.panes[i].answer(e))
	for j, p := range m.panes {
		if p.odd != nil || c.Odd(j) {
			if p.odd == nil {
				p.odd = map[string]bool{}
			}
			p.odd[key] = c.Odd(j)
		}
	}
}

// finish takes the run's result: its comparison (compare.Run), the one
// every report shows, is the word on which hosts differ.
func (m *Model) finish(res *result.Result) {
	m.finished, m.running = true, false
	if res == nil {
		return
	}
	for _, p := range m.panes {
		if p.selected {
			p.odd = nil
		}
	}
	for _, rs := range compare.Run(res) {
		for hi, h := range res.Hosts {
			if i, ok := m.byName[h.Name]; ok && rs.Odd(hi) {
				p := m.panes[i]
				if p.odd == nil {
					p.odd = map[string]bool{}
				}
				p.odd[fmt.Sprintf("%t\x00%s", rs.Cleanup, rs.Name)] = true
			}
		}
	}
	for _, h := range res.Hosts {
		if i, ok := m.byName[h.Name]; ok {
			p := m.panes[i]
			p.state, p.status = done, h.Status
			if p.arch == "" {
				p.arch = text.Line(h.Arch)
			}
			if h.Error != "" {
				p.addNote(h.Error)
			}
		}
	}
	if m.console == nil {
		if m.exitAtEnd {
			m.status = "run ended"
		} else {
			m.status = "run ended: press any key for the report"
		}
	}
}

func (p *pane) isOdd() bool {
	for _, odd := range p.odd {
		if odd {
			return true
		}
	}
	return false
}
