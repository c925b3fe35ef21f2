package result

import (
	"fmt"
	"slices"
	"time"
)

// Rerun marks a host whose outcome was replaced by a run of
// --rerun-failed.
type Rerun struct {
	// Attempt counts the host's runs: 2 for its first re-run, 3 for the
	// next, the original run being 1.
	Attempt int       `json:"attempt"`
	RunID   string    `json:"run_id"` // of the re-run
	Started time.Time `json:"started"`
	Was     Status    `json:"was"` // the host's status before
	// Steps are the steps run again, when not all of them were (--steps
	// failed); the others keep their earlier outcome.
	Steps []string `json:"steps,omitempty"`
}

// RerunRun is one run of --rerun-failed folded into a result.
type RerunRun struct {
	RunID       string    `json:"run_id"`
	Started     time.Time `json:"started"`
	DurationMS  int64     `json:"duration_ms"`
	Interrupted bool      `json:"interrupted,omitempty"`
	Hosts       []string  `json:"hosts"` // the hosts it ran
}

// NotPassed lists the hosts that did not pass (neither ok nor flaky), in
// the result's order: what --rerun-failed runs again.
func (r *Result) NotPassed() []string {
	var names []string
	for _, h := range r.Hosts {
		if !Passed(h.Status) {
			names = append(names, h.Name)
		}
	}
	return names
}

// StepsNotPassed lists the host's steps that did not pass, skipped ones
// included (they may have been skipped for a failure): what --steps failed
// runs again, with their dependencies.
func (h HostResult) StepsNotPassed() []string {
	var names []string
	for _, s := range h.Steps {
		if !Passed(s.Status) {
			names = append(names, s.Name)
		}
	}
	return names
}

// FoldRerun returns prev with the hosts of rerun in place of its own, each
// marked as re-run. A host's steps listed in only (by host name) come from
// the re-run and the others stay as prev had them; a host absent from only
// takes all of the re-run's steps. Cleanup comes from the re-run. It
// refuses a re-run of another plan, of other steps, or of a host prev
// does not have.
func FoldRerun(prev, rerun *Result, only map[string][]string) (*Result, error) {
	if prev.Plan != rerun.Plan || !slices.Equal(prev.Steps, rerun.Steps) {
		return nil, fmt.Errorf("the re-run is plan %q with steps %s, the earlier result plan %q with steps %s: re-run the same plan", rerun.Plan, stepList(rerun), prev.Plan, stepList(prev))
	}
	folded := *prev
	folded.Hosts = slices.Clone(prev.Hosts)
	folded.Reruns = slices.Clone(prev.Reruns)
	folded.Groups, folded.Matrices = nil, nil
	index := map[string]int{}
	for i, h := range prev.Hosts {
		index[h.Name] = i
	}
	record := RerunRun{RunID: rerun.RunID, Started: rerun.Started, DurationMS: rerun.DurationMS, Interrupted: rerun.Interrupted}
	for _, h := range rerun.Hosts {
		i, ok := index[h.Name]
		if !ok {
			return nil, fmt.Errorf("host %s was re-run but is not in the earlier result", h.Name)
		}
		old := prev.Hosts[i]
		mark := &Rerun{Attempt: 2, RunID: rerun.RunID, Started: rerun.Started, Was: old.Status, Steps: only[h.Name]}
		if old.Rerun != nil {
			mark.Attempt = old.Rerun.Attempt + 1
		}
		if steps, some := only[h.Name]; some && h.Error == "" {
			merged := slices.Clone(old.Steps)
			for j := range merged {
				if slices.Contains(steps, merged[j].Name) {
					merged[j] = h.Step(merged[j].Name)
				}
			}
			h.Steps = merged
			h.Status = HostStatus(h.Steps, h.Cleanup)
		}
		h.Rerun = mark
		folded.Hosts[i] = h
		record.Hosts = append(record.Hosts, h.Name)
	}
	folded.Reruns = append(folded.Reruns, record)
	folded.Interrupted = rerun.Interrupted
	return &folded, nil
}

// RerunHosts counts the hosts whose outcome comes from a re-run.
func (r *Result) RerunHosts() int {
	n := 0
	for _, h := range r.Hosts {
		if h.Rerun != nil {
			n++
		}
	}
	return n
}
