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
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/netprobe"
	"everywhere/internal/text"
	"everywhere/internal/yamlfile"
)

// New is the net driver, whose steps start their containers on engines:
// the registry's drivers that start containers (driver.EnginesOf).
func New(engines driver.Engines) *driver.Driver {
	responders := &responders{}
	return &driver.Driver{
		Name: "net",
		Kinds: []driver.Kind{{Name: Kind, Parse: func(kind, file string, node *yaml.Node) (driver.Action, error) {
			a, err := driver.Decode[Matrix](kind, file, node)
			if err != nil {
				return nil, err
			}
			m := a.(*Matrix)
			if m.engine, err = engines.Lookup(m.Engine); err != nil {
				return nil, yamlfile.Errorf(file, node, "%s: %v", kind, err)
			}
			m.responders = responders
			return m, nil
		}}},
	}
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

// removeGrace bounds removing a host's container after the step ended
// (scaled on an emulated host: its LXD took over 30 s to stop an instance).
const removeGrace = 30 * time.Second

// doneWait bounds waiting, after this host's measurements ended, for the
// others to end theirs before its container is removed.
const doneWait = 10 * time.Minute

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

	engine     driver.StartContainer // Engine's, found when parsed
	responders *responders           // the driver's
}

// Validate checks the fields and fills the defaults.
func (m *Matrix) Validate() error {
	if m.Engine == "" {
		m.Engine = DefaultEngine
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

// SpansHosts marks the step as one that meets the run's other hosts.
func (*Matrix) SpansHosts() {}

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
// other host's. Hosts meet three times: once every container is up (or
// failed), once every host has pinged and sent its data (so that
// throughput is measured on a quiet network), and before any container is
// removed, so that no host measures a container that is already gone.
func (m *Matrix) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	peers := t.Peers()
	key := fmt.Sprintf("%s %p", Kind, m) // one parsed step, shared by every host of the run
	out := host.NewOutputFor(ctx, limit)
	self := t.Host().Name
	for _, name := range peers.Hosts() {
		if name != self {
			out.Pairs = append(out.Pairs, host.Pair{To: name})
		}
	}
	pairs := out.Pairs
	c, me, startErr := m.start(ctx, t)
	if c != nil {
		defer func() {
			rmCtx, cancel := t.Detach(ctx, driver.Scaled(ctx, removeGrace))
			defer cancel()
			if err := c.Remove(rmCtx); err != nil {
				fmt.Fprintf(&out.Stderr, "%v\n", err)
			}
		}()
	}
	// Every host passes every gathering, in order, however its step ends
	// (the others wait for it there): those it has not passed are passed
	// on the way out, bounded, and cut short by a second Ctrl-C. The last
	// comes before the container is removed, since the others may still be
	// measuring it, also when this host's own step timed out first.
	phases := []string{"up", "measured", "done"}
	passed := 0
	gather := func(ctx context.Context, value []byte) (map[string][]byte, error) {
		gathered, err := peers.Gather(ctx, key+" "+phases[passed], value)
		passed++
		return gathered, err
	}
	defer func() {
		rest, cancel := t.Detach(ctx, doneWait)
		defer cancel()
		for passed < len(phases) {
			_, _ = gather(rest, nil)
		}
	}()
	published, _ := json.Marshal(me)
	gathered, err := gather(ctx, published)
	if err != nil {
		notRun(pairs, "not run: "+err.Error())
		return out, err
	}
	others := m.assess(pairs, gathered, me)
	if startErr != nil {
		return out, startErr
	}
	fmt.Fprintf(&out.Stdout, "container %s at %s%s\n", c.Name(), me.Address, emulatedNote(me.Emulated))
	// The live view sees each measure as it is taken; the step's output,
	// which the report keeps, has a line per pair once all are taken.
	progress := host.NewOutputFor(ctx, 0)
	quick := slices.DeleteFunc(slices.Clone(m.Tests), func(test string) bool { return test == host.TestThroughput })
	if len(quick) > 0 {
		for i := range pairs {
			if pairs[i].Error == "" {
				m.probe(ctx, c, &pairs[i], others[pairs[i].To], quick, limit)
				fmt.Fprintln(&progress.Stdout, line(pairs[i]))
			}
		}
	}
	// Throughput takes turns across the run, once every host has done the
	// rest, so that no measurement shares the network with another.
	_, err = gather(ctx, nil)
	if slices.Contains(m.Tests, host.TestThroughput) {
		if err != nil {
			notRun(pairs, "throughput not measured: "+err.Error())
		}
		for i := range pairs {
			if pairs[i].Error != "" {
				continue
			}
			unlock, err := peers.Lock(ctx, key+" throughput")
			if err != nil {
				notRun(pairs[i:], "throughput not measured: "+err.Error())
				break
			}
			m.probe(ctx, c, &pairs[i], others[pairs[i].To], []string{host.TestThroughput}, limit)
			unlock()
			if meas, ok := pairs[i].Test(host.TestThroughput); ok {
				fmt.Fprintf(&progress.Stdout, "to %s: throughput %s %s\n", pairs[i].To, passFail(meas.OK), figure(meas))
			}
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
	if ctx.Err() != nil {
		return out, fmt.Errorf("measuring: %w", ctx.Err())
	}
	if failed > 0 {
		out.ExitCode = 1
		fmt.Fprintf(&out.Stdout, "%d of %s from here failed or did not run\n", failed, text.Count(len(pairs), "pair", "pairs"))
	}
	return out, nil
}

// assess sets each pair's address, or why it cannot run, from what the
// hosts published, and returns the members to measure by name.
func (m *Matrix) assess(pairs []host.Pair, gathered map[string][]byte, me member) map[string]member {
	others := map[string]member{}
	for i := range pairs {
		p := &pairs[i]
		raw, arrived := gathered[p.To]
		var other member
		switch {
		case !arrived:
			p.Error = "not run: " + p.To + " did not reach this step"
		case json.Unmarshal(raw, &other) != nil:
			p.Error = "not run: " + p.To + " published nothing readable"
		case other.NotApplicable || me.NotApplicable:
			p.Skipped, p.Error = true, "skipped: the step does not apply on "+p.To
			if me.NotApplicable {
				p.Error = "skipped: the step does not apply on this host"
			}
		case other.Error != "":
			p.Error = "not run: the container on " + p.To + " did not start"
		case me.Error != "":
			p.Error = "not run: this host's container did not start"
			p.Address = other.Address
		case other.Address == me.Address:
			// Two engines' default bridges each give their first container
			// the same address: measuring it would measure this host's own.
			p.Address = other.Address
			p.Error = fmt.Sprintf("not run: %s's container has this host's container's address %s: their networks are not joined (no overlay between the hosts?)", p.To, me.Address)
		default:
			p.Address = other.Address
			others[p.To] = other
		}
	}
	return others
}

// notRun marks the pairs that have not failed already as not run, why.
func notRun(pairs []host.Pair, why string) {
	for i := range pairs {
		if pairs[i].Error == "" {
			pairs[i].Error = why
		}
	}
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
	bin, err := m.responders.get(t.Host().Arch.GOARCH())
	if err != nil {
		return nil, err
	}
	c, err := m.engine(ctx, t, driver.ContainerSpec{
		Image: m.Image, Network: m.Network,
		Cmd:   []string{responderPath, "serve", "-listen", ":" + strconv.Itoa(m.Port)},
		Files: []driver.File{{Path: responderPath, Mode: 0o755, Data: bin}},
	})
	if err != nil {
		return nil, fmt.Errorf("starting the responder's container on %s: %w", m.Engine, err)
	}
	return c, nil
}

// responders holds each architecture's responder once unzipped (a
// func() ([]byte, error) by GOARCH): every host of that architecture copies
// the same bytes, instead of a 3 MB copy of its own.
type responders struct{ byArch sync.Map }

func (r *responders) get(goarch string) ([]byte, error) {
	get, _ := r.byArch.LoadOrStore(goarch, sync.OnceValues(func() ([]byte, error) { return netprobe.Responder(goarch) }))
	return get.(func() ([]byte, error))()
}

// probe runs the responder's client in c against p's container and adds
// what it measured to p.
func (m *Matrix) probe(ctx context.Context, c driver.Container, p *host.Pair, other member, tests []string, limit int) {
	argv := []string{responderPath, "probe", "-to", p.Address, "-port", strconv.Itoa(m.Port), "-tests", strings.Join(tests, ","),
		"-ping-count", strconv.Itoa(m.PingCount), "-max-loss", strconv.FormatFloat(m.MaxLoss, 'f', -1, 64),
		"-long-mib", strconv.Itoa(m.LongMiB), "-seconds", strconv.Itoa(m.Seconds), "-min-mbit", strconv.FormatFloat(m.MinMbit, 'f', -1, 64)}
	// On an emulated host the step's limit is scaled, and so are the
	// probe's (a 32 MiB long test at under 1 MiB/s between machines under
	// TCG, six at once on two cores).
	slowdown := driver.TimeScale(ctx)
	if slowdown != 1 {
		argv = append(argv, "-slowdown", strconv.FormatFloat(slowdown, 'f', -1, 64))
	}
	ctx, cancel := context.WithTimeout(ctx, driver.Scaled(ctx, m.probeBound(tests)))
	defer cancel()
	// The responder's JSON lines are for this step to read, not for the
	// live view: the step writes what they say.
	res, err := c.Exec(host.WithTap(ctx, nil), argv, limit)
	if err != nil {
		p.Error = fmt.Sprintf("%s: %v", strings.Join(tests, ", "), err)
		return
	}
	measured := map[string]bool{}
	for _, l := range strings.Split(res.Stdout.String(), "\n") {
		var meas host.Measure
		if strings.TrimSpace(l) == "" || json.Unmarshal([]byte(l), &meas) != nil || !slices.Contains(tests, meas.Test) || measured[meas.Test] {
			continue
		}
		measured[meas.Test] = true
		meas.Emulated = meas.Emulated || other.Emulated
		p.Tests = append(p.Tests, meas)
	}
	// A test asked for and not reported is a failure, never a silent pass.
	for _, test := range tests {
		if !measured[test] {
			p.Tests = append(p.Tests, host.Measure{Test: test, Detail: "the responder reported no result"})
		}
	}
	if res.ExitCode != 0 {
		p.Error = fmt.Sprintf("the responder's probe exited %d: %s", res.ExitCode, strings.TrimSpace(res.Stderr.String()))
	}
}

// probeBound bounds one probe of tests: the responder's own time limits
// (a dial, a second a ping, a second a MiB, the throughput's length, each
// with room), plus the exec's own start under emulation.
func (m *Matrix) probeBound(tests []string) time.Duration {
	bound := 30 * time.Second
	for _, test := range tests {
		switch test {
		case host.TestPing:
			bound += time.Duration(m.PingCount) * 2 * time.Second
		case host.TestShort:
			bound += 15 * time.Second
		case host.TestLong:
			bound += 15*time.Second + time.Duration(m.LongMiB)*time.Second
		case host.TestThroughput:
			bound += 15*time.Second + time.Duration(m.Seconds)*time.Second
		}
	}
	return bound
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
		if f := figure(meas); f != "" {
			fmt.Fprintf(&b, " %s", f)
		}
		emulated = emulated || meas.Emulated
	}
	if p.Error != "" {
		fmt.Fprintf(&b, " %s", p.Error)
	}
	return b.String() + emulatedNote(emulated)
}

// figure is a measure's value with its unit.
func figure(meas host.Measure) string {
	if meas.Unit == "" {
		return ""
	}
	if meas.Value >= 100 {
		return strconv.FormatFloat(meas.Value, 'f', 0, 64) + " " + meas.Unit
	}
	return strconv.FormatFloat(meas.Value, 'f', 1, 64) + " " + meas.Unit
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
