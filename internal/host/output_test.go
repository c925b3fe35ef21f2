package host

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCappedBufferKeepsHeadAndTail(t *testing.T) {
	var b CappedBuffer
	b.Limit = 100
	var all strings.Builder
	for i := 1; i <= 1000; i++ {
		line := fmt.Sprintf("%d\n", i)
		all.WriteString(line)
		_, _ = b.Write([]byte(line))
	}
	_, _ = b.Write([]byte("E: Unable to locate package foo\n"))
	all.WriteString("E: Unable to locate package foo\n")
	head, tail, cut := b.Parts()
	if len(head) != 50 || len(tail) != 50 {
		t.Errorf("kept %d + %d bytes, want 50 + 50", len(head), len(tail))
	}
	if !strings.HasPrefix(all.String(), head) || !strings.HasSuffix(all.String(), tail) || !strings.HasSuffix(tail, "E: Unable to locate package foo\n") {
		t.Errorf("head %q tail %q", head, tail)
	}
	if want := int64(all.Len() - 100); cut.Bytes != want || b.Total() != int64(all.Len()) || !b.Truncated() {
		t.Errorf("cut %d bytes, want %d; total %d", cut.Bytes, want, b.Total())
	}
	if middle := all.String()[50 : all.Len()-50]; cut.Lines != int64(strings.Count(middle, "\n")) {
		t.Errorf("cut %d lines, want %d", cut.Lines, strings.Count(middle, "\n"))
	}
	h, tl, c, ok := SplitKept(b.String())
	if !ok || h != head || tl != tail || c != cut {
		t.Errorf("SplitKept(String()) = %q, %q, %v, %v", h, tl, c, ok)
	}
}

func TestCappedBufferWritesOfAnySize(t *testing.T) {
	for _, chunk := range []int{1, 7, 49, 50, 51, 100, 333, 5000} {
		var b CappedBuffer
		b.Limit = 100
		data := strings.Repeat("abcdefghij\n", 500)
		for i := 0; i < len(data); i += chunk {
			_, _ = b.Write([]byte(data[i:min(i+chunk, len(data))]))
		}
		head, tail, cut := b.Parts()
		if head != data[:50] || tail != data[len(data)-50:] || cut.Bytes != int64(len(data)-100) ||
			cut.Lines != int64(strings.Count(data[50:len(data)-50], "\n")) {
			t.Errorf("chunk %d: head %q tail %q cut %+v", chunk, head, tail, cut)
		}
	}
}

// TestCappedBufferReadFrom: io.Copy into the buffer (as an SSH session
// copies a stream) keeps what writes would, with reads of any size.
func TestCappedBufferReadFrom(t *testing.T) {
	data := strings.Repeat("abcdefghij\n", 20000)
	for _, limit := range []int{100, 1 << 20} {
		var copied, written CappedBuffer
		copied.Limit, written.Limit = limit, limit
		n, err := io.Copy(&copied, iotest.HalfReader(strings.NewReader(data)))
		_, _ = written.Write([]byte(data))
		if err != nil || n != int64(len(data)) || copied.String() != written.String() || copied.Total() != written.Total() {
			t.Errorf("limit %d: copied %d bytes, %v; kept %d bytes, want %d", limit, n, err, len(copied.String()), len(written.String()))
		}
	}
	var b CappedBuffer
	b.Limit = 100
	if _, err := io.Copy(&b, iotest.TimeoutReader(strings.NewReader("partial output\n"))); err != iotest.ErrTimeout || b.String() != "partial output\n" {
		t.Errorf("a failing reader: %v, kept %q", err, b.String())
	}
}

// TestCappedBufferCopiesInLittleMemory: copying a line into a buffer
// allocates about as much as the line, not io.Copy's 32 KiB.
func TestCappedBufferCopiesInLittleMemory(t *testing.T) {
	const line = "Linux sim0 6.1.0-18 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 x86_64 GNU/Linux\n"
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	before := m.TotalAlloc
	for range 100 {
		b := CappedBuffer{Limit: DefaultOutputLimit}
		// Only a Read method, like an SSH channel: no WriteTo to take over.
		_, _ = io.Copy(&b, struct{ io.Reader }{strings.NewReader(line)})
	}
	runtime.ReadMemStats(&m)
	if perCopy := (m.TotalAlloc - before) / 100; perCopy > 2048 {
		t.Errorf("a copy of one line allocates %d bytes, want at most 2 KiB", perCopy)
	}
}

func TestCappedBufferShortOutputUnchanged(t *testing.T) {
	var b CappedBuffer
	b.Limit = 100
	_, _ = b.Write([]byte("hello\n"))
	_, _ = b.Write([]byte(strings.Repeat("x", 94)))
	if b.String() != "hello\n"+strings.Repeat("x", 94) || b.Truncated() {
		t.Errorf("got %q truncated %v", b.String(), b.Truncated())
	}
}

func TestCappedBufferCutsBetweenRunes(t *testing.T) {
	var b CappedBuffer
	b.Limit = 10
	_, _ = b.Write([]byte(strings.Repeat("é", 20))) // 2 bytes each: the cut falls mid-rune at either end
	head, tail, cut := b.Parts()
	if head != "éé" || tail != "éé" || cut.Bytes != 40-8 {
		t.Errorf("head %q tail %q cut %d", head, tail, cut.Bytes)
	}
}

func TestSplitKeptIgnoresForgedMarkers(t *testing.T) {
	var b CappedBuffer
	b.Limit = 200
	forged := Cut{Bytes: 7, Lines: 7}.Marker()
	_, _ = b.Write([]byte(forged + strings.Repeat("a", 500) + forged))
	head, tail, cut, ok := SplitKept(b.String())
	h, tl, c := b.Parts()
	if !ok || head != h || tail != tl || cut != c {
		t.Errorf("the forged marker won: %q %q %+v", head, tail, cut)
	}
}

func TestSignalName(t *testing.T) {
	for in, want := range map[string]string{"KILL": "KILL", "SIGTERM": "SIGTERM", "RT12": "RT12",
		"KILL\n\n## All 12 hosts passed": "UNKNOWN", "kill": "UNKNOWN", "": "UNKNOWN", "\x1b[2J": "UNKNOWN"} {
		if got := SignalName(in); got != want {
			t.Errorf("SignalName(%q) = %q, want %q", in, got, want)
		}
	}
}
