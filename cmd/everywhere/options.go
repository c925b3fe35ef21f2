package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"everywhere/internal/driver"
	"everywhere/internal/drivers"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/report"
	"everywhere/internal/result"
	"everywhere/internal/run"
	"everywhere/internal/sshconn"
	"everywhere/internal/text"
)

// fleetOptions are the flags of every command that reaches hosts.
type fleetOptions struct {
	inventory         string
	adHoc             string
	sshConfig         string
	sshResolver       string
	playbookDir       string
	strictInventory   bool
	selection         string
	parallel          int
	maxHandshakes     int
	retries           int
	acceptNewHostKeys bool
	stepTimeout       time.Duration
	cleanupTimeout    time.Duration
	outputLimit       int
	noProgress        bool
	shard             shardFlag
	flags             *pflag.FlagSet      // to tell -i given from its default
	warnings          []inventory.Warning // what the inventory names but the run leaves out
	drivers           *driver.Registry
	// view, when set, shows the run instead of the progress lines (--tiles).
	view func(ctx context.Context, r *run.Runner, targets []inventory.Host, p *plan.Plan) *result.Result
	// configure, when set, sets what the flags above do not (run's own).
	configure func(*run.Runner)
}

func (o *fleetOptions) register(f *pflag.FlagSet) {
	o.flags = f
	o.drivers = drivers.All() // handed down to the inventory, the plan, hosts and clean
	f.StringVarP(&o.inventory, "inventory", "i", envOr("EVERYWHERE_INVENTORY", "inventory.yaml"), "inventory file (hosts, arch, how to reach them): everywhere's YAML, or an Ansible INI or\nYAML inventory or inventory folder (groups become labels); $EVERYWHERE_INVENTORY")
	f.StringVarP(&o.adHoc, "hosts-list", "H", "", "hosts to reach without an inventory: HOST[,HOST...] or @FILE (one a line, # comments),\neach [user@]host[:port] or an ssh alias; their arch is detected (uname -m)")
	f.StringVar(&o.sshConfig, "ssh-config", "", "OpenSSH client config resolving host aliases, users, keys and ProxyJump\n(default: the inventory's defaults.ssh_config, else ~/.ssh/config then /etc/ssh/ssh_config; \"none\": none)")
	f.StringVar(&o.playbookDir, "ansible-playbook-dir", "", "a playbook's folder: its group_vars/ and host_vars/ apply to an Ansible inventory's hosts\n(over the inventory's own), as with ansible-playbook")
	f.BoolVar(&o.strictInventory, "strict-inventory", false, "refuse an Ansible inventory with hosts everywhere cannot reach as Ansible would\n(local, winrm, passwords, ssh options not followed) instead of leaving them out with a warning")
	f.StringVar(&o.sshResolver, "ssh-resolver", "", "how the ssh config is resolved: openssh (ssh -G, the default where ssh is installed)\nor builtin (everywhere's own); $EVERYWHERE_SSH_RESOLVER")
	f.StringVar(&o.selection, "hosts", "", "select hosts: NAME or GLOB, arch=ARCH, label=LABEL, comma-separated\n(same kind: any of them; different kinds: all of them)")
	intAtLeastOne(f, &o.parallel, "parallel", run.DefaultParallel, "hosts worked on at once")
	intAtLeastOne(f, &o.maxHandshakes, "max-handshakes", sshconn.DefaultMaxHandshakes, "SSH handshakes in flight at once (paces dialling a big fleet)")
	intNotNegative(f, &o.retries, "retries", 2, "dial a host this many more times when it could not be reached\n(refused, reset, timed out; never for a host key or login refused), with jittered backoff")
	f.BoolVar(&o.acceptNewHostKeys, "accept-new-host-keys", false, "trust and record keys of hosts not yet in known_hosts\n(a changed key is always refused)")
	durationNotNegative(f, &o.stepTimeout, "timeout", 0, "time limit of each step that sets none itself (default: the plan's, else 5m)")
	durationNotNegative(f, &o.cleanupTimeout, "cleanup-timeout", run.DefaultCleanupTimeout, "time limit of a host's cleanup steps, which run even after Ctrl-C")
	intAtLeastOne(f, &o.outputLimit, "output-limit", host.DefaultOutputLimit, "bytes of each output stream kept per step; the rest is counted and marked")
	f.BoolVar(&o.noProgress, "no-progress", false, "no live progress on stderr")
	f.Var(&o.shard, "shard", shardUsage)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// targets loads the inventory, or the -H hosts, and applies --hosts.
func (o *fleetOptions) targets() ([]inventory.Host, error) {
	opts := inventory.Options{SSHConfig: o.sshConfig, SSHResolver: o.sshResolver, PlaybookDir: o.playbookDir, Strict: o.strictInventory,
		Blocks: append(o.drivers.Blocks(), run.Blocks()...)}
	var inv *inventory.Inventory
	var err error
	switch {
	case o.adHoc != "" && o.flags != nil && o.flags.Changed("inventory"):
		return nil, usagef("-H and -i both name the hosts: give one of them")
	case o.adHoc != "":
		inv, err = inventory.AdHoc(o.adHoc, opts)
	default:
		// Only the inventory itself missing earns the hint; a missing
		// ssh config it names is reported as such.
		if _, statErr := os.Stat(o.inventory); errors.Is(statErr, os.ErrNotExist) {
			return nil, usagef("inventory %s not found: pass -i FILE (see inventory.example.yaml), or name hosts with -H", o.inventory)
		}
		inv, err = inventory.Load(o.inventory, opts)
	}
	if err != nil {
		return nil, usageError{err}
	}
	o.warnings = inv.Warnings
	selected, err := inv.Select(o.selection)
	if err != nil {
		return nil, usageError{err}
	}
	return o.shard.hosts(selected), nil
}

// execute runs p on the selected hosts with live progress on stderr. The
// run holds its lease meanwhile, so `everywhere clean` leaves it alone.
func (o *fleetOptions) execute(ctx context.Context, stderr io.Writer, targets []inventory.Host, p *plan.Plan) (res *result.Result) {
	defer func() { res.Version = releaseVersion() }()
	o.warn(stderr)
	runID := run.NewRunID()
	if release, err := run.Hold(runID); err != nil {
		fmt.Fprintf(stderr, "everywhere: warning: %v: a concurrent everywhere clean could remove what this run creates\n", err)
	} else {
		defer release()
	}
	r := o.runner(ctx, run.Connector(sshconn.NewDialer(o.acceptNewHostKeys, o.maxHandshakes).Dial))
	r.RunID = runID
	if o.configure != nil {
		o.configure(r)
	}
	if o.view != nil {
		return o.view(ctx, r, targets, p)
	}
	if o.noProgress {
		return r.Run(ctx, targets, p)
	}
	names := make([]string, len(targets))
	for i, h := range targets {
		names[i] = h.Name
	}
	tty, width := terminal(stderr)
	progress := report.NewProgress(stderr, tty, names, len(p.Steps))
	progress.Width = width
	return runWatched(ctx, r, targets, p, progress.Run)
}

// warn prints what the inventory names but the run leaves out.
func (o *fleetOptions) warn(stderr io.Writer) {
	for _, w := range o.warnings {
		fmt.Fprintf(stderr, "everywhere: warning: %s\n", text.Line(w.String()))
	}
}

// runWatched runs p with its events going to watch, which drains them
// until the channel is closed, when the run is over.
func runWatched(ctx context.Context, r *run.Runner, targets []inventory.Host, p *plan.Plan, watch func(<-chan result.Event)) *result.Result {
	events := make(chan result.Event, 1024)
	done := make(chan struct{})
	go func() {
		watch(events)
		close(done)
	}()
	r.Events = events
	res := r.Run(ctx, targets, p)
	close(events)
	<-done
	return res
}

// runner is a Runner as the flags say, reaching hosts with connect.
func (o *fleetOptions) runner(ctx context.Context, connect run.ConnectFunc) *run.Runner {
	return &run.Runner{
		Connect:        connect,
		Retries:        o.retries,
		Transient:      sshconn.Transient,
		Parallel:       o.parallel,
		Connecting:     o.maxHandshakes, // the dialer's cap: hosts waiting for it need no goroutine
		OutputLimit:    o.outputLimit,
		StepTimeout:    o.stepTimeout,
		CleanupTimeout: o.cleanupTimeout,
		Abort:          abortOf(ctx),
	}
}

// terminal says whether w is a terminal, and its width.
func terminal(w io.Writer) (bool, int) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return true, 0
	}
	return true, width
}

