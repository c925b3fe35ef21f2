package driver

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"everywhere/internal/host"
)

// Peers lets the hosts of one run meet inside a step that spans hosts
// (net.matrix): every host's container is up before any pair is measured,
// none is removed while another host still measures it, and measurements
// that must not overlap take turns. Hosts otherwise never wait for each
// other, so this is the one place where they do.
type Peers interface {
	// Hosts names every host of the run, in inventory order.
	Hosts() []string
	// Gather publishes value under key and waits until every host of the
	// run has published under key or never will (it failed to connect, or
	// its steps are over). It returns what was published, by host name.
	Gather(ctx context.Context, key string, value []byte) (map[string][]byte, error)
	// Lock takes the run-wide lock named key; unlock gives it back.
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// SpansHosts is implemented by the actions of steps that meet the run's
// other hosts (through Peers): they cannot run in cleanup, which a host
// reaches once it has left the meeting.
type SpansHosts interface{ SpansHosts() }

// Container is a container a step started on a host.
type Container interface {
	// Name is how the engine names it, for messages.
	Name() string
	// Address is its IPv4 address on the network it was started on.
	Address() string
	// Ready is the first line its command printed on standard output.
	Ready() string
	// Exec runs argv in it and waits, keeping at most limit bytes per stream.
	Exec(ctx context.Context, argv []string, limit int) (*host.Output, error)
	// Remove stops and removes it; one already gone is no error.
	Remove(ctx context.Context) error
}

// ContainerSpec is what container to start: the host's architecture, and
// files put in place before its command starts.
type ContainerSpec struct {
	Image   string // empty: an image made of Files alone, for the host's architecture
	Network string // empty: the engine's default network
	Cmd     []string
	Files   []File
}

// ReadyWait bounds waiting for a started container's first line: a
// command that has printed nothing by then (stuck under emulation) fails
// its host instead of holding every host of the run.
const ReadyWait = 2 * time.Minute

// File is a file put into a container.
type File struct {
	Path string
	Mode os.FileMode
	Data []byte
}

// StartContainer starts a container on a host and returns once its
// command printed its first line (or failed). The container carries the
// run's id, so `everywhere clean` finds it if the run is killed.
type StartContainer func(ctx context.Context, t Target, spec ContainerSpec) (Container, error)

// Engines is the container starters of engines, by driver name: what a
// step that starts containers (net.matrix) is given when it is made.
type Engines map[string]StartContainer

// EnginesOf is the starters of those of drivers that start containers.
func EnginesOf(drivers ...*Driver) Engines {
	e := Engines{}
	for _, d := range drivers {
		if d.Containers != nil {
			e[d.Name] = d.Containers
		}
	}
	return e
}

// Lookup returns the container starter of the named engine.
func (e Engines) Lookup(engine string) (StartContainer, error) {
	if start, ok := e[engine]; ok {
		return start, nil
	}
	names := make([]string, 0, len(e))
	for name := range e {
		names = append(names, name)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("engine %q starts no containers (engines that do: %v)", engine, names)
}

// Meeting is the runner's side of Peers for one run: it knows which hosts
// may still arrive.
type Meeting struct {
	hosts    []string
	parallel int // hosts worked on at once; a gathering needs every host at once

	mu       sync.Mutex
	gone     map[string]bool
	gathered map[string]map[string][]byte
	changed  chan struct{} // closed and replaced whenever the above change
	locks    map[string]chan struct{}
}

// NewMeeting is the meeting of a run over hosts, of which parallel are
// worked on at once.
func NewMeeting(hosts []string, parallel int) *Meeting {
	return &Meeting{hosts: hosts, parallel: parallel, gone: map[string]bool{}, gathered: map[string]map[string][]byte{},
		changed: make(chan struct{}), locks: map[string]chan struct{}{}}
}

// Hosts names every host of the run.
func (m *Meeting) Hosts() []string { return m.hosts }

// Leave says that name will publish nothing more: its steps are over.
func (m *Meeting) Leave(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gone[name] = true
	m.broadcast()
}

func (m *Meeting) broadcast() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// Gather publishes name's value under key; see Peers.
func (m *Meeting) Gather(ctx context.Context, name, key string, value []byte) (map[string][]byte, error) {
	if m.parallel < len(m.hosts) {
		return nil, fmt.Errorf("this step needs all %d hosts of the run at once, and --parallel is %d", len(m.hosts), m.parallel)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gathered[key] == nil {
		m.gathered[key] = map[string][]byte{}
	}
	values := m.gathered[key]
	values[name] = value
	m.broadcast()
	for {
		var waiting []string
		for _, h := range m.hosts {
			if _, ok := values[h]; !ok && !m.gone[h] {
				waiting = append(waiting, h)
			}
		}
		if len(waiting) == 0 {
			out := make(map[string][]byte, len(values))
			for h, v := range values {
				out[h] = v
			}
			return out, nil
		}
		changed := m.changed
		m.mu.Unlock()
		select {
		case <-changed:
			m.mu.Lock()
		case <-ctx.Done():
			m.mu.Lock()
			return nil, fmt.Errorf("waiting at %q for %s: %w", key, waitingFor(waiting), ctx.Err())
		}
	}
}

// waitingFor names the hosts a gathering waits for, a few of them.
func waitingFor(hosts []string) string {
	if len(hosts) > 5 {
		return fmt.Sprintf("%s and %d more hosts", strings.Join(hosts[:5], ", "), len(hosts)-5)
	}
	return strings.Join(hosts, ", ")
}

// Lock takes the run-wide lock named key; see Peers.
func (m *Meeting) Lock(ctx context.Context, key string) (func(), error) {
	m.mu.Lock()
	lock, ok := m.locks[key]
	if !ok {
		lock = make(chan struct{}, 1)
		m.locks[key] = lock
	}
	m.mu.Unlock()
	select {
	case lock <- struct{}{}:
		return func() { <-lock }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// For is name's view of the meeting, as its steps use it.
func (m *Meeting) For(name string) Peers { return peersOf{m, name} }

type peersOf struct {
	m    *Meeting
	name string
}

func (p peersOf) Hosts() []string { return p.m.Hosts() }
func (p peersOf) Gather(ctx context.Context, key string, value []byte) (map[string][]byte, error) {
	return p.m.Gather(ctx, p.name, key, value)
}
func (p peersOf) Lock(ctx context.Context, key string) (func(), error) { return p.m.Lock(ctx, key) }
