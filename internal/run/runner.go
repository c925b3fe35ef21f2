package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/result"
)

// Defaults for a Runner's zero fields.
const (
	DefaultParallel       = 64
	DefaultCleanupTimeout = 2 * time.Minute
	DefaultRetryBackoff   = time.Second
	maxRetryBackoff       = 30 * time.Second
)

// Conn is a live connection to one host.
type Conn interface {
	driver.Conn
	Close() error
}

// target is what steps run against: a host's connection within one run,
// and the host with its detected arch when the inventory declared none.
type target struct {
	Conn
	host  inventory.Host
	runID string
	abort context.Context // Runner.Abort
	peers driver.Peers
}

// Detach outlives ctx, for grace at most, and ends when the run is aborted.
func (t *target) Detach(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	detached, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	if t.abort == nil {
		return detached, cancel
	}
	stop := context.AfterFunc(t.abort, cancel)
	return detached, func() { stop(); cancel() }
}

func (t target) RunID() string        { return t.runID }
func (t target) Peers() driver.Peers  { return t.peers }
func (t target) Host() inventory.Host { return t.host }

// ConnectFunc opens the connection to a host.
type ConnectFunc func(ctx context.Context, h inventory.Host) (Conn, error)

// Connector adapts a transport's dial function, such as
// (*sshconn.Dialer).Dial, to a ConnectFunc: the runner never names a transport.
func Connector[C Conn](dial func(context.Context, inventory.Host) (C, error)) ConnectFunc {
	return func(ctx context.Context, h inventory.Host) (Conn, error) {
		c, err := dial(ctx, h)
		if err != nil {
			return nil, err // not c: a nil *T in an interface is not nil
		}
		return c, nil
	}
}

// Runner runs a plan on many hosts at once.
type Runner struct {
	Connect        ConnectFunc
	RunID          string        // names the run; a new one (NewRunID) when empty
	Parallel       int           // hosts worked on at once
	OutputLimit    int           // bytes kept per output stream per step
	StepTimeout    time.Duration // overrides the plan's default step timeout when set
	CleanupTimeout time.Duration // bound on all cleanup steps of a host, which run even after Ctrl-C
	// Connecting, when set, caps hosts connecting at once; a host's
	// goroutine starts only once it may connect. With Parallel as big as
	// the fleet, the hosts waiting for the transport's handshake cap were
	// a goroutine each, whose stacks (and the garbage collector's headroom
	// over them) were 40% of a 20,000-host run's peak memory. Zero: hosts
	// connect as Parallel lets them.
	Connecting int
	// Abort, when it ends, cuts cleanup short too (a second Ctrl-C):
	// cleanup runs on it rather than on the run's context, which Ctrl-C
	// ends first. Nil: cleanup is bounded by CleanupTimeout alone.
	Abort context.Context
	// Retries is how many more times a host is dialled after a failure
	// that Transient says may pass (refused, reset, timed out); a wrong
	// host key or a refused login is never retried.
	Retries   int
	Transient func(error) bool
	// RetryBackoff is the wait before the first retry, doubled for each
	// next one and jittered; DefaultRetryBackoff when zero.
	RetryBackoff time.Duration
	// Facts, when set, has every host's environment recorded in the
	// result (result.Facts), gathered by one command once connected.
	Facts bool
	// StepRetries is how many more times a step that is not ok runs,
	// where the plan does not say (retries:): one that then passes is
	// flaky.
	StepRetries int
	// Only, when set, names for some hosts the steps to run (what
	// --rerun-failed --steps failed runs again); their other steps are
	// skipped as not selected. Hosts it does not name run every step.
	Only map[string][]string
	// Events, when set, receives progress, and each running step's output
	// as it arrives (result.Output: see stream.go for its bounds). The
	// runner never closes it; it must be drained until Run returns.
	Events chan<- result.Event
}