// renderOptions are the flags of every command that prints a report.
type renderOptions struct {
	format   string
	width    int
	color    string
	maxLines int
	output   string
	group    bool
	layout   string
	flags    *pflag.FlagSet // to tell --group=false from no --group
}

func (o *renderOptions) register(f *pflag.FlagSet, withOutputDir bool) {
	f.StringVar(&o.format, "format", "side", "report on stdout: "+strings.Join(report.Formats, ", "))
	o.flags = f
	f.IntVar(&o.width, "width", 0, "columns of the side-by-side view (default: the terminal's, else $COLUMNS, else 120)")
	f.StringVar(&o.layout, "layout", "auto", "side-by-side view: panes (a pane per host, three across), columns (a column per host)\nor groups (a block per distinct answer of each step, headed by its hosts); auto: panes\nfor 3 to 9 hosts when the width holds three, else columns when the hosts fit, else groups")
	f.BoolVar(&o.group, "group", false, "the same as --layout groups (--group=false: --layout columns)")
	f.StringVar(&o.color, "color", "auto", "colour the side-by-side view: auto, always, never")
	f.IntVar(&o.maxLines, "max-lines", report.DefaultMaxLines, "output lines shown per cell of the side-by-side view")
	if withOutputDir {
		f.StringVarP(&o.output, "output-dir", "o", "", "also save result.json, report.txt, junit.xml, report.md and report.html into this folder")
	}
}

