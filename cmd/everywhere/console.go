package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"

	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/report"
	"everywhere/internal/result"
	"everywhere/internal/run"
	"everywhere/internal/sshconn"
	"everywhere/internal/text"
	"everywhere/internal/tiles"
)

type consoleOptions struct {
	fleetOptions
	record string
}

func newConsoleCommand(stderr io.Writer) *cobra.Command {
	var o consoleOptions
	c := &cobra.Command{
		Use:   "console [-i INVENTORY | -H HOSTS] [--hosts SEL]",
		Short: "Type a command once, watch every selected host answer in its own pane",
		Long: `Connect once to every selected host, then show a pane per host and a prompt: each
line typed runs on every selected host at once, over the connections kept open (a new
session each time), and each host's output streams into its pane as it arrives. Panes
whose answer departs from the others' are marked ≠.

At the prompt:
  COMMAND      shell text, run by each host's shell (as exec runs it)
  :hosts SEL   send the next commands to these hosts (as --hosts selects; empty: all)
  :save DIR    write the last command's result there (result.json, junit.xml,
               report.md, report.txt)
  :help        this list, in short
  :quit        leave (or Ctrl-D on an empty line)
  Up, Down     earlier lines, kept in $XDG_STATE_HOME/everywhere/console_history
  Ctrl-C       stop the command running (killed on every host)

A host whose connection dropped is connected again for the next command, and its pane
says so. Commands get no terminal: full-screen programs (top, vim, less) and programs
that ask for input are out of scope; use ssh for those.`,
		Example: `  everywhere console -i /var/lib/everywhere/lab/inventory.yaml
  everywhere console -i /var/lib/everywhere/lab/inventory.yaml --record console.cast
  everywhere console -H web1,web2,db --hosts 'web*' --record demo.cast`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConsole(cmd.Context(), &o, stderr)
		},
	}
	o.fleetOptions.register(c.Flags())
	c.Flags().StringVar(&o.record, "record", "", "record the screen to this file as an asciicast v2 (asciinema play FILE.cast)")
	return c
}

func runConsole(ctx context.Context, o *consoleOptions, stderr io.Writer) error {
	f, ok := stderr.(*os.File)
	if !ok || !tiles.Usable(f) {
		return usagef("console needs a terminal (stderr is not one); for scripts, use everywhere exec")
	}
	selection := o.selection
	o.selection = ""
	all, err := o.targets()
	if err != nil {
		return err
	}
	o.warn(stderr)
	source := o.inventory
	if o.adHoc != "" {
		source = "-H " + o.adHoc
	}
	selected, err := (&inventory.Inventory{File: source, Hosts: all}).Select(selection)
	if err != nil {
		return usageError{err}
	}
	history, err := tiles.OpenHistory(filepath.Join(filepath.Dir(run.LeaseDir()), "console_history"))
	if err != nil {
		return err
	}
	c := &console{ctx: ctx, source: source, all: all, selected: selected, pool: newPool(sshconn.NewDialer(o.acceptNewHostKeys, o.maxHandshakes))}
	defer c.pool.close()
	c.runner = o.runner(ctx, c.pool.connect)
	m := tiles.New(viewHosts(all), tiles.Options{Title: "console", Console: c, History: history})
	c.screen, err = tiles.Start(f, m, o.record)
	if err != nil {
		return err
	}
	c.pool.note = func(host, text string) { c.screen.Send(tiles.NoteMsg{Host: host, Text: text, Title: true}) }
	c.screen.Send(tiles.SelectMsg{Hosts: names(selected)})
	c.start("", &plan.Plan{Name: "connect"}) // connect once to every selected host
	stop := context.AfterFunc(ctx, func() { c.screen.Send(tea.QuitMsg{}) })
	defer stop()
	err = c.screen.Wait()
	c.interruptAndWait()
	return err
}

// console carries out what is typed at the prompt.
type console struct {
	ctx    context.Context
	screen *tiles.Screen
	runner *run.Runner
	pool   *pool

	source   string // where the hosts come from, for :hosts errors
	mu       sync.Mutex
	all      []inventory.Host
	selected []inventory.Host
	last     *result.Result
	cancel   context.CancelFunc // the command running
	previous chan struct{}      // closed when the last command started has ended
	wg       sync.WaitGroup
}

// Submit is called on the view's goroutine: the work goes to another.
func (c *console) Submit(line string) {
	directive, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch directive {
	case ":hosts":
		go c.selectHosts(strings.TrimSpace(arg))
	case ":save":
		go c.save(strings.TrimSpace(arg))
	case ":help":
		go c.screen.Send(tiles.StatusMsg("COMMAND on every selected host · :hosts SEL · :save DIR · :quit · Up/Down history · Ctrl-C stops a command · everywhere console --help"))
	default:
		if strings.HasPrefix(line, ":") {
			go c.screen.Send(tiles.StatusMsg(fmt.Sprintf("%s: not a directive (:hosts SEL, :save DIR, :help, :quit)", directive)))
			return
		}
		c.start(line, plan.Command([]string{line}))
	}
}

