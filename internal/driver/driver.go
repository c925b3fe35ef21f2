// Package driver is the seam between everywhere and its backends (a shell
// over SSH, Docker, Podman, LXD, Incus). A driver is a value that carries
// its step kinds, its inventory block, a probe for `everywhere hosts` and a
// cleaner for `everywhere clean`; its per-connection client is a PerConn.
// A Registry lists the drivers a program offers. The inventory, the runner
// and the renderers never name a backend.
package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/yamlfile"
)

// Conn is one host's connection, as drivers use it.
type Conn interface {
	Host() inventory.Host
	// Exec runs shell text on the host, keeping at most limit bytes per stream.
	Exec(ctx context.Context, command string, limit int) (*host.Output, error)
	// ExecWith is Exec with standard input and/or a terminal.
	ExecWith(ctx context.Context, command string, opts host.ExecOptions, limit int) (*host.Output, error)
	// Subsystem starts a subsystem (sftp) in a new session: its input and
	// output; Close ends the session. An error when the host has none.
	Subsystem(ctx context.Context, name string) (io.ReadWriteCloser, error)
	// DialContext reaches a socket on the host's side (e.g. unix /var/run/docker.sock).
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	// OnClose has f run once when the connection closes (at once if it
	// already has): how clients opened through it are closed with it.
	OnClose(f func())
}

// Target is what an action runs against: a host's connection within a run.
type Target interface {
	Conn
	// RunID names the run, for labels on what it creates.
	RunID() string
	// Detach is a context for undoing what a step made after ctx ended (a
	// cancelled launch, a container to remove, a command to kill): it
	// outlives ctx, and ends after grace or when the run is aborted (a
	// second Ctrl-C).
	Detach(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc)
	// Peers is how a step that spans hosts meets the run's other hosts.
	Peers() Peers
}

// Action is what a step does. An error means the action could not be carried
// out (the host, transport or daemon failed); a command that ran and exited
// non-zero is an Output, not an error.
type Action interface {
	// Command describes what runs, for reports.
	Command() string
	Run(ctx context.Context, target Target, limit int) (*host.Output, error)
}

// ErrNotApplicable, wrapped with the reason, says a step cannot apply to a
// host (an LXD that cannot run the host's architecture): the step is
// skipped with that reason, which is not a failure of the host.
var ErrNotApplicable = errors.New("not applicable here")

// ErrAbsent says the engine a driver reaches is not on the host at all
// (no socket where it would listen); Absent marks an error so. A step that
// needs the engine fails; a cleaner has nothing to clean there.
var ErrAbsent = errors.New("engine not on this host")

// Absent is err, marked as saying the engine is not on the host.
func Absent(err error) error { return absentError{err} }

type absentError struct{ error }

func (e absentError) Is(target error) bool { return target == ErrAbsent }
func (e absentError) Unwrap() error        { return e.error }

// ErrPrerequisite, wrapped with the reason, says an earlier step that this
// one needs did not succeed (an lxd.exec after a failed lxd.launch): the
// step is skipped saying so; the earlier step already counts as the failure.
var ErrPrerequisite = errors.New("skipped")

// ParseFunc builds an action of the named kind from the value under its key.
type ParseFunc func(kind, file string, node *yaml.Node) (Action, error)

// Kind is a step kind: the plan keyword, written once, and its parser.
type Kind struct {
	Name  string
	Parse ParseFunc
}

// Live says whether the run of this id is still running, so a cleaner
// leaves what it owns alone.
type Live func(runID string) bool

// Driver is one backend, a value made by its package's constructor (so
// that Docker and Podman are two drivers of one package, told apart by
// their options) and listed in a Registry.
type Driver struct {
	Name  string
	Kinds []Kind
	// Block decodes the driver's block of a host's inventory entry
	// (`docker:`, `lxd:`), when it has one.
	Block inventory.BlockDecoder
	// Probe finds out what the backend is on a host: it always answers,
	// saying in the facts why the backend is not there when it is not.
	Probe func(ctx context.Context, t Target) host.Facts
	// Clean removes what runs that are no longer live left on a host.
	Clean func(ctx context.Context, t Target, live Live, limit int) (*host.Output, error)
	// Containers, when set, starts containers for steps of other drivers
	// (net.matrix): the driver is then an engine such a step can name.
	Containers StartContainer
}

// Registry is the drivers a program offers, in one list the program hands
// down (restic's backend list is the model): plans find their step kinds
// in it, inventories their blocks, `hosts` its columns. It holds no state
// of its own beyond the list; two registries never share a driver's client.
type Registry struct {
	drivers []*Driver
	kinds   map[string]ParseFunc
}

// NewRegistry lists drivers, in the order given (the order of `hosts`
// columns). Two drivers of one name, kind or block are an error.
func NewRegistry(drivers ...*Driver) (*Registry, error) {
	r := &Registry{kinds: map[string]ParseFunc{}}
	names, blocks := map[string]bool{}, map[string]bool{}
	for _, d := range drivers {
		if names[d.Name] {
			return nil, fmt.Errorf("driver %q listed twice", d.Name)
		}
		names[d.Name] = true
		if d.Block != nil {
			if blocks[d.Block.Name()] {
				return nil, fmt.Errorf("driver %q: inventory block %q is another driver's", d.Name, d.Block.Name())
			}
			blocks[d.Block.Name()] = true
		}
		for _, k := range d.Kinds {
			if _, dup := r.kinds[k.Name]; dup {
				return nil, fmt.Errorf("driver %q: step kind %q is another driver's", d.Name, k.Name)
			}
			r.kinds[k.Name] = k.Parse
		}
		r.drivers = append(r.drivers, d)
	}
	return r, nil
}

