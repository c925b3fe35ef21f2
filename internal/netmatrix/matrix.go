// Package netmatrix is the net driver: the net.matrix step, which measures
// whether the containers of every host reach each other's (Ubuntu Fan's
// fanatic test: ping, short data, long data; and throughput), for every
// ordered pair of hosts. What runs in the containers is everywhere's own
// responder (internal/netprobe), copied in: no tool of the image is used.
package netmatrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/netprobe"
)

func init() {
	driver.Register(&driver.Driver{
		Name:  "net",
		Kinds: []driver.Kind{{Name: Kind, Parse: driver.Decode[Matrix]}},
	})
}

// Kind is the step kind's plan keyword.
const Kind = "net.matrix"

// Defaults of a Matrix's zero fields.
const (
	DefaultEngine    = "docker"
	DefaultPort      = 7171
	DefaultPingCount = 3
	DefaultLongMiB   = 32
	DefaultSeconds   = 2
)

// responderPath is where the responder is put in each container.
const responderPath = "/everywhere-evnet"

// removeGrace bounds removing a host's container after the step ended.
const removeGrace = 30 * time.Second

// Matrix starts a container running the responder on every host, then from
// each host's container measures every other host's:
//
//	net.matrix: {engine: docker, tests: [ping, short, long, throughput]}
type Matrix struct {
	Engine    string   `yaml:"engine"`     // the driver that starts the containers: docker (default)
	Image     string   `yaml:"image"`      // empty: an image of the responder alone
	Network   string   `yaml:"network"`    // the engine's network; empty: its default bridge
	Tests     []string `yaml:"tests"`      // empty: all, in the order of host.NetTests
	Port      int      `yaml:"port"`       // the responder's TCP port
	PingCount int      `yaml:"ping_count"` // echo requests per pair
	MaxLoss   float64  `yaml:"max_loss"`   // percent of pings that may go unanswered
	LongMiB   int      `yaml:"long_mib"`   // the long data test's size
	Seconds   int      `yaml:"seconds"`    // each throughput measurement's length
	MinMbit   float64  `yaml:"min_mbit"`   // throughput below this fails
}

// Validate checks the fields and fills the defaults.
func (m *Matrix) Validate() error {
	if m.Engine == "" {
		m.Engine = DefaultEngine
	}
	if _, err := driver.Containers(m.Engine); err != nil {
		return err
	}
	if len(m.Tests) == 0 {
		m.Tests = host.NetTests
	}
	for _, t := range m.Tests {
		if !slices.Contains(host.NetTests, t) {
			return fmt.Errorf("tests: unknown test %q (known: %s)", t, strings.Join(host.NetTests, ", "))
		}
	}
	for _, f := range []struct {
		name  string
		value *int
		def   int
	}{{"port", &m.Port, DefaultPort}, {"ping_count", &m.PingCount, DefaultPingCount}, {"long_mib", &m.LongMiB, DefaultLongMiB}, {"seconds", &m.Seconds, DefaultSeconds}} {
		if *f.value < 0 {
			return fmt.Errorf("%s: %d is negative", f.name, *f.value)
		}
		if *f.value == 0 {
			*f.value = f.def
		}
	}
	if m.Port > 65535 {
		return fmt.Errorf("port: %d is not a port", m.Port)
	}
	if m.MaxLoss < 0 || m.MaxLoss > 100 {
		return fmt.Errorf("max_loss: %v is not a percentage", m.MaxLoss)
	}
	return nil
}

// Command describes the step.
func (m *Matrix) Command() string {
	return fmt.Sprintf("net.matrix on %s: %s between every ordered pair of hosts", m.Engine, strings.Join(m.Tests, ", "))
}

// member is what a host tells the others once its container is up, or not.
type member struct {
	Address       string `json:"address,omitempty"`
	Emulated      bool   `json:"emulated,omitempty"`
	Error         string `json:"error,omitempty"`
	NotApplicable bool   `json:"not_applicable,omitempty"` // the engine cannot run here: its pairs are skipped
}

