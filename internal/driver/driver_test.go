package driver

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/host"
	"everywhere/internal/inventory"
)

type noop struct{ text string }

func (n noop) Command() string { return n.text }
func (noop) Run(context.Context, Target, int) (*host.Output, error) {
	return host.NewOutput(16), nil
}

func parseNoop(kind, _ string, node *yaml.Node) (Action, error) {
	return noop{kind + " " + node.Value}, nil
}

// TestRegistry: a driver's kinds are found by the names written once in
// it, each parser gets its own kind's name, drivers keep the order given,
// and a second driver, kind or block of one name is refused.
func TestRegistry(t *testing.T) {
	block := inventory.NewBlock("test", func(inventory.BlockSource) (string, error) { return "", nil })
	one := &Driver{Name: "test", Block: block, Kinds: []Kind{{Name: "test.one", Parse: parseNoop}, {Name: "test.two", Parse: parseNoop}}}
	other := &Driver{Name: "alpha"}
	r, err := NewRegistry(one, other)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"test.one", "test.two"} {
		parse, ok := r.Parser(kind)
		if !ok {
			t.Fatalf("%s not listed (kinds: %v)", kind, r.Kinds())
		}
		a, err := parse(kind, "p.yaml", &yaml.Node{Kind: yaml.ScalarNode, Value: "x"})
		if err != nil || a.Command() != kind+" x" {
			t.Errorf("%s parsed as %v, %v", kind, a, err)
		}
	}
	if _, ok := r.Parser("test.three"); ok {
		t.Error("an unlisted kind was found")
	}
	if ds := r.Drivers(); len(ds) != 2 || ds[0] != one || ds[1] != other {
		t.Errorf("drivers %v, want test then alpha, as given", ds)
	}
	if bs := r.Blocks(); len(bs) != 1 || bs[0].Name() != "test" {
		t.Errorf("blocks %v", bs)
	}
	for _, dup := range []*Driver{
		{Name: "test"}, // the driver again
		{Name: "other", Kinds: []Kind{{Name: "test.two", Parse: parseNoop}}}, // a kind again
		{Name: "third", Block: block},                                        // a block again
	} {
		if _, err := NewRegistry(one, dup); err == nil {
			t.Errorf("listing %+v beside test: no error", dup)
		}
	}
}

// TestEngines: a step names an engine by its driver's name; one that starts
// no containers is refused, naming those that do.
func TestEngines(t *testing.T) {
	start := func(context.Context, Target, ContainerSpec) (Container, error) { return nil, nil }
	e := EnginesOf(&Driver{Name: "docker", Containers: start}, &Driver{Name: "shell"}, &Driver{Name: "podman", Containers: start})
	if _, err := e.Lookup("podman"); err != nil {
		t.Error(err)
	}
	if _, err := e.Lookup("shell"); err == nil || err.Error() != `engine "shell" starts no containers (engines that do: [docker podman])` {
		t.Errorf("shell: %v", err)
	}
}

// fakeConn counts what PerConn does with it.
type fakeConn struct {
	mu      sync.Mutex
	onClose []func()
}

func (*fakeConn) Host() inventory.Host { return inventory.Host{Name: "h"} }
func (*fakeConn) Exec(context.Context, string, int) (*host.Output, error) {
	return nil, errors.New("no exec")
}
func (*fakeConn) ExecWith(context.Context, string, host.ExecOptions, int) (*host.Output, error) {
	return nil, errors.New("no exec")
}
func (*fakeConn) Subsystem(context.Context, string) (io.ReadWriteCloser, error) {
	return nil, errors.New("no subsystem")
}
func (*fakeConn) DialContext(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("no dial")
}
func (c *fakeConn) OnClose(f func()) { c.mu.Lock(); c.onClose = append(c.onClose, f); c.mu.Unlock() }
func (c *fakeConn) close() {
	for _, f := range c.onClose {
		f()
	}
}

type client struct{ closed int }

func (c *client) Close() error { c.closed++; return nil }

