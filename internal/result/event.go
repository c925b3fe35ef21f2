package result

import (
	"time"
)

// EventType says what an Event reports.
type EventType int

// The events a run emits, in the order one host sees them.
const (
	Connecting EventType = iota
	Connected
	StepStarted
	StepDone
	HostDone
	// Output is a chunk of a running step's output, as it arrived: sent at
	// most every few tens of milliseconds per host, coalesced, and with the
	// oldest bytes dropped (counted in Dropped) when the viewer falls behind.
	// The step's result keeps its whole output regardless.
	Output
)

// Event is progress from one host, for a live view.
type Event struct {
	Type      EventType
	Time      time.Time
	Host      string
	HostIndex int
	Step      string
	Cleanup   bool
	Status    Status
	Duration  time.Duration
	Detail    string // why a step was not ok
	Data      string // Output: stdout and stderr as they arrived, raw from the host (untrusted)
	Dropped   int64  // Output: bytes of this step left out before Data
}
