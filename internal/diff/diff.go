// Package diff says what changed between two runs, host by host and step
// by step: status (a regression or a fix), output (a line diff of what was
// kept, each host's identity and volatile values masked as every report compares hosts (internal/compare)),
// duration beyond a factor, hosts and steps added or gone.
package diff

import (
	"fmt"
	"strings"
	"time"

	udiff "github.com/aymanbagabas/go-udiff"

	"everywhere/internal/compare"
	"everywhere/internal/host"
	"everywhere/internal/result"
)

// Options say how runs are compared.
type Options struct {
	// Slower is the factor by which a step's duration must change to be
	// reported (2: twice as long, or half); 0 reports no duration.
	Slower float64
	// MatchArch pairs hosts by architecture, not by name, to compare runs
	// on different machines: the first amd64 host of one with the first of
	// the other, and so on. Runs that have no host name in common (a lab
	// of each suite: amd64-bookworm, amd64-trixie) are paired so anyway.
	MatchArch bool
}

// MinTimeChange is the least change of a step's duration that counts,
// however large the factor: 20ms against 60ms is noise.
const MinTimeChange = 250 * time.Millisecond

// contextLines is how many unchanged lines an output hunk shows around a
// change.
const contextLines = 2

// Kind is what changed in one step of one host.
type Kind string

// Kinds of change. Only a regression makes `everywhere diff` exit 1.
const (
	Regression Kind = "regression" // was ok, now failed, timed out or could not run
	Fix        Kind = "fix"        // was not ok, now ok
	Status     Kind = "status"     // another change of status (ok to skipped, failed to timeout)
	Output     Kind = "output"     // a stream's kept output, masked, differs
	Slower     Kind = "slower"
	Faster     Kind = "faster"
)

// ConnectStep names the pseudo-step of reaching a host.
const ConnectStep = "connect"

// Diff is what changed from Old to New.
type Diff struct {
	Old   Run    `json:"old"`
	New   Run    `json:"new"`
	Match string `json:"match"` // "name" or "arch"
	// MatchWhy says why hosts were paired by arch though not asked to.
	MatchWhy   string   `json:"match_why,omitempty"`
	StepsAdded []string `json:"steps_added,omitempty"`
	StepsGone  []string `json:"steps_gone,omitempty"`
	HostsAdded []string `json:"hosts_added,omitempty"`
	HostsGone  []string `json:"hosts_gone,omitempty"`
	Hosts      []Host   `json:"hosts"` // hosts with a change, in the new run's order
	// Underneath is what changed in the hosts' facts (kernel, distro,
	// package and engine versions, images), by architecture.
	Underneath []ArchFacts `json:"underneath,omitempty"`
	// Counts of changes by kind.
	Counts map[Kind]int `json:"counts"`
}

// Run is what identifies one side of the comparison.
type Run struct {
	File    string    `json:"file"`
	Plan    string    `json:"plan"`
	RunID   string    `json:"run_id"`
	Started time.Time `json:"started"`
	Hosts   int       `json:"hosts"`
}

// Host is the changes of one pair of hosts.
type Host struct {
	Key     string   `json:"key"` // the name, or the arch (amd64, amd64#2) with --match arch
	Old     string   `json:"old"` // the host's name in each run
	New     string   `json:"new"`
	Arch    string   `json:"arch"`
	Changes []Change `json:"changes"`
	// Facts are the host's facts that changed: what changed underneath.
	Facts []FactChange `json:"facts,omitempty"`
}

// Change is one thing that changed in one step of one host.
type Change struct {
	Step      string        `json:"step"` // a cleanup step is labelled as in reports; ConnectStep for reaching the host
	Kind      Kind          `json:"kind"`
	OldStatus result.Status `json:"old_status,omitempty"`
	NewStatus result.Status `json:"new_status,omitempty"`
	OldReason string        `json:"old_reason,omitempty"` // as each run gave it: a reason decides nothing here, so it is shown unmasked
	NewReason string        `json:"new_reason,omitempty"`
	OldMS     int64         `json:"old_ms,omitempty"`
	NewMS     int64         `json:"new_ms,omitempty"`
	Stream    string        `json:"stream,omitempty"` // stdout or stderr, for an output change
	Hunks     []Hunk        `json:"hunks,omitempty"`
}

// Hunk is a run of changed lines with a little context, as in diff -u.
type Hunk struct {
	OldLine int    `json:"old_line"` // 1-based, where the hunk starts in each output
	NewLine int    `json:"new_line"`
	Lines   []Line `json:"lines"`
}

