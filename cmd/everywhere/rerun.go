package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/result"
	"everywhere/internal/run"
)

// releaseOptions are run's flags for a release's smoke test: retries,
// flaky steps, and running again what failed.
type releaseOptions struct {
	stepRetries int
	strictFlaky bool
	rerunFailed string // an earlier result.json
	steps       string // all, or failed
	prev        *result.Result
	only        map[string][]string // --steps failed: each host's steps to run again
}

func (o *releaseOptions) register(f *pflag.FlagSet) {
	f.IntVar(&o.stepRetries, "step-retries", 0, fmt.Sprintf("run a step that is not ok up to this many more times, where the plan does not say (retries:);\none that then passes is flaky (0-%d)", plan.MaxRetries))
	f.BoolVar(&o.strictFlaky, "strict-flaky", false, "exit 1 when a step was flaky (passed only on a retry)")
	f.StringVar(&o.rerunFailed, "rerun-failed", "", "run again only the hosts of this earlier result.json that were not ok, and write it\nwith their outcome in place, marked re-run (into its own folder unless -o says where)")
	f.StringVar(&o.steps, "steps", "all", "with --rerun-failed: all steps of those hosts, or only those that failed (and what they need)")
}

func (o *releaseOptions) check() error {
	if o.stepRetries < 0 || o.stepRetries > plan.MaxRetries {
		return usagef("--step-retries %d: give 0 to %d", o.stepRetries, plan.MaxRetries)
	}
	if o.steps != "all" && o.steps != "failed" {
		return usagef("--steps %q: use all or failed", o.steps)
	}
	if o.steps == "failed" && o.rerunFailed == "" {
		return usagef("--steps failed goes with --rerun-failed PREV/result.json")
	}
	return nil
}

// prepare sets the runner as the flags say (a run records the hosts'
// facts) and, with --rerun-failed, narrows targets to what runs again.
func (o *releaseOptions) prepare(stderr io.Writer, fleet *fleetOptions, r *renderOptions, targets []inventory.Host, p *plan.Plan) ([]inventory.Host, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.rerunFailed != "" {
		var err error
		if targets, err = o.pick(targets, p, r); err != nil {
			return nil, err
		}
		if len(targets) == 0 {
			fmt.Fprintf(stderr, "everywhere: every host of %s passed: nothing to run again\n", o.rerunFailed)
		}
	}
	fleet.configure = func(r *run.Runner) {
		r.Facts = true
		r.StepRetries = o.stepRetries
		r.Only = o.only
	}
	return targets, nil
}

// pick narrows targets to the hosts of the earlier result that were not ok
// and, with --steps failed, says which steps each runs again. Without -o,
// the reports go back where the earlier result is.
func (o *releaseOptions) pick(targets []inventory.Host, p *plan.Plan, r *renderOptions) ([]inventory.Host, error) {
	prev, err := result.ReadFile(o.rerunFailed)
	if err != nil {
		return nil, usageError{fmt.Errorf("--rerun-failed: %w", err)}
	}
	if prev.Plan != p.Name {
		return nil, usagef("--rerun-failed: %s ran plan %q, this run plan %q: give -p the plan it ran", o.rerunFailed, prev.Plan, p.Name)
	}
	o.prev = prev
	if r.output == "" {
		r.output = filepath.Dir(o.rerunFailed)
	}
	byName := map[string]inventory.Host{}
	for _, h := range targets {
		byName[h.Name] = h
	}
	var picked []inventory.Host
	var missing []string
	o.only = map[string][]string{}
	for _, prevHost := range prev.Hosts {
		if result.Passed(prevHost.Status) {
			continue
		}
		h, ok := byName[prevHost.Name]
		if !ok {
			missing = append(missing, prevHost.Name)
			continue
		}
		picked = append(picked, h)
		if o.steps == "failed" && prevHost.Error == "" {
			o.only[h.Name] = p.WithNeeds(prevHost.StepsNotPassed())
		}
	}
	if len(missing) > 0 {
		return nil, usagef("--rerun-failed: not among the hosts selected (-i, -H, --hosts): %s", strings.Join(missing, ", "))
	}
	return picked, nil
}

// finish is the run's result as the flags say: flaky failing it or not,
// and with --rerun-failed the earlier result with the re-run's hosts in place.
func (o *releaseOptions) finish(res *result.Result) (*result.Result, error) {
	if o.prev != nil && len(res.Hosts) > 0 {
		folded, err := result.FoldRerun(o.prev, res, o.only)
		if err != nil {
			return nil, fmt.Errorf("--rerun-failed: %w", err)
		}
		res = folded
	} else if o.prev != nil {
		res = o.prev
	}
	res.StrictFlaky = o.strictFlaky
	return res, nil
}
