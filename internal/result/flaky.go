package result

import (
	"fmt"
	"strings"
	"time"
)

// Try is an earlier attempt of a retried step (a plan's retries:, or
// --step-retries) that was not ok: what JUnit calls a flaky or rerun failure.
type Try struct {
	Status     Status    `json:"status"`
	Reason     string    `json:"reason"` // its StepResult.Summary
	ExitCode   *int      `json:"exit_code,omitempty"`
	Stdout     string    `json:"stdout,omitempty"` // kept as the step's own output is
	Stderr     string    `json:"stderr,omitempty"`
	Started    time.Time `json:"started"`
	DurationMS int64     `json:"duration_ms"`
	TimeoutMS  int64     `json:"timeout_ms,omitempty"`
}

// TryOf is what is kept of a step's attempt once it is retried.
func TryOf(s StepResult) Try {
	s.Tries = nil // its own reason, not its earlier tries
	return Try{Status: s.Status, Reason: s.Summary(), ExitCode: s.ExitCode, Stdout: s.Stdout, Stderr: s.Stderr,
		Started: s.Started, DurationMS: s.DurationMS, TimeoutMS: s.TimeoutMS}
}

// triesNote tells, after why a retried step was not ok in the end, why its
// earlier tries were not either.
func (s StepResult) triesNote() string {
	if len(s.Tries) == 0 {
		return ""
	}
	return fmt.Sprintf(" (try %d; %s)", len(s.Tries)+1, s.earlierTries())
}

func (s StepResult) earlierTries() string {
	var why []string
	for i, t := range s.Tries {
		why = append(why, fmt.Sprintf("try %d: %s", i+1, t.Reason))
	}
	return strings.Join(why, "; ")
}

// flakySummary says on which attempt a flaky step passed, and why the
// attempts before it did not.
func (s StepResult) flakySummary() string {
	return fmt.Sprintf("passed on try %d (%s)", len(s.Tries)+1, s.earlierTries())
}