// Run runs p on every host and returns what happened. Cancelling ctx
// (Ctrl-C) stops the steps in flight, skips the rest and still runs cleanup.
// One host failing never stops the others: per-host failures are recorded
// in the result.Result, never returned to the group.
func (r *Runner) Run(ctx context.Context, targets []inventory.Host, p *plan.Plan) *result.Result {
	runID := r.RunID
	if runID == "" {
		runID = NewRunID()
	}
	res := &result.Result{Schema: result.Schema, RunID: runID, Plan: p.Name, Started: time.Now().UTC()}
	for _, s := range p.Steps {
		res.Steps = append(res.Steps, s.Name)
	}
	for _, s := range p.Cleanup {
		res.Cleanup = append(res.Cleanup, s.Name)
	}
	res.Hosts = make([]result.HostResult, len(targets))
	var ss *streams
	if r.Events != nil {
		ss = startStreams(r.Events)
		defer ss.shutdown()
	}
	// A host takes a slot of parallel, then one of connecting, before its
	// goroutine starts: one waiting for either is only an index here.
	parallel, connecting := newSlots(orDefault(r.Parallel, DefaultParallel)), newSlots(r.Connecting)
	names := make([]string, len(targets))
	for i, h := range targets {
		names[i] = h.Name
	}
	meeting := driver.NewMeeting(names, orDefault(r.Parallel, DefaultParallel))
	var wg sync.WaitGroup
	for i, h := range targets {
		parallel.take(context.Background()) // a host started is ended soon after ctx is
		turn := &slot{pool: connecting}
		turn.take(ctx) // fails only when ctx ended: runHost then skips the host
		wg.Go(func() {
			defer parallel.give()
			defer turn.give()
			res.Hosts[i] = r.runHost(ctx, ss, meeting, res.RunID, i, h, p, turn)
		})
	}
	wg.Wait()
	res.DurationMS = time.Since(res.Started).Milliseconds()
	res.Interrupted = ctx.Err() != nil
	return res
}

// NewRunID is a new run id: when it started, and random bits.
func NewRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

func (r *Runner) emit(e result.Event) {
	if r.Events != nil {
		e.Time = time.Now()
		r.Events <- e
	}
}

// slots are a counting semaphore; nil slots never make anyone wait.
type slots chan struct{}

func newSlots(n int) slots {
	if n <= 0 {
		return nil
	}
	return make(slots, n)
}