// Header is the hunk's unified-diff header, "@@ -start,count +start,count @@".
func (h Hunk) Header() string {
	oldCount, newCount := 0, 0
	for _, l := range h.Lines {
		if l.Op != "+" {
			oldCount++
		}
		if l.Op != "-" {
			newCount++
		}
	}
	return fmt.Sprintf("@@ -%d,%d +%d,%d @@", h.OldLine, oldCount, h.NewLine, newCount)
}

// Line is one line of a hunk: Op is "-" (only in the old run), "+" (only
// in the new) or " " (in both).
type Line struct {
	Op   string `json:"op"`
	Text string `json:"text"`
}

// Regressions counts the changes that make diff exit 1.
func (d *Diff) Regressions() int { return d.Counts[Regression] }

// ExitCode is what `everywhere diff` exits with: 1 on a regression, else 0.
func (d *Diff) ExitCode() int {
	if d.Regressions() > 0 {
		return result.ExitFailed
	}
	return result.ExitOK
}

// Compare says what changed from old to new.
func Compare(old, new *result.Result, opts Options) (*Diff, error) {
	d := &Diff{Old: runOf(old), New: runOf(new), Match: "name", Counts: map[Kind]int{}}
	if !opts.MatchArch && len(old.Hosts) > 0 && len(new.Hosts) > 0 && len(added(keys(old, false), keys(new, false))) == len(new.Hosts) {
		opts.MatchArch, d.MatchWhy = true, "no host name in common"
	}
	if opts.MatchArch {
		d.Match = "arch"
	}
	d.StepsAdded, d.StepsGone = added(old.Steps, new.Steps), added(new.Steps, old.Steps)
	oldKeys, newKeys := keys(old, opts.MatchArch), keys(new, opts.MatchArch)
	oldByKey := map[string]int{}
	for i, k := range oldKeys {
		oldByKey[k] = i
	}
	d.HostsAdded, d.HostsGone = added(oldKeys, newKeys), added(newKeys, oldKeys)
	for ni, key := range newKeys {
		oi, ok := oldByKey[key]
		if !ok {
			continue
		}
		oh, nh := old.Hosts[oi], new.Hosts[ni]
		h := Host{Key: key, Old: oh.Name, New: nh.Name, Arch: nh.Arch}
		var err error
		h.Changes, err = compareHost(oh, nh, maskOf(oh, old.RunID), maskOf(nh, new.RunID), old, new, opts)
		if err != nil {
			return nil, fmt.Errorf("host %s: %w", key, err)
		}
		for _, c := range h.Changes {
			d.Counts[c.Kind]++
		}
		h.Facts = compareFacts(oh.Facts, nh.Facts)
		if len(h.Changes) > 0 || len(h.Facts) > 0 {
			d.Hosts = append(d.Hosts, h)
		}
	}
	d.Underneath = archFacts(d.Hosts)
	return d, nil
}

func runOf(r *result.Result) Run {
	return Run{Plan: r.Plan, RunID: r.RunID, Started: r.Started, Hosts: len(r.Hosts)}
}

