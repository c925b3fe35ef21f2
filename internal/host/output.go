package host

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

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
	Pairs    []Pair // what a network matrix measured from this host
}

// NewOutput is an empty Output keeping at most limit bytes per stream.
func NewOutput(limit int) *Output {
	return &Output{Stdout: CappedBuffer{Limit: limit}, Stderr: CappedBuffer{Limit: limit}}
}

// Tap sees output as it is written, before the command ends: what a live
// view streams. It is called on the writer's goroutine and must not block.
type Tap func(stderr bool, p []byte)

type tapKey struct{}

// WithTap has the outputs NewOutputFor makes under ctx copy what is
// written to them to tap, besides keeping it. A nil tap stops the copying:
// for commands a step runs whose raw output is not for the live view.
func WithTap(ctx context.Context, tap Tap) context.Context {
	return context.WithValue(ctx, tapKey{}, tap)
}

// NewOutputFor is NewOutput for a command run under ctx: when ctx carries
// a Tap (WithTap), its streams are tapped.
func NewOutputFor(ctx context.Context, limit int) *Output {
	out := NewOutput(limit)
	if tap, ok := ctx.Value(tapKey{}).(Tap); ok && tap != nil {
		out.Stdout.tap = func(p []byte) { tap(false, p) }
		out.Stderr.tap = func(p []byte) { tap(true, p) }
	}
	return out
}

// CappedBuffer keeps at most Limit bytes of what is written to it: the
// first half and the last half, so both the start of a long log and its
// end, where the error usually is, survive. What falls between is counted
// (bytes and line ends) and marked. It is safe for concurrent use: a
// cancelled command may still be writing.
type CappedBuffer struct {
	Limit int
	mu    sync.Mutex
	head  []byte
	tail  []byte // the last bytes written; only its last tailRoom() count
	total int64
	// bytes and newlines dropped from before tail
	cutBytes, cutLines int64
	tap                func([]byte) // sees every write, kept or not
}

func (b *CappedBuffer) headRoom() int { return b.Limit / 2 }
func (b *CappedBuffer) tailRoom() int { return b.Limit - b.Limit/2 }

// Write keeps what fits and never fails, so the writer is never blocked.
// It takes time linear in what is written, however long.
func (b *CappedBuffer) Write(p []byte) (int, error) {
	if b.tap != nil && len(p) > 0 {
		b.tap(p)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	b.total += int64(n)
	if room := b.headRoom() - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head = append(b.head, p[:k]...)
		p = p[k:]
	}
	room := b.tailRoom()
	if len(p) == 0 || room <= 0 {
		if room <= 0 {
			b.drop(p)
		}
		return n, nil
	}
	if len(p) >= room {
		b.drop(b.tail)
		b.drop(p[:len(p)-room])
		b.tail = append(b.tail[:0], p[len(p)-room:]...)
		return n, nil
	}
	b.tail = append(b.tail, p...)
	if len(b.tail) >= 2*room { // compact now and then: amortised linear
		extra := len(b.tail) - room
		b.drop(b.tail[:extra])
		b.tail = append(b.tail[:0], b.tail[extra:]...)
	}
	return n, nil
}

// Sizes of ReadFrom's read buffer: small for the few lines most commands
// print, doubled while reads fill it, up to io.Copy's own size.
const (
	minReadChunk = 512
	maxReadChunk = 32 << 10
)

