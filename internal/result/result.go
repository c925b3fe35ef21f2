// Package result is what a run learned, host by host and step by step: the
// Result, the one data model every report is rendered from.
package result

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/shard"
)

// Schema names the version of the JSON result document. A reader accepts
// documents whose schema has the same major version (the part before the dot).
const Schema = "everywhere.result/1.0"

// Status is the outcome of a step or a host.
type Status string

// Statuses, from best to worst for a host.
const (
	OK      Status = "ok"      // ran, exit code and every expectation as expected
	Skipped Status = "skipped" // not run: an earlier critical step failed, the host was unreachable, or the run was interrupted
	Flaky   Status = "flaky"   // not ok at first, ok on a retry (retries:): passed, yet counted apart
	Failed  Status = "failed"  // ran, but exit code or an expectation was not as expected
	Timeout Status = "timeout" // killed at its time limit
	Error   Status = "error"   // could not run: host unreachable, transport or daemon failure
)

// Result is everything a run learned, host by host and step by step.
type Result struct {
	Schema      string       `json:"schema"`
	RunID       string       `json:"run_id"`
	Plan        string       `json:"plan"`
	Version     string       `json:"everywhere_version,omitempty"` // of the everywhere that ran it, when known
	Started     time.Time    `json:"started"`
	DurationMS  int64        `json:"duration_ms"`
	Interrupted bool         `json:"interrupted,omitempty"`
	Steps       []string     `json:"steps"`             // the plan's step names, in order
	Cleanup     []string     `json:"cleanup,omitempty"` // the plan's cleanup step names
	Hosts       []HostResult `json:"hosts"`             // in inventory order
	// Shard is which part of the selected hosts this run had (--shard),
	// for report merge to check that it joins a whole set.
	Shard *shard.Shard `json:"shard,omitempty"`
	// StrictFlaky makes a flaky host fail the run (--strict-flaky).
	StrictFlaky bool `json:"strict_flaky,omitempty"`
	// Reruns are the runs of --rerun-failed folded into this result, oldest first.
	Reruns []RerunRun `json:"reruns,omitempty"`
	// Groups gathers, step by step, the hosts whose answers are equal as
	// internal/compare compares them (see report.Groups). Written by
	// the JSON report; ignored when a document is read back.
	Groups []StepGroups `json:"groups,omitempty"`
	// Matrices are the network matrices of the run's net.matrix steps, a
	// measure each (see NetMatrices). Written by the JSON report; ignored
	// when a document is read back.
	Matrices []Matrix `json:"matrices,omitempty"`
}

// StepGroups is one step's hosts gathered by outcome, the largest group first.
type StepGroups struct {
	Step    string  `json:"step"`
	Cleanup bool    `json:"cleanup,omitempty"`
	Groups  []Group `json:"groups"`
}

// Group is the hosts that gave one outcome of a step.
type Group struct {
	Status Status   `json:"status"`           // empty for hosts that have no such step
	Reason string   `json:"reason,omitempty"` // why not ok; where the group's hosts' reasons differ, masked (<host>, <arch>, <pid>…)
	Hosts  []string `json:"hosts"`            // in inventory order
	Odd    bool     `json:"odd,omitempty"`    // its hosts differ: not the one largest group (with none larger than all, every group)
}

// HostResult is one host's column of the report.
type HostResult struct {
	Name string `json:"name"`
	Arch string `json:"arch"`
	// ArchDetected says Arch is what the host said (uname -m) because
	// the inventory declared none; otherwise Arch is the declared one.
	ArchDetected bool   `json:"arch_detected,omitempty"`
	Address      string `json:"address"`
	Status       Status `json:"status"`
	Error        string `json:"error,omitempty"` // why the host could not be reached
	ConnectMS    int64  `json:"connect_ms"`      // all attempts, the waits between them too
	// Attempts is how many times the host was dialled: 1 when the first
	// attempt settled it, more when transient failures were retried
	// (--retries), 0 when it was never dialled.
	Attempts int `json:"attempts,omitempty"`
	// Facts are the host's environment as the run found it (see Facts).
	Facts *Facts `json:"facts,omitempty"`
	// Rerun, when set, says this host's outcome comes from a later run
	// of --rerun-failed than the result's own.
	Rerun   *Rerun       `json:"rerun,omitempty"`
	Steps   []StepResult `json:"steps"`
	Cleanup []StepResult `json:"cleanup,omitempty"`

	Labels []string `json:"labels,omitempty"` // the inventory's, for filtering a report
}

