// Package text makes untrusted text (a host's output, names and error
// strings from an inventory or a remote) safe to show and measures it in
// terminal display cells. Every renderer passes remote text through Clean
// or Line once, at render time, and lays it out with Width and Wrap.
package text

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// Clean neutralises text that may span lines: C0 and C1 control
// characters, DEL, bidi embeddings, overrides, isolates and marks, and other
// invisible format characters become visible placeholders (␛ for ESC,
// <U+202E> for RIGHT-TO-LEFT OVERRIDE), invalid UTF-8 becomes U+FFFD. A CR
// LF pair or a lone CR ends a line; newlines and tabs stay as they are.
func Clean(s string) string {
	if plain(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	prev := rune(-1)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		next := rune(-1)
		if i+size < len(s) {
			next, _ = utf8.DecodeRuneInString(s[i+size:])
		}
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == '\r':
			if next != '\n' {
				b.WriteByte('\n')
			}
		case r < 0x20:
			b.WriteRune(0x2400 + r) // the Control Pictures block: ␀ … ␟
		case r == 0x7f:
			b.WriteRune('␡')
		case r == 0x200d && pictograph(prev) && pictograph(next):
			b.WriteRune(r) // a joiner inside an emoji sequence (👩‍💻)
		case invisible(r):
			fmt.Fprintf(&b, "<U+%04X>", r)
		default:
			b.WriteRune(r)
		}
		prev = r
		i += size
	}
	return b.String()
}

// Line is Clean for places that hold a single line (a progress line, a
// heading, a table cell of one line, an attribute): line ends become ↵ and
// tabs spaces.
func Line(s string) string {
	s = Clean(s)
	if !strings.ContainsAny(s, "\n\t") {
		return s
	}
	return strings.NewReplacer("\n", " ↵ ", "\t", " ").Replace(strings.TrimRight(s, "\n"))
}

// plain says s is printable ASCII, newlines and tabs only: nothing to do.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

// invisible reports characters that draw nothing or reorder what follows:
// C1 controls, format characters (Cf: bidi controls, zero-width spaces and
// joiners, BOM, soft hyphen, tags), line and paragraph separators,
// noncharacters and fillers that render blank yet count as letters.
func invisible(r rune) bool {
	switch {
	case r >= 0x80 && r < 0xa0:
		return true
	case r == 0x2028 || r == 0x2029 || r == 0xfffe || r == 0xffff:
		return true
	case r == 0x115f || r == 0x1160 || r == 0x3164 || r == 0xffa0 || r == 0x034f:
		return true
	case r >= 0xfff9 && r <= 0xfffb: // interlinear annotation
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// pictograph is a rough test for the emoji a zero width joiner may join.
func pictograph(r rune) bool {
	return r >= 0x1f000 || r == 0xfe0f || (r >= 0x2600 && r <= 0x27bf) || (r >= 0x1f3fb && r <= 0x1f3ff)
}

// Width is how many terminal cells the clean single line s takes.
func Width(s string) int {
	if asciiOnly(s) {
		return len(s)
	}
	return uniseg.StringWidth(s)
}

// Pad fills the clean single line s with spaces to width cells.
func Pad(s string, width int) string {
	if n := width - Width(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

func asciiOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// TabWidth is the distance between tab stops when tabs are expanded.
const TabWidth = 8

// Lines splits clean text into its lines, expanding tabs to spaces.
func Lines(s string) []string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.IndexByte(l, '\t') >= 0 {
			lines[i] = expandTabs(l)
		}
	}
	return lines
}

func expandTabs(l string) string {
	var b strings.Builder
	col := 0
	for _, part := range strings.SplitAfter(l, "\t") {
		part, tab := strings.CutSuffix(part, "\t")
		b.WriteString(part)
		col += Width(part)
		if tab {
			n := TabWidth - col%TabWidth
			b.WriteString(strings.Repeat(" ", n))
			col += n
		}
	}
	return b.String()
}

// Wrap breaks one clean line (no newline, no tab: see Lines) into rows of
// at most width cells, between grapheme clusters, at a space where there is
// one in the second half of the row. It takes time linear in len(line).
func Wrap(line string, width int) []string {
	width = max(width, 2)
	if len(line) <= width && (asciiOnly(line) || Width(line) <= width) {
		return []string{line}
	}
	var rows []string
	start, col := 0, 0
	space, spaceCol := -1, 0 // byte offset just after the last space in the row, and its column
	state := -1
	for pos := 0; pos < len(line); {
		size, w := 1, 1
		if c := line[pos]; c < 0x80 && (pos+1 == len(line) || line[pos+1] < 0x80) {
			state = -1 // two ASCII characters never join: a cluster boundary
		} else {
			var cluster string
			cluster, _, w, state = uniseg.FirstGraphemeClusterInString(line[pos:], state)
			size = len(cluster)
		}
		if col+w > width && pos > start {
			if space > start && spaceCol > width/2 {
				rows = append(rows, strings.TrimRight(line[start:space], " "))
				start, col = space, col-spaceCol
			} else {
				rows = append(rows, line[start:pos])
				start, col = pos, 0
			}
			space = -1
		}
		if line[pos] == ' ' {
			space, spaceCol = pos+1, col+1
		}
		col += w
		pos += size
	}
	return append(rows, line[start:])
}

// Truncate cuts a clean single line to width cells, ending it with … when
// something was cut.
func Truncate(s string, width int) string {
	if Width(s) <= width {
		return s
	}
	if width < 1 {
		return ""
	}
	if asciiOnly(s) {
		return s[:width-1] + "…"
	}
	col, state := 0, -1
	for pos := 0; pos < len(s); {
		cluster, _, w, st := uniseg.FirstGraphemeClusterInString(s[pos:], state)
		if col+w > width-1 {
			return s[:pos] + "…"
		}
		state = st
		col += w
		pos += len(cluster)
	}
	return s
}

// Count is n with its noun in the form the number takes: "1 host", "2 hosts".
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
