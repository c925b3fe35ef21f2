package host

// The measures of a network matrix (the net.matrix step kind): each host's
// step result carries its row, one Pair for every other host it measured
// from its own container to that host's.

// Tests of a pair, in the order they run and are shown (fanatic's, plus
// throughput).
const (
	TestPing       = "ping"
	TestShort      = "short"
	TestLong       = "long"
	TestThroughput = "throughput"
)

// NetTests lists every test, in order.
var NetTests = []string{TestPing, TestShort, TestLong, TestThroughput}

// Pair is what was measured from the step's host to another host.
type Pair struct {
	To      string    `json:"to"`                // the other host's name
	Address string    `json:"address,omitempty"` // its container's address
	Ran     bool      `json:"ran"`               // false: not run, Error says why
	Skipped bool      `json:"skipped,omitempty"` // not run because the step does not apply at one end: no failure
	Error   string    `json:"error,omitempty"`   // why the pair was not run or could not finish
	Tests   []Measure `json:"tests,omitempty"`
}

// OK says whether every test of the pair ran and passed.
func (p Pair) OK() bool {
	if !p.Ran || p.Error != "" {
		return false
	}
	for _, m := range p.Tests {
		if !m.OK {
			return false
		}
	}
	return true
}

// Test returns the pair's measure of the named test, if it ran.
func (p Pair) Test(name string) (Measure, bool) {
	for _, m := range p.Tests {
		if m.Test == name {
			return m, true
		}
	}
	return Measure{}, false
}

// Measure is one test of a pair, PASS or FAIL as fanatic prints them.
type Measure struct {
	Test   string  `json:"test"` // one of NetTests
	OK     bool    `json:"ok"`
	Value  float64 `json:"value"`            // ping: mean round trip ms; short, long: ms; throughput: Mbit/s
	Unit   string  `json:"unit"`             // of Value
	Detail string  `json:"detail,omitempty"` // loss, bytes, checksum, or why it failed
	// Emulated says that one end ran under emulation (qemu-user): a
	// throughput or time then measures the emulation, not the network.
	Emulated bool `json:"emulated,omitempty"`
}
