package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/spf13/pflag"

	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/result"
	"everywhere/internal/run"
	"everywhere/internal/tiles"
)

// tileOptions are the flags of the live panes (run and exec).
type tileOptions struct {
	on     bool
	exit   bool
	record string
}

func (t *tileOptions) register(f *pflag.FlagSet) {
	f.BoolVar(&t.on, "tiles", false, "full screen, a pane per host tiled to fit, each host's output streaming in as it\narrives; the report follows when a key is pressed (without a terminal: the usual progress)")
	f.BoolVar(&t.exit, "tiles-exit", false, "with --tiles: leave the panes as soon as the run ends, without waiting for a key")
	f.StringVar(&t.record, "record", "", "with --tiles: record the screen to this file as an asciicast v2 (asciinema play FILE.cast)")
}

// use makes the run show in panes, when asked and stderr is a terminal.
func (t *tileOptions) use(o *fleetOptions, stderr io.Writer) error {
	if !t.on {
		if t.exit || t.record != "" {
			return usagef("--tiles-exit and --record go with --tiles")
		}
		return nil
	}
	f, ok := stderr.(*os.File)
	if !ok || !tiles.Usable(f) {
		fmt.Fprintln(stderr, "everywhere: --tiles needs a terminal on stderr; showing the usual progress")
		return nil
	}
	o.view = func(ctx context.Context, r *run.Runner, targets []inventory.Host, p *plan.Plan) *result.Result {
		var screen *tiles.Screen
		presses := 0
		interrupt := func() {
			// The third Ctrl-C ends the process at once (see main): the
			// terminal is given back first. On the view's goroutine, so
			// screen is set by then.
			if presses++; presses >= 3 {
				go func() { _ = screen.Release(); interruptSelf() }()
				return
			}
			interruptSelf()
		}
		m := tiles.New(viewHosts(targets), tiles.Options{Title: viewTitle(p), Steps: len(p.Steps), ExitAtEnd: t.exit, Interrupt: interrupt})
		screen, err := tiles.Start(f, m, t.record)
		if err != nil {
			fmt.Fprintf(stderr, "everywhere: --tiles: %v; running without panes\n", err)
			return r.Run(ctx, targets, p)
		}
		res := runWatched(ctx, r, targets, p, screen.Feed)
		screen.Send(tiles.FinishedMsg{Result: res})
		if err := screen.Wait(); err != nil {
			fmt.Fprintf(stderr, "everywhere: --tiles: %v\n", err)
		}
		return res
	}
	return nil
}

func viewHosts(targets []inventory.Host) []tiles.Host {
	hosts := make([]tiles.Host, len(targets))
	for i, h := range targets {
		hosts[i] = tiles.Host{Name: h.Name, Arch: string(h.Arch), Address: h.Addr()}
	}
	return hosts
}

func viewTitle(p *plan.Plan) string {
	if p.Name == "exec" && len(p.Steps) == 1 {
		return "exec · " + p.Steps[0].Action.Command()
	}
	return "run · " + p.Name
}

// interruptSelf is Ctrl-C typed into the panes: the terminal is raw, so it
// arrives as a key; it becomes the signal it would have been, and the
// command's own handler does what it always does.
func interruptSelf() { _ = syscall.Kill(os.Getpid(), syscall.SIGINT) }