// Drivers lists the drivers in the registry's order.
func (r *Registry) Drivers() []*Driver { return slices.Clone(r.drivers) }

// Kinds lists the step kinds, sorted.
func (r *Registry) Kinds() []string {
	names := make([]string, 0, len(r.kinds))
	for k := range r.kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Parser returns the parser of a step kind.
func (r *Registry) Parser(kind string) (ParseFunc, bool) {
	p, ok := r.kinds[kind]
	return p, ok
}

// Blocks lists the drivers' inventory blocks, for inventory.Options.
func (r *Registry) Blocks() []inventory.BlockDecoder {
	var blocks []inventory.BlockDecoder
	for _, d := range r.drivers {
		if d.Block != nil {
			blocks = append(blocks, d.Block)
		}
	}
	return blocks
}

// Bound, embedded in an action (with `yaml:"-"`), holds the driver value
// whose kind parsed it: drivers are values, so an action reaches its client
// through the driver that made it, never through a package variable.
type Bound[D any] struct{ driver D }

// Bind is called by BoundKind once the action is decoded.
func (b *Bound[D]) Bind(d D) { b.driver = d }

// Driver is the driver that parsed the action.
func (b *Bound[D]) Driver() D { return b.driver }

// BoundKind is the step kind name whose actions, of type T decoded by
// Decode, are bound to the driver d.
func BoundKind[T any, P interface {
	*T
	Action
	Bind(D)
}, D any](name string, d D) Kind {
	return Kind{Name: name, Parse: func(kind, file string, node *yaml.Node) (Action, error) {
		a, err := Decode[T, P](kind, file, node)
		if err != nil {
			return nil, err
		}
		a.(P).Bind(d)
		return a, nil
	}}
}

// Validator is implemented by actions that check their fields once decoded.
type Validator interface{ Validate() error }

// Decode is the ParseFunc of an action whose YAML is its struct's fields:
// decoded strictly (unknown keys are errors), then validated. An empty value
// (`docker.version:`) decodes as no fields.
func Decode[T any, P interface {
	*T
	Action
}](kind, file string, node *yaml.Node) (Action, error) {
	var action T
	if node.Tag == "!!null" {
		node = &yaml.Node{Kind: yaml.MappingNode, Line: node.Line}
	}
	if err := yamlfile.Decode(file, node, &action); err != nil {
		return nil, err
	}
	if v, ok := any(&action).(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, yamlfile.Errorf(file, node, "%s: %v", kind, err)
		}
	}
	return P(&action), nil
}

// Unavailable is the facts of a backend that did not answer, and why.
func Unavailable(err error) host.Facts {
	return host.Facts{Reason: err.Error()}
}

// Leftover is something a run created that a cleaner found on a host.
type Leftover struct {
	Name   string                          // as reports show it: "container 3f2a9c1b0d4e (debian)"
	Run    string                          // the id of the run that created it
	Remove func(ctx context.Context) error // removes it; one already gone is no error
}

// Sweep removes the leftovers of runs that are not live, keeps the others,
// and says so a line each ("removed container … of run …"); none is the line
// when nothing was removed. It is what every driver's cleaner ends with.
func Sweep(ctx context.Context, leftovers []Leftover, live Live, verb, none string, limit int) (*host.Output, error) {
	out := host.NewOutputFor(ctx, limit)
	removed := 0
	for _, l := range leftovers {
		if live(l.Run) {
			fmt.Fprintf(&out.Stdout, "kept %s: run %s is still running\n", l.Name, l.Run)
			continue
		}
		if err := l.Remove(ctx); err != nil {
			return out, err
		}
		removed++
		fmt.Fprintf(&out.Stdout, "%s %s of run %s\n", verb, l.Name, l.Run)
	}
	if removed == 0 {
		fmt.Fprintln(&out.Stdout, none)
	}
	return out, nil
}

type timeScaleKey struct{}

// WithTimeScale says that the step ctx belongs to runs under a time limit
// scaled by factor (timeout_scale on an emulated host), so that an action
// with time limits of its own inside the step can scale them alike.
func WithTimeScale(ctx context.Context, factor float64) context.Context {
	return context.WithValue(ctx, timeScaleKey{}, factor)
}

// TimeScale is ctx's factor from WithTimeScale, or 1.
func TimeScale(ctx context.Context) float64 {
	if f, ok := ctx.Value(timeScaleKey{}).(float64); ok && f > 0 {
		return f
	}
	return 1
}

// Scaled is the time limit d scaled by ctx's factor (TimeScale).
func Scaled(ctx context.Context, d time.Duration) time.Duration {
	return time.Duration(float64(d) * TimeScale(ctx))
}