// ReadFrom reads r to its end, keeping what Write would. An SSH session
// copies each output stream with io.Copy, which without ReadFrom allocates
// 32 KiB per stream per step however little the command prints: with
// thousands of hosts at once, most of a run's memory.
func (b *CappedBuffer) ReadFrom(r io.Reader) (int64, error) {
	chunk := make([]byte, minReadChunk)
	var n int64
	for {
		k, err := r.Read(chunk)
		if k > 0 {
			_, _ = b.Write(chunk[:k])
			n += int64(k)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if k == len(chunk) && len(chunk) < maxReadChunk {
			chunk = make([]byte, 2*len(chunk))
		}
	}
}

func (b *CappedBuffer) drop(p []byte) {
	b.cutBytes += int64(len(p))
	b.cutLines += int64(bytes.Count(p, []byte{'\n'}))
}

// Parts is what was kept: the head, the tail, and what was cut between
// them. A rune split by a cut goes with the cut, so both parts stay valid
// UTF-8 when the output was.
func (b *CappedBuffer) Parts() (head, tail string, cut Cut) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h, t := b.head, b.tail
	cut = Cut{Bytes: b.cutBytes, Lines: b.cutLines}
	if extra := len(t) - b.tailRoom(); extra > 0 {
		cut.Bytes += int64(extra)
		cut.Lines += int64(bytes.Count(t[:extra], []byte{'\n'}))
		t = t[extra:]
	}
	if cut.Bytes == 0 {
		return string(h) + string(t), "", Cut{}
	}
	for i := 0; i < utf8.UTFMax && len(t) > 0 && !utf8.RuneStart(t[0]); i++ {
		t = t[1:]
		cut.Bytes++
	}
	if k := lastRuneStart(h); k >= 0 && !utf8.FullRune(h[k:]) {
		cut.Bytes += int64(len(h) - k)
		h = h[:k]
	}
	return string(h), string(t), cut
}

func lastRuneStart(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax; i-- {
		if utf8.RuneStart(p[i]) {
			return i
		}
	}
	return -1
}

// String is the kept output: all of it, or its head, a cut marker line and
// its tail (see Cut.Marker).
func (b *CappedBuffer) String() string {
	head, tail, cut := b.Parts()
	if cut.Bytes == 0 {
		return head
	}
	return head + cut.Marker() + tail
}

// Total is how many bytes were written, kept or not.
func (b *CappedBuffer) Total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// Truncated says whether output was dropped.
func (b *CappedBuffer) Truncated() bool {
	_, _, cut := b.Parts()
	return cut.Bytes > 0
}

// Cut is what an output limit dropped from the middle of a stream.
type Cut struct {
	Bytes int64 // bytes dropped
	Lines int64 // line ends among them
}

// Marker is the line that stands for the cut in kept text:
//
//	\n[everywhere: 1048576 bytes, 31140 newlines cut here]\n
//
// on a line of its own, so head and tail keep their own lines.
func (c Cut) Marker() string {
	return fmt.Sprintf("\n[everywhere: %d bytes, %d newlines cut here]\n", c.Bytes, c.Lines)
}

// markerPattern is compiled on first use, not when the package loads, so
// that evnet (netprobe's responder, which links this package but not
// SplitKept) leaves regexp and its Unicode tables out: a tenth of its
// size, embedded six times over.
var (
	markerOnce sync.Once
	markerRE   *regexp.Regexp
)

func markerPattern() *regexp.Regexp {
	markerOnce.Do(func() {
		markerRE = regexp.MustCompile(`\n\[everywhere: ([0-9]+) bytes, ([0-9]+) newlines cut here\]\n`)
	})
	return markerRE
}

// SplitKept finds the cut marker in kept text that was truncated and
// returns the text around it. The kept head and tail are equally long, so
// of several markers (a remote may print one) the one nearest the middle
// is the real one. ok is false when there is none: not truncated, or an
// old document.
func SplitKept(kept string) (head, tail string, cut Cut, ok bool) {
	found := markerPattern().FindAllStringSubmatchIndex(kept, -1)
	if len(found) == 0 {
		return kept, "", Cut{}, false
	}
	best := found[0]
	dist := func(m []int) int { return abs(m[0] - (len(kept)-(m[1]-m[0]))/2) }
	for _, m := range found[1:] {
		if dist(m) < dist(best) {
			best = m
		}
	}
	cut.Bytes, _ = strconv.ParseInt(kept[best[2]:best[3]], 10, 64)
	cut.Lines, _ = strconv.ParseInt(kept[best[4]:best[5]], 10, 64)
	return kept[:best[0]], kept[best[1]:], cut, true
}

func abs(n int) int { return max(n, -n) }

// SignalName is a signal name as a remote sent it, SIG prefix or not, if
// it is one: only [A-Z0-9]+ is accepted, anything else becomes "UNKNOWN",
// so that a host cannot put text of its choosing into a report.
func SignalName(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') }) {
		return "UNKNOWN"
	}
	return s
}