// TestPerConnOpensOnceAndClosesWithTheConnection: one client per
// connection, opened on first use; a failed open is tried again; closing the
// connection closes its client once.
func TestPerConnOpensOnceAndClosesWithTheConnection(t *testing.T) {
	opens, fail := 0, true
	p := NewPerConn(func(context.Context, Conn) (*client, error) {
		opens++
		if fail {
			fail = false
			return nil, errors.New("daemon down")
		}
		return &client{}, nil
	})
	a, b := &fakeConn{}, &fakeConn{}
	if _, err := p.Get(context.Background(), a); err == nil {
		t.Fatal("the first open should fail")
	}
	ca, err := p.Get(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := p.Get(context.Background(), a); again != ca {
		t.Error("a second Get opened another client")
	}
	cb, _ := p.Get(context.Background(), b)
	if cb == ca || opens != 3 {
		t.Errorf("two connections share a client, or opens = %d (want 3)", opens)
	}
	a.close()
	if ca.closed != 1 || cb.closed != 0 {
		t.Errorf("closed a: %d b: %d, want 1 and 0", ca.closed, cb.closed)
	}
	if fresh, _ := p.Get(context.Background(), a); fresh == ca {
		t.Error("a closed connection's client was handed out again")
	}
}

// TestPerConnSlowOpenHoldsUpNoOtherHost: one host's open waiting on a stalled
// daemon neither delays another host's client nor ignores a waiting step's end.
func TestPerConnSlowOpenHoldsUpNoOtherHost(t *testing.T) {
	stalled := &fakeConn{}
	release := make(chan struct{})
	p := NewPerConn(func(_ context.Context, c Conn) (*client, error) {
		if c == Conn(stalled) {
			<-release
		}
		return &client{}, nil
	})
	go func() { _, _ = p.Get(context.Background(), stalled) }()
	time.Sleep(50 * time.Millisecond) // the stalled open holds its host's slot
	done := make(chan error, 1)
	go func() { _, err := p.Get(context.Background(), &fakeConn{}); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("another host's Get waited on the stalled open")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.Get(ctx, stalled); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a second Get on the stalled host: %v, want its context's end", err)
	}
	close(release)
}

// TestSweepKeepsLiveRuns: leftovers of live runs are kept, the others
// removed, and a removal's error ends the sweep.
func TestSweepKeepsLiveRuns(t *testing.T) {
	var removed []string
	remover := func(name string, err error) func(context.Context) error {
		return func(context.Context) error { removed = append(removed, name); return err }
	}
	live := func(run string) bool { return run == "live" }
	out, err := Sweep(context.Background(), []Leftover{
		{Name: "thing a", Run: "gone", Remove: remover("a", nil)},
		{Name: "thing b", Run: "live", Remove: remover("b", nil)},
	}, live, "removed", "nothing", 1024)
	if err != nil || out.Stdout.String() != "removed thing a of run gone\nkept thing b: run live is still running\n" || strings.Join(removed, ",") != "a" {
		t.Errorf("sweep: %v %q %v", err, out.Stdout.String(), removed)
	}
	if out, _ := Sweep(context.Background(), nil, live, "removed", "nothing to remove", 1024); out.Stdout.String() != "nothing to remove\n" {
		t.Errorf("empty sweep: %q", out.Stdout.String())
	}
	if _, err := Sweep(context.Background(), []Leftover{{Name: "thing c", Run: "gone", Remove: remover("c", errors.New("daemon down"))}}, live, "removed", "nothing", 1024); err == nil || err.Error() != "daemon down" {
		t.Errorf("a failed removal: %v", err)
	}
}

func TestTimeScale(t *testing.T) {
	ctx := context.Background()
	if f := TimeScale(ctx); f != 1 {
		t.Errorf("no scale: %g, want 1", f)
	}
	if f := TimeScale(WithTimeScale(ctx, 5)); f != 5 {
		t.Errorf("scaled by 5: %g", f)
	}
	if f := TimeScale(WithTimeScale(ctx, 0)); f != 1 {
		t.Errorf("a zero factor: %g, want 1", f)
	}
}