// added lists what is in to and not in from, in to's order.
func added(from, to []string) []string {
	in := map[string]bool{}
	for _, s := range from {
		in[s] = true
	}
	var out []string
	for _, s := range to {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}

// keys are what hosts are paired by: the name, or the canonical arch and,
// from its second host on, its rank among that arch's hosts.
func keys(r *result.Result, byArch bool) []string {
	out := make([]string, len(r.Hosts))
	seen := map[string]int{}
	for i, h := range r.Hosts {
		if !byArch {
			out[i] = h.Name
			continue
		}
		arch := canonical(h.Arch)
		seen[arch]++
		out[i] = arch
		if n := seen[arch]; n > 1 {
			out[i] = fmt.Sprintf("%s#%d", arch, n)
		}
	}
	return out
}

// maskOf is how h's text is compared run to run: as every report
// compares hosts (compare.Mask), its identity and volatile values (times,
// ids, interface indexes…) masked, its name too unless it is a word of
// answers (compare.NameIsAWord).
func maskOf(h result.HostResult, runID string) func(string) string {
	return compare.IdentityOf(h, runID).Mask(!compare.NameIsAWord(h.Name)).Apply
}

func compareHost(oh, nh result.HostResult, oldMask, newMask func(string) string, old, new *result.Result, opts Options) ([]Change, error) {
	var changes []Change
	oldReached, newReached := oh.Error == "", nh.Error == ""
	if oldReached != newReached {
		c := Change{Step: ConnectStep, Kind: Fix, OldStatus: oh.Status, NewStatus: nh.Status, OldReason: oh.Error, NewReason: nh.Error}
		if oldReached {
			c.Kind = Regression
		}
		return append(changes, c), nil
	}
	if !oldReached { // neither reached: its steps never ran
		return nil, nil
	}
	var err error
	compare := func(label string, o, n *result.StepResult) {
		if err == nil {
			var c []Change
			c, err = compareStep(label, o, n, oldMask, newMask, opts)
			changes = append(changes, c...)
		}
	}
	for i, name := range new.Steps {
		if o := stepNamed(oh.Steps, name); o != nil && i < len(nh.Steps) {
			compare(name, o, &nh.Steps[i])
		}
	}
	for i, name := range new.Cleanup {
		if o := stepNamed(oh.Cleanup, name); o != nil && i < len(nh.Cleanup) {
			compare(result.CleanupLabel(name), o, &nh.Cleanup[i])
		}
	}
	return changes, err
}

func stepNamed(steps []result.StepResult, name string) *result.StepResult {
	for i := range steps {
		if steps[i].Name == name {
			return &steps[i]
		}
	}
	return nil
}

func bad(s result.Status) bool {
	return s == result.Failed || s == result.Timeout || s == result.Error
}

// A flaky step passed: from flaky to failed is a regression, from failed
// to flaky a fix, from ok to flaky (or back) a change of status.

func compareStep(label string, o, n *result.StepResult, oldMask, newMask func(string) string, opts Options) ([]Change, error) {
	var changes []Change
	if o.Status != n.Status {
		c := Change{Step: label, Kind: Status, OldStatus: o.Status, NewStatus: n.Status, OldReason: o.Summary(), NewReason: n.Summary()}
		switch {
		case result.Passed(o.Status) && bad(n.Status):
			c.Kind = Regression
		case bad(o.Status) && result.Passed(n.Status):
			c.Kind = Fix
		}
		changes = append(changes, c)
	}
	if o.Status == result.Skipped || n.Status == result.Skipped { // not run: its output and time say nothing
		return changes, nil
	}
	for _, st := range []struct {
		name     string
		old, new string
		oldCut   bool
		newCut   bool
	}{{"stdout", o.Stdout, n.Stdout, o.StdoutTruncated, n.StdoutTruncated}, {"stderr", o.Stderr, n.Stderr, o.StderrTruncated, n.StderrTruncated}} {
		before, after := comparable(oldMask(st.old), st.oldCut), comparable(newMask(st.new), st.newCut)
		hunks, err := lineDiff(before, after)
		if err != nil {
			return nil, fmt.Errorf("step %s: %s: %w", label, st.name, err)
		}
		if len(hunks) > 0 {
			changes = append(changes, Change{Step: label, Kind: Output, Stream: st.name, Hunks: hunks})
		}
	}
	// A step whose status changed did other work: its time is no news.
	if opts.Slower > 0 && o.Status == n.Status {
		oldD, newD := o.Duration(), n.Duration()
		c := Change{Step: label, OldMS: o.DurationMS, NewMS: n.DurationMS}
		switch {
		case newD-oldD >= MinTimeChange && float64(newD) >= opts.Slower*float64(oldD):
			c.Kind = Slower
		case oldD-newD >= MinTimeChange && float64(oldD) >= opts.Slower*float64(newD):
			c.Kind = Faster
		}
		if c.Kind != "" {
			changes = append(changes, c)
		}
	}
	return changes, nil
}

// cutLine stands for an output limit's cut in compared output: how much
// was cut changes run to run and says nothing of the output itself.
const cutLine = "[everywhere: output cut here]"

func comparable(kept string, truncated bool) string {
	if !truncated {
		return kept
	}
	head, tail, _, ok := host.SplitKept(kept)
	if !ok {
		return kept
	}
	return head + "\n" + cutLine + "\n" + tail
}

// lineDiff is the hunks that turn before into after, line by line.
func lineDiff(before, after string) ([]Hunk, error) {
	if before == after {
		return nil, nil
	}
	u, err := udiff.ToUnifiedDiff("old", "new", before, udiff.Lines(before, after), contextLines)
	if err != nil {
		return nil, err
	}
	ops := map[udiff.OpKind]string{udiff.Delete: "-", udiff.Insert: "+", udiff.Equal: " "}
	var hunks []Hunk
	for _, h := range u.Hunks {
		hunk := Hunk{OldLine: h.FromLine, NewLine: h.ToLine}
		for _, l := range h.Lines {
			hunk.Lines = append(hunk.Lines, Line{Op: ops[l.Kind], Text: strings.TrimSuffix(l.Content, "\n")})
		}
		hunks = append(hunks, hunk)
	}
	return hunks, nil
}
