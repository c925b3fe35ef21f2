package main

import (
	"strings"
	"testing"
)

// TestTallyCountsAcrossWrites: a want split between two writes counts
// once, and the tail keeps the end of the output, not all of it.
func TestTallyCountsAcrossWrites(t *testing.T) {
	tl := &tally{want: []byte(`"status": "ok"`)}
	out := strings.Repeat(`{"status": "ok"}`+"\n", 1000) + "last line\n"
	for chunk := 7; len(out) > 0; chunk = chunk*3%50 + 1 {
		n := min(chunk, len(out))
		tl.Write([]byte(out[:n]))
		out = out[n:]
	}
	if tl.count != 1000 || len(tl.tail) > 2*tailSize || lastLine(string(tl.tail)) != "last line" {
		t.Errorf("count %d (want 1000), tail of %d bytes ending %q", tl.count, len(tl.tail), lastLine(string(tl.tail)))
	}
}
