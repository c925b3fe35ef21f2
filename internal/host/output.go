package host

import "sync"

// DefaultOutputLimit caps what is kept of each output stream of a step.
const DefaultOutputLimit = 1 << 20

// Output is what a command left behind: its exit code or signal and its
// output streams, each capped.
type Output struct {
	ExitCode int
	Signal   string // set when the command was killed by a signal
	Stdout   CappedBuffer
	Stderr   CappedBuffer
	Facts    *Facts // what a probe learned, when the action is one
}

// NewOutput is an empty Output keeping at most limit bytes per stream.
func NewOutput(limit int) *Output {
	return &Output{Stdout: CappedBuffer{Limit: limit}, Stderr: CappedBuffer{Limit: limit}}
}

// CappedBuffer keeps the first Limit bytes written to it and counts the rest.
// It is safe for concurrent use: a cancelled command may still be writing.
type CappedBuffer struct {
	Limit int
	mu    sync.Mutex
	data  []byte
	total int64
}

// Write keeps what fits and never fails, so the writer is never blocked.
func (b *CappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total += int64(len(p))
	if room := b.Limit - len(b.data); room > 0 {
		b.data = append(b.data, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// String is the kept output.
func (b *CappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.data)
}

// Total is how many bytes were written, kept or not.
func (b *CappedBuffer) Total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// Truncated says whether output was dropped.
func (b *CappedBuffer) Truncated() bool { return b.Total() > int64(len(b.String())) }