// start runs p on the selected hosts, its output into the panes.
func (c *console) start(command string, p *plan.Plan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithCancel(c.ctx)
	c.cancel = cancel
	targets := c.selected
	previous, finished := c.previous, make(chan struct{})
	c.previous = finished
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(finished)
		defer cancel()
		if previous != nil {
			<-previous // one run at a time: the first connects
		}
		res := runWatched(ctx, c.runner, targets, p, c.screen.Feed)
		c.learnArchs(res)
		if command != "" {
			c.mu.Lock()
			c.last = res
			c.mu.Unlock()
		}
		c.screen.Send(tiles.FinishedMsg{Result: res})
	}()
}

// learnArchs keeps the archs the runner detected (hosts named with -H), so
// that the next commands need not ask again.
func (c *console) learnArchs(res *result.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	detected := map[string]string{}
	for _, h := range res.Hosts {
		if h.ArchDetected {
			detected[h.Name] = h.Arch
		}
	}
	for _, list := range [][]inventory.Host{c.all, c.selected} {
		for i := range list {
			if a, err := host.ParseArch(detected[list[i].Name]); err == nil {
				list[i].Arch = a
			}
		}
	}
}

// Interrupt stops the command running: its sessions get SIGKILL.
func (c *console) Interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
}

func (c *console) interruptAndWait() {
	c.Interrupt()
	c.wg.Wait()
}

func (c *console) selectHosts(sel string) {
	c.mu.Lock()
	chosen, err := (&inventory.Inventory{File: c.source, Hosts: c.all}).Select(sel)
	if err == nil {
		c.selected = chosen
	}
	c.mu.Unlock()
	if err != nil {
		c.screen.Send(tiles.StatusMsg(":hosts: " + err.Error()))
		return
	}
	c.screen.Send(tiles.SelectMsg{Hosts: names(chosen)})
	c.screen.Send(tiles.StatusMsg(fmt.Sprintf("%s selected: %s", text.Count(len(chosen), "host", "hosts"), strings.Join(names(chosen), ", "))))
}

// consoleFormats are what :save writes.
var consoleFormats = []string{"json", "junit", "md", "side"}

func (c *console) save(dir string) {
	c.mu.Lock()
	res := c.last
	c.mu.Unlock()
	switch {
	case dir == "":
		c.screen.Send(tiles.StatusMsg(":save DIR: name the folder"))
		return
	case res == nil:
		c.screen.Send(tiles.StatusMsg(":save: no command has run yet"))
		return
	}
	saved, err := saveReports(dir, res, consoleFormats, report.SideOptions{Width: report.DefaultWidth, MaxLines: report.DefaultMaxLines, Layout: report.LayoutAuto})
	if err != nil {
		c.screen.Send(tiles.StatusMsg(":save: " + err.Error()))
		return
	}
	c.screen.Send(tiles.StatusMsg("saved " + strings.Join(saved, ", ")))
}

func names(hosts []inventory.Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return out
}

// pool keeps one connection per host open across the console's commands;
// the runner's Close of a kept connection leaves it open. A connection that
// closed (the link dropped, the host rebooted) is dialled again when the
// next command needs it, and the host's pane says so.
type pool struct {
	dialer *sshconn.Dialer
	note   func(host, text string)
	mu     sync.Mutex
	conns  map[string]*keptConn
}

type keptConn struct {
	*sshconn.Conn
	closed atomic.Bool
}

// Close leaves the connection open for the next command.
func (*keptConn) Close() error { return nil }

func newPool(d *sshconn.Dialer) *pool {
	return &pool{dialer: d, conns: map[string]*keptConn{}}
}

func (p *pool) connect(ctx context.Context, h inventory.Host) (run.Conn, error) {
	p.mu.Lock()
	kept := p.conns[h.Name]
	p.mu.Unlock()
	if kept != nil && !kept.closed.Load() {
		return kept, nil
	}
	c, err := p.dialer.Dial(ctx, h)
	if err != nil {
		return nil, err
	}
	fresh := &keptConn{Conn: c}
	c.OnClose(func() { fresh.closed.Store(true) })
	p.mu.Lock()
	p.conns[h.Name] = fresh
	p.mu.Unlock()
	if kept != nil && p.note != nil {
		p.note(h.Name, "reconnected: the connection had dropped")
	}
	return fresh, nil
}

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Conn.Close()
	}
}
