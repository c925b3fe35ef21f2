package text

import (
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "hello\n\tworld", "hello\n\tworld"},
		{"escape sequence", "\x1b[31mred\x1b[0m", "␛[31mred␛[0m"},
		{"NUL BEL BS", "a\x00b\x07c\x08d", "a␀b␇c␈d"},
		{"DEL", "a\x7fb", "a␡b"},
		{"C1 CSI", "a\u009b2Jb", "a<U+009B>2Jb"},
		{"CRLF", "one\r\ntwo\r\n", "one\ntwo\n"},
		{"lone CR", "10%\r100%", "10%\n100%"},
		{"RLO", "file\u202Egnp.exe", "file<U+202E>gnp.exe"},
		{"isolates", "\u2066a\u2069\u2067b\u2068c", "<U+2066>a<U+2069><U+2067>b<U+2068>c"},
		{"marks", "\u200Ea\u200F\u061C", "<U+200E>a<U+200F><U+061C>"},
		{"zero width", "a\u200Bb\u2060c\uFEFFd\u00ADe", "a<U+200B>b<U+2060>c<U+FEFF>d<U+00AD>e"},
		{"line separator", "a\u2028b", "a<U+2028>b"},
		{"hangul filler", "a\u3164b", "a<U+3164>b"},
		{"lone joiner", "a\u200Db", "a<U+200D>b"},
		{"emoji joiner kept", "👩\u200D💻", "👩\u200D💻"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
		{"CJK and combining kept", "日本語 e\u0301", "日本語 e\u0301"},
	}
	for _, tt := range tests {
		if got := Clean(tt.in); got != tt.want {
			t.Errorf("%s: Clean(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestLine(t *testing.T) {
	if got, want := Line("KILL\n\n## All 12 hosts passed\n\x1b]8;;x\x07"), "KILL ↵  ↵ ## All 12 hosts passed ↵ ␛]8;;x␇"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
	if got := Line("a\tb"); got != "a b" {
		t.Errorf("Line tab = %q", got)
	}
}

func TestWidth(t *testing.T) {
	for s, want := range map[string]int{"abc": 3, "日本語": 6, "e\u0301": 1, "👩\u200D💻": 2, "🇩🇪": 2, "": 0} {
		if got := Width(s); got != want {
			t.Errorf("Width(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestWrapFitsAndKeepsEverything(t *testing.T) {
	inputs := []string{
		strings.Repeat("x", 300),
		strings.Repeat("日本語", 50),
		strings.Repeat("e\u0301", 100),
		strings.Repeat("👩\u200D💻🇩🇪", 40),
		"the quick brown fox jumps over the lazy dog " + strings.Repeat("日a", 30),
		"a日" + strings.Repeat("語", 20),
	}
	for _, in := range inputs {
		for _, width := range []int{2, 3, 7, 10, 19, 40} {
			rows := Wrap(in, width)
			for _, r := range rows {
				if Width(r) > width {
					t.Errorf("Wrap(%.20q, %d): row %q is %d wide", in, width, r, Width(r))
				}
			}
			if strings.ReplaceAll(strings.Join(rows, ""), " ", "") != strings.ReplaceAll(in, " ", "") {
				t.Errorf("Wrap(%.20q, %d) lost text: %q", in, width, rows)
			}
		}
	}
	if got := Wrap("hello world again", 12); len(got) != 2 || got[0] != "hello world" || got[1] != "again" {
		t.Errorf("Wrap at a space: %q", got)
	}
}

func TestLinesExpandsTabs(t *testing.T) {
	got := Lines("a\tb\nabcdefgh\tc")
	if len(got) != 2 || got[0] != "a       b" || got[1] != "abcdefgh        c" {
		t.Errorf("Lines = %q", got)
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		in    string
		width int
		want  string
	}{{"hello", 5, "hello"}, {"hello world", 6, "hello…"}, {"日本語", 5, "日本…"}, {"日本語", 4, "日…"}} {
		if got := Truncate(tt.in, tt.width); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 hosts", 1: "1 host", 2: "2 hosts"} {
		if got := Count(n, "host", "hosts"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