// ready is the responder's first line.
type ready struct {
	Emulated bool `json:"emulated"`
}

// Run measures this host's row of the matrix: from its container to every
// other host's. Hosts meet twice: once every container is up (or failed),
// and again before any container is removed, so a host never measures a
// container that is already gone.
func (m *Matrix) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	peers := t.Peers()
	key := fmt.Sprintf("%s %p", Kind, m) // one parsed step, shared by every host of the run
	out := host.NewOutputFor(ctx, limit)
	c, me, startErr := m.start(ctx, t)
	if c != nil {
		defer func() {
			rmCtx, cancel := t.Detach(ctx, removeGrace)
			defer cancel()
			if err := c.Remove(rmCtx); err != nil {
				fmt.Fprintf(&out.Stderr, "%v\n", err)
			}
		}()
	}
	// Reached however the step ends, after measuring: the others may still
	// be measuring this host's container.
	defer func() { _, _ = peers.Gather(ctx, key+" done", nil) }()
	published, _ := json.Marshal(me)
	gathered, err := peers.Gather(ctx, key+" up", published)
	if err != nil {
		return nil, err
	}
	self := t.Host().Name
	var pairs []host.Pair
	others := map[string]member{}
	for _, name := range peers.Hosts() {
		if name == self {
			continue
		}
		p := host.Pair{To: name}
		raw, arrived := gathered[name]
		var other member
		switch {
		case !arrived:
			p.Error = "not run: " + name + " did not reach this step"
		case json.Unmarshal(raw, &other) != nil:
			p.Error = "not run: " + name + " published nothing readable"
		case other.NotApplicable || me.NotApplicable:
			p.Skipped, p.Error = true, "skipped: the step does not apply on "+name
			if me.NotApplicable {
				p.Error = "skipped: the step does not apply on this host"
			}
		case other.Error != "":
			p.Error = "not run: the container on " + name + " did not start"
		case me.Error != "":
			p.Error = "not run: this host's container did not start"
			p.Address = other.Address
		default:
			p.Address = other.Address
			others[name] = other
		}
		pairs = append(pairs, p)
	}
	out.Pairs = pairs
	if startErr != nil {
		return out, startErr
	}
	fmt.Fprintf(&out.Stdout, "container %s at %s%s\n", c.Name(), me.Address, emulatedNote(me.Emulated))
	quick := slices.DeleteFunc(slices.Clone(m.Tests), func(test string) bool { return test == host.TestThroughput })
	// Ping and data run from every host at once; throughput takes turns
	// across the run, so that no two measurements share the network.
	for i := range pairs {
		p := &pairs[i]
		if p.Error != "" || len(quick) == 0 {
			continue
		}
		m.probe(ctx, c, p, others[p.To], quick, limit)
	}
	if slices.Contains(m.Tests, host.TestThroughput) {
		for i := range pairs {
			p := &pairs[i]
			if p.Error != "" {
				continue
			}
			unlock, err := peers.Lock(ctx, key+" throughput")
			if err != nil {
				p.Error = "throughput: " + err.Error()
				break
			}
			m.probe(ctx, c, p, others[p.To], []string{host.TestThroughput}, limit)
			unlock()
		}
	}
	failed := 0
	for i := range pairs {
		p := &pairs[i]
		p.Ran = p.Error == "" || len(p.Tests) > 0
		fmt.Fprintln(&out.Stdout, line(*p))
		if !p.OK() && !p.Skipped {
			failed++
		}
	}
	if failed > 0 {
		out.ExitCode = 1
		fmt.Fprintf(&out.Stdout, "%d of %d pairs from here failed or did not run\n", failed, len(pairs))
	}
	return out, nil
}

