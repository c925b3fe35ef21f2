package labkit

import "time"

// HostStatus is what Status found of one lab host.
type HostStatus struct {
	Host
	Namespace bool
	SSHDPID   int // 0: not running
	Answers   bool
	Docker    bool          // its engine answers
	LXD       bool          // the lab's LXD answers through its socket in the host
	Machine   MachineStatus // a lab of machines only
}

// MachineStatus is what Status found of one lab machine.
type MachineStatus struct {
	PID    int
	RSS    int64 // bytes
	Uptime time.Duration
	Accel  string // tcg or kvm
}