func (o *renderOptions) check() error {
	if !contains(report.Formats, o.format) {
		return usagef("--format %q: use one of %s", o.format, strings.Join(report.Formats, ", "))
	}
	if !contains([]string{"auto", "always", "never"}, o.color) {
		return usagef("--color %q: use auto, always or never", o.color)
	}
	if o.width < 0 {
		return usagef("--width %d: give a number of columns", o.width)
	}
	if _, err := report.ParseLayout(o.layout); err != nil {
		return usagef("--layout: %v", err)
	}
	if o.flags != nil && o.flags.Changed("group") && o.flags.Changed("layout") {
		return usagef("--group and --layout: give one")
	}
	return nil
}

// sideOptions shape the side view for stdout: --width, else the
// terminal's width when stdout is one, else $COLUMNS, else 120.
func (o *renderOptions) sideOptions(tty bool, termWidth int, columns string) report.SideOptions {
	opts := report.SideOptions{Width: o.width, MaxLines: o.maxLines, Color: o.color == "always" || (o.color == "auto" && tty && os.Getenv("NO_COLOR") == "")}
	if opts.Width == 0 && tty {
		opts.Width = termWidth
	}
	if n, err := strconv.Atoi(strings.TrimSpace(columns)); opts.Width == 0 && err == nil && n > 0 {
		opts.Width = n
	}
	if opts.Width == 0 {
		opts.Width = report.DefaultWidth
	}
	switch {
	case o.flags != nil && o.flags.Changed("group") && o.group:
		opts.Layout = report.LayoutGroups
	case o.flags != nil && o.flags.Changed("group"):
		opts.Layout = report.LayoutColumns
	default:
		opts.Layout, _ = report.ParseLayout(o.layout) // checked by check
	}
	return opts
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// render writes the report to stdout and, with -o, every format to files.
func (o *renderOptions) render(stdout, stderr io.Writer, res *result.Result) error {
	tty, width := terminal(stdout)
	opts := o.sideOptions(tty, width, os.Getenv("COLUMNS"))
	if err := report.Render(stdout, o.format, res, opts); err != nil {
		return err
	}
	if o.output == "" {
		return nil
	}
	saved, err := saveReports(o.output, res, report.Formats, report.SideOptions{Width: report.DefaultWidth, MaxLines: o.maxLines, Layout: opts.Layout})
	if err != nil {
		return fmt.Errorf("-o: %w", err)
	}
	fmt.Fprintf(stderr, "saved %s\n", strings.Join(saved, ", "))
	return nil
}

// saveReports writes res in each format into dir, under its usual name,
// and returns the files written.
func saveReports(dir string, res *result.Result, formats []string, opts report.SideOptions) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var saved []string
	for _, format := range formats {
		file := filepath.Join(dir, report.FileName(format))
		f, err := os.Create(file)
		if err != nil {
			return saved, err
		}
		err = report.Render(f, format, res, opts)
		if closeErr := f.Close(); err == nil {
			err = closeErr
		}
		if err != nil {
			return saved, fmt.Errorf("writing %s: %w", file, err)
		}
		saved = append(saved, file)
	}
	return saved, nil
}

// runAndReport runs p on the selected hosts, reports the result and
// returns the exit status: what run, exec and clean do.
func runAndReport(ctx context.Context, o *runOptions, stdout, stderr io.Writer, p *plan.Plan) error {
	if err := o.check(); err != nil {
		return err
	}
	if err := o.tiles.use(&o.fleetOptions, stderr); err != nil {
		return err
	}
	targets, err := o.targets()
	if err != nil {
		return err
	}
	if o.release != nil {
		if targets, err = o.release.prepare(stderr, &o.fleetOptions, &o.renderOptions, targets, p); err != nil {
			return err
		}
	}
	res := o.execute(ctx, stderr, targets, p)
	o.shard.record(stderr, res)
	if o.release != nil {
		if res, err = o.release.finish(res); err != nil {
			return err
		}
	}
	if err := o.render(stdout, stderr, res); err != nil {
		return err
	}
	return finish(res)
}