// start starts the host's container with the responder serving in it,
// and says what to tell the other hosts.
func (m *Matrix) start(ctx context.Context, t driver.Target) (driver.Container, member, error) {
	c, err := m.startResponder(ctx, t)
	if err != nil {
		return c, member{Error: err.Error(), NotApplicable: errors.Is(err, driver.ErrNotApplicable)}, err
	}
	var r ready
	if err := json.Unmarshal([]byte(c.Ready()), &r); err != nil {
		err = fmt.Errorf("the responder in container %s said %q, not that it listens", c.Name(), c.Ready())
		return c, member{Error: err.Error()}, err
	}
	return c, member{Address: c.Address(), Emulated: r.Emulated}, nil
}

func (m *Matrix) startResponder(ctx context.Context, t driver.Target) (driver.Container, error) {
	startContainer, err := driver.Containers(m.Engine)
	if err != nil {
		return nil, err
	}
	bin, err := netprobe.Responder(t.Host().Arch.GOARCH())
	if err != nil {
		return nil, err
	}
	c, err := startContainer(ctx, t, driver.ContainerSpec{
		Image: m.Image, Network: m.Network,
		Cmd:   []string{responderPath, "serve", "-listen", ":" + strconv.Itoa(m.Port)},
		Files: []driver.File{{Path: responderPath, Mode: 0o755, Data: bin}},
	})
	if err != nil {
		return nil, fmt.Errorf("starting the responder's container on %s: %w", m.Engine, err)
	}
	return c, nil
}

// probe runs the responder's client in c against p's container and adds
// what it measured to p.
func (m *Matrix) probe(ctx context.Context, c driver.Container, p *host.Pair, other member, tests []string, limit int) {
	argv := []string{responderPath, "probe", "-to", p.Address, "-port", strconv.Itoa(m.Port), "-tests", strings.Join(tests, ","),
		"-ping-count", strconv.Itoa(m.PingCount), "-max-loss", strconv.FormatFloat(m.MaxLoss, 'f', -1, 64),
		"-long-mib", strconv.Itoa(m.LongMiB), "-seconds", strconv.Itoa(m.Seconds), "-min-mbit", strconv.FormatFloat(m.MinMbit, 'f', -1, 64)}
	res, err := c.Exec(ctx, argv, limit)
	if err != nil {
		p.Error = fmt.Sprintf("%s: %v", strings.Join(tests, ", "), err)
		return
	}
	for _, l := range strings.Split(res.Stdout.String(), "\n") {
		var meas host.Measure
		if strings.TrimSpace(l) == "" || json.Unmarshal([]byte(l), &meas) != nil {
			continue
		}
		meas.Emulated = meas.Emulated || other.Emulated
		p.Tests = append(p.Tests, meas)
	}
	if res.ExitCode != 0 {
		p.Error = fmt.Sprintf("the responder's probe exited %d: %s", res.ExitCode, strings.TrimSpace(res.Stderr.String()))
	}
}

// line is a pair as a line of the step's output, in fanatic's words; a
// pair measured under emulation says so once.
func line(p host.Pair) string {
	var b strings.Builder
	fmt.Fprintf(&b, "to %s", p.To)
	if p.Address != "" {
		fmt.Fprintf(&b, " (%s)", p.Address)
	}
	b.WriteString(":")
	emulated := false
	for i, meas := range p.Tests {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %s %s", meas.Test, passFail(meas.OK))
		if meas.Unit != "" {
			v := strconv.FormatFloat(meas.Value, 'f', 1, 64)
			if meas.Value >= 100 {
				v = strconv.FormatFloat(meas.Value, 'f', 0, 64)
			}
			fmt.Fprintf(&b, " %s %s", v, meas.Unit)
		}
		emulated = emulated || meas.Emulated
	}
	if p.Error != "" {
		fmt.Fprintf(&b, " %s", p.Error)
	}
	return b.String() + emulatedNote(emulated)
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func emulatedNote(emulated bool) string {
	if emulated {
		return " (emulated)"
	}
	return ""
}