// Step returns the host's step named name, or a zero StepResult when the
// plan had none.
func (h HostResult) Step(name string) StepResult {
	for _, s := range h.Steps {
		if s.Name == name {
			return s
		}
	}
	return StepResult{}
}

// StepResult is one cell of the report.
type StepResult struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Command  string `json:"command"`
	Status   Status `json:"status"`
	ExitCode *int   `json:"exit_code,omitempty"`
	Signal   string `json:"signal,omitempty"`
	// Stdout and Stderr are what was kept of each stream: all of it or,
	// past the output limit, its first and last halves with a line
	// "[everywhere: N bytes, M newlines cut here]" between them.
	Stdout          string      `json:"stdout"`
	Stderr          string      `json:"stderr"`
	StdoutBytes     int64       `json:"stdout_bytes"` // written by the command, kept or not
	StderrBytes     int64       `json:"stderr_bytes"`
	StdoutTruncated bool        `json:"stdout_truncated,omitempty"`
	StderrTruncated bool        `json:"stderr_truncated,omitempty"`
	Started         time.Time   `json:"started"`
	DurationMS      int64       `json:"duration_ms"`
	Error           string      `json:"error,omitempty"`
	Expectations    []Outcome   `json:"expectations,omitempty"`
	Facts           *host.Facts `json:"facts,omitempty"` // what a probe learned (everywhere hosts)
	Pairs           []host.Pair `json:"pairs,omitempty"` // a network matrix's row: from this host to each other
	// TimeoutMS is the time limit that applied, scaled (timeout_scale) where it was.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
	// Tries are the earlier attempts of a retried step (retries:), which
	// were not ok; the fields above are its last attempt's.
	Tries []Try `json:"tries,omitempty"`
}

// Outcome is one expectation checked against one result.
type Outcome struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Duration is how long the step took.
func (s StepResult) Duration() time.Duration { return time.Duration(s.DurationMS) * time.Millisecond }

// Summary says in a few words why a step is not ok: the error, the failed
// expectation, the exit status. Empty for an ok step.
func (s StepResult) Summary() string {
	switch {
	case s.Status == OK:
		return ""
	case s.Status == Flaky:
		return s.flakySummary()
	case s.Error != "":
		return s.Error + s.triesNote()
	}
	var parts []string
	if s.Signal != "" {
		parts = append(parts, "killed by "+host.SignalName(s.Signal))
	}
	for _, e := range s.Expectations {
		if !e.OK {
			parts = append(parts, "expected "+e.Name+": "+e.Detail)
		}
	}
	if len(parts) == 0 && s.ExitCode != nil {
		parts = append(parts, fmt.Sprintf("exit status %d", *s.ExitCode))
	}
	return strings.Join(parts, "; ") + s.triesNote()
}

// Counts tallies hosts by status.
func (r *Result) Counts() map[Status]int {
	counts := map[Status]int{}
	for _, h := range r.Hosts {
		counts[h.Status]++
	}
	return counts
}

// WriteFile saves the result as indented JSON.
func (r *Result) WriteFile(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// SchemaKnown says whether a document of schema s can be read: same name,
// same major version ("everywhere.result/1.x"). The name holds a dot of its
// own, so the version is what follows the slash.
func SchemaKnown(s string) bool {
	name, version, ok := strings.Cut(s, "/")
	wantName, wantVersion, _ := strings.Cut(Schema, "/")
	major := func(v string) string { m, _, _ := strings.Cut(v, "."); return m }
	return ok && name == wantName && major(version) == major(wantVersion)
}

// ReadFile loads a saved result, a JSON document or an HTML report that
// embeds one, refusing documents of another schema.
func ReadFile(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Read(path, data)
}

// Read is ReadFile of data already read; name names it in errors.
func Read(name string, data []byte) (*Result, error) {
	data, err := fromHTML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: not a result document: %w", name, err)
	}
	if !SchemaKnown(r.Schema) {
		return nil, fmt.Errorf("%s: schema %q, this everywhere reads %q", name, r.Schema, Schema)
	}
	r.Groups, r.Matrices = nil, nil // derived: renderers compute them afresh
	return &r, nil
}

// CleanupLabel is how a cleanup step is named in every report and view,
// apart from the plan's steps of the same name.
func CleanupLabel(step string) string { return "cleanup: " + step }