// take waits for a slot; false when ctx ended first, and none was taken.
func (s slots) take(ctx context.Context) bool {
	if s == nil {
		return true
	}
	select {
	case s <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s slots) give() {
	if s != nil {
		<-s
	}
}

// slot is one host's hold on a pool of slots: taken and given back as the
// host's work needs, and given back at most once for each take.
type slot struct {
	pool slots
	held bool
}

func (s *slot) take(ctx context.Context) bool {
	if !s.held {
		s.held = s.pool.take(ctx)
	}
	return s.held
}

func (s *slot) give() {
	if s.held {
		s.pool.give()
		s.held = false
	}
}

// runHost works on one host, which holds turn (a slot of Connecting) while
// it connects.
func (r *Runner) runHost(ctx context.Context, ss *streams, meeting *driver.Meeting, runID string, index int, h inventory.Host, p *plan.Plan, turn *slot) result.HostResult {
	hr := result.HostResult{Name: h.Name, Arch: string(h.Arch), Address: h.Addr(), Labels: h.Labels, Status: result.OK}
	// Hosts that meet within a step wait for this one only while it may
	// still come: not once its steps are over, however they ended.
	defer meeting.Leave(h.Name)
	defer func() { r.emit(result.Event{Type: result.HostDone, Host: h.Name, HostIndex: index, Status: hr.Status}) }()
	if ctx.Err() != nil {
		hr.Status, hr.Error = result.Skipped, "run interrupted before connecting"
		hr.Steps = notRun(p.Steps, "run interrupted")
		return hr
	}
	r.emit(result.Event{Type: result.Connecting, Host: h.Name, HostIndex: index})
	start := time.Now()
	c, err := r.connect(ctx, h, &hr.Attempts, turn)
	turn.give()
	hr.ConnectMS = time.Since(start).Milliseconds()
	if err != nil {
		hr.Status, hr.Error = result.Error, err.Error()
		if hr.Attempts > 1 {
			hr.Error += fmt.Sprintf(" (after %d attempts)", hr.Attempts)
		}
		hr.Steps = notRun(p.Steps, "host not reached")
		return hr
	}
	defer c.Close()
	if r.Facts {
		hr.Facts = gatherFacts(ctx, c)
		declared(hr.Facts, h)
		if a, err := host.ParseArch(hr.Facts.Machine); h.Arch == "" && err == nil {
			h.Arch, hr.Arch, hr.ArchDetected = a, string(a), true
		}
	}
	if h.Arch == "" {
		arch, err := detectArch(ctx, c)
		if err != nil {
			hr.Status, hr.Error = result.Error, fmt.Sprintf("host %s: arch not declared, and detecting it failed: %v", h.Name, err)
			hr.Steps = notRun(p.Steps, "host arch unknown")
			return hr
		}
		h.Arch, hr.Arch, hr.ArchDetected = arch, string(arch), true
	}
	conn := &target{Conn: c, host: h, runID: runID, abort: r.Abort, peers: meeting.For(h.Name)}
	r.emit(result.Event{Type: result.Connected, Host: h.Name, HostIndex: index})

	skipReason := ""
	only, some := r.Only[h.Name]
	emulated := hr.Facts != nil && hr.Facts.Emulated
	for i, s := range p.Steps {
		if skipReason == "" && ctx.Err() != nil {
			skipReason = "run interrupted"
		}
		if skipReason != "" {
			hr.Steps = append(hr.Steps, notRun(p.Steps[i:i+1], skipReason)...)
			continue
		}
		if some && !slices.Contains(only, s.Name) {
			hr.Steps = append(hr.Steps, notRun(p.Steps[i:i+1], NotSelected)...)
			continue
		}
		sr := r.runStep(ctx, ss, index, conn, p, s, false, emulated)
		hr.Steps = append(hr.Steps, sr)
		if s.Critical && !result.Passed(sr.Status) {
			skipReason = fmt.Sprintf("critical step %q did not succeed", s.Name)
		}
	}
	meeting.Leave(h.Name)
	if len(p.Cleanup) > 0 {
		// Cleanup runs even when ctx was cancelled: on a context of its own,
		// bounded, so Ctrl-C never leaves what the plan launched behind;
		// only Abort (Ctrl-C again) ends it early.
		base := r.Abort
		if base == nil {
			base = context.WithoutCancel(ctx)
		}
		// Scaled as the steps are: an emulated machine stops an instance
		// with Docker inside in minutes, not seconds.
		bound, _ := p.Scaled(orDefault(r.CleanupTimeout, DefaultCleanupTimeout), h, emulated)
		cleanupCtx, cancel := context.WithTimeout(base, bound)
		for _, s := range p.Cleanup {
			hr.Cleanup = append(hr.Cleanup, r.runStep(cleanupCtx, ss, index, conn, p, s, true, emulated))
		}
		cancel()
	}
	hr.Status = result.HostStatus(hr.Steps, hr.Cleanup)
	return hr
}

// NotSelected is why a step that Runner.Only leaves out did not run.
const NotSelected = "not selected to run again (--steps failed)"

// detectArchTimeout bounds uname -m, which answers at once on a live host.
const detectArchTimeout = 30 * time.Second

// detectArch asks the host its architecture, as uname -m names it.
func detectArch(ctx context.Context, c Conn) (host.Arch, error) {
	ctx, cancel := context.WithTimeout(ctx, detectArchTimeout)
	defer cancel()
	out, err := c.Exec(ctx, "uname -m", 256)
	if err != nil {
		return "", fmt.Errorf("uname -m: %w", err)
	}
	if out.ExitCode != 0 {
		return "", fmt.Errorf("uname -m: exit %d: %s", out.ExitCode, strings.TrimSpace(out.Stderr.String()))
	}
	return host.ParseArch(strings.TrimSpace(out.Stdout.String()))
}

// connect dials h, again after transient failures, up to r.Retries more
// times, waiting between attempts with exponential backoff and jitter (so
// that hosts refused together do not come back together), and counts the
// attempts in attempts. Between attempts turn is given back, lest hosts
// waiting to retry keep others from connecting.
func (r *Runner) connect(ctx context.Context, h inventory.Host, attempts *int, turn *slot) (Conn, error) {
	wait := orDefault(r.RetryBackoff, DefaultRetryBackoff)
	for {
		*attempts++
		c, err := r.Connect(ctx, h)
		if err == nil || *attempts > r.Retries || r.Transient == nil || !r.Transient(err) || ctx.Err() != nil {
			return c, err
		}
		turn.give()
		jittered := wait/2 + mathrand.N(wait)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(jittered):
		}
		if !turn.take(ctx) {
			return nil, err
		}
		wait = min(2*wait, maxRetryBackoff)
	}
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// runStep runs step s, again while it is not ok and it has retries left
// (its own, else the runner's): one that passes on a retry is flaky, and
// its earlier tries are kept in Tries.
func (r *Runner) runStep(ctx context.Context, ss *streams, index int, conn driver.Target, p *plan.Plan, s plan.Step, cleanup, emulated bool) result.StepResult {
	h := conn.Host()
	started := result.Event{Type: result.StepStarted, Host: h.Name, HostIndex: index, Step: s.Name, Cleanup: cleanup}
	r.emit(started)
	var live *stream
	if ss != nil {
		live = ss.open(started)
		ctx = host.WithTap(ctx, live.tap)
	}
	retries := s.Retries
	if _, spans := s.Action.(driver.SpansHosts); retries < 0 && !spans { // the others meet it once
		retries = r.StepRetries
	}
	var tries []result.Try
	var sr result.StepResult
	for {
		sr = r.try(ctx, conn, p, s, emulated)
		if result.Passed(sr.Status) || sr.Status == result.Skipped || len(tries) >= retries || ctx.Err() != nil {
			break
		}
		tries = append(tries, result.TryOf(sr))
	}
	if live != nil {
		ss.close(live)
	}
	sr.Tries = tries
	if sr.Status == result.OK && len(tries) > 0 {
		sr.Status = result.Flaky
	}
	r.emit(result.Event{Type: result.StepDone, Host: h.Name, HostIndex: index, Step: s.Name, Cleanup: cleanup, Status: sr.Status, Duration: sr.Duration(), Detail: sr.Summary()})
	return sr
}

// try runs step s once, within its time limit, scaled where the host is
// emulated and the plan or inventory says so (timeout_scale).
func (r *Runner) try(ctx context.Context, conn driver.Target, p *plan.Plan, s plan.Step, emulated bool) result.StepResult {
	h := conn.Host()
	sr := result.StepResult{Name: s.Name, Kind: s.Kind, Command: s.Action.Command(), Started: time.Now().UTC()}
	limit := p.TimeoutFor(s, r.StepTimeout)
	timeout, factor := p.Scaled(limit, h, emulated)
	sr.TimeoutMS = timeout.Milliseconds()
	stepCtx, cancel := context.WithTimeout(driver.WithTimeScale(ctx, factor), timeout)
	out, err := s.Action.Run(stepCtx, conn, r.OutputLimit)
	cancel()
	sr.DurationMS = time.Since(sr.Started).Milliseconds()
	if out != nil {
		sr.Stdout, sr.StdoutBytes, sr.StdoutTruncated = out.Stdout.String(), out.Stdout.Total(), out.Stdout.Truncated()
		sr.Stderr, sr.StderrBytes, sr.StderrTruncated = out.Stderr.String(), out.Stderr.Total(), out.Stderr.Truncated()
		sr.Facts, sr.Pairs = out.Facts, out.Pairs
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		sr.Status, sr.Error = result.Timeout, fmt.Sprintf("no result within %v (step timeout)", timeout)
		if factor != 1 {
			sr.Error = fmt.Sprintf("no result within %v (step timeout %v × %g: emulated host)", timeout, limit, factor)
		}
		if err != context.DeadlineExceeded { // the action says what it did about it
			sr.Error += ": " + err.Error()
		}
	case errors.Is(err, driver.ErrNotApplicable), errors.Is(err, driver.ErrPrerequisite):
		sr.Status, sr.Error = result.Skipped, err.Error()
	case err != nil && ctx.Err() != nil:
		sr.Status, sr.Error = result.Error, "interrupted: "+err.Error()
	case err != nil:
		sr.Status, sr.Error = result.Error, err.Error()
	default:
		code := out.ExitCode
		sr.ExitCode, sr.Signal = &code, out.Signal
		sr.Expectations = s.Expect.Check(out, h)
		sr.Status = result.OK
		if !s.Expect.ExitOK(out) {
			sr.Status = result.Failed
		}
		for _, e := range sr.Expectations {
			if !e.OK {
				sr.Status = result.Failed
			}
		}
	}
	return sr
}

func notRun(steps []plan.Step, reason string) []result.StepResult {
	out := make([]result.StepResult, len(steps))
	for i, s := range steps {
		out[i] = result.StepResult{Name: s.Name, Kind: s.Kind, Command: s.Action.Command(), Status: result.Skipped, Error: reason}
	}
	return out
}
