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
}
