// Package compare decides, once for every view of a run (the side view's
// columns, groups and panes, Markdown, JSON, the HTML page, the live
// tiles, diff), which hosts agree on a step and which differ.
//
// Two answers are equal when they are equal once what is each host's own
// (its name, its address, its architecture's names, the run id) and what
// differs on every host anyway (interface indexes, PIDs, container and
// image ids, MAC addresses, times of day, durations) are set aside as
// tokens. The hosts of a step fall into groups of equal answers, the
// largest first; a group smaller than the largest is the odd one out; with
// no single largest group, every group differs (Verdict). Tokens only decide
// equality: a view shows what a token stood for, host by host (Show).
package compare

import (
	"net"
	"regexp"
	"sort"
	"strings"

	"everywhere/internal/host"
	"everywhere/internal/result"
)

// Class is what a token of a host's text stands for.
type Class uint8

// Classes of tokens: a host's identity first, then the volatile ones.
const (
	Host     Class = iota + 1 // the host's name, as a whole word
	Address                   // the host's address, with or without its port
	Arch                      // a name of the host's declared architecture
	RunID                     // the run id
	Index                     // an interface index: eth0@if7, "7: eth0:" in ip's output
	PID                       // a process id: pid 1234, pid=1234, sshd[1234]
	ID                        // a container, image or instance id: 12 or 64 hex digits, sha256:…, a UUID
	MAC                       // a MAC address
	Time                      // a time of day, with its date and zone if given
	Duration                  // a number with a unit of time: 12ms, 0.8s, 3 seconds, 2 days, 0m0.003s
)

var placeholders = [...]string{Host: "<host>", Address: "<address>", Arch: "<arch>", RunID: "<run>",
	Index: "<index>", PID: "<pid>", ID: "<id>", MAC: "<mac>", Time: "<time>", Duration: "<duration>"}

// Placeholder is how the class is written where a token's value is not
// shown: <host>, <arch>, <index>…
func (c Class) Placeholder() string { return placeholders[c] }

// Volatile says the class is not a host's identity but a value that
// differs from host to host anyway.
func (c Class) Volatile() bool { return c >= Index }

// key is how a token reads in a comparison key. A host's name and its
// architecture's names are one: a host may be named after its
// architecture (the lab's s390x answers `uname -m` with its own name).
func (c Class) key() string {
	if c == Host {
		return "\x00" + Arch.Placeholder()
	}
	return "\x00" + c.Placeholder()
}

// Token is a span of a host's text that is set aside when it is compared.
type Token struct {
	Start, End int
	Class      Class
}

// Identity is what is a host's own, as the comparison masks it.
type Identity struct {
	Name, Address, Arch, RunID string
}

// IdentityOf is h's identity in the run runID.
func IdentityOf(h result.HostResult, runID string) Identity {
	return Identity{Name: h.Name, Address: h.Address, Arch: h.Arch, RunID: runID}
}

// archSpellings are the names of a in the outputs of uname -m, dpkg, Go and
// Docker's image platforms (arm/v7), everywhere's own too.
func archSpellings(declared string) []string {
	names := []string{declared}
	if a, err := host.ParseArch(declared); err == nil {
		names = append(names, string(a), a.Debian(), a.Kernel(), a.GOARCH())
		if a == host.ArmHF {
			names = append(names, "arm/v7")
		}
	}
	return names
}

type pattern struct {
	text  string
	class Class
}

// Mask finds the tokens of one host's text.
type Mask struct {
	pats  []pattern // longest first
	first [256]bool
}

// Mask compiles id's masks. withName masks the host's name too: Compare
// leaves it out where the name is a word of the step's answers (see
// Compare).
func (id Identity) Mask(withName bool) *Mask {
	m := &Mask{}
	seen := map[string]bool{}
	add := func(s string, c Class) {
		if s == "" || seen[s] || strings.ContainsRune(s, '\n') {
			return
		}
		seen[s] = true
		m.pats = append(m.pats, pattern{s, c})
		m.first[s[0]] = true
	}
	add(id.Address, Address)
	if h, _, err := net.SplitHostPort(id.Address); err == nil {
		add(h, Address)
	}
	for _, n := range archSpellings(id.Arch) {
		add(n, Arch)
	}
	// After the arch's names: a host named after its arch is its arch.
	if withName {
		add(id.Name, Host)
	}
	add(id.RunID, RunID)
	sort.SliceStable(m.pats, func(i, j int) bool { return len(m.pats[i].text) > len(m.pats[j].text) })
	return m
}

func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// volatiles find the volatile tokens: each group of a pattern's match is
// a token. Each pattern runs only on text that holds what it needs (its
// gate), and one regexp a class rather than one for all: with a dozen
// alternatives tried at every byte, one regexp took 40 µs for a line.
var volatiles = func() []volatile {
	has := func(sub string) func(string) bool { return func(s string) bool { return strings.Contains(s, sub) } }
	list := []struct {
		class Class
		gate  func(string) bool
		re    string
	}{
		{ID, has("sha256:"), `\b(sha256:[0-9a-f]{64})\b`},
		{ID, hexRun, `\b([0-9a-f]{64}|[0-9a-f]{12})\b`},
		{ID, has("-"), `\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b`},
		{MAC, has(":"), `\b([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})\b`},
		{Time, has(":"), `\b((?:\d{4}-\d{2}-\d{2}[T ])?\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)`},
		{Index, has("@if"), `@if(\d+)\b`},
		{Index, has(": "), `(?m:^)(\d+): [\w.-]+?(?:@if(\d+))?:`},
		{PID, func(s string) bool { return strings.Contains(strings.ToLower(s), "pid") }, `\b(?i:pid)[ =:] ?(\d+)\b`},
		{PID, has("["), `\w\[(\d+)\]`},
		{Duration, timeUnit, `\b(\d+m\d+(?:\.\d+)?s|\d+(?:\.\d+)? ?(?:ns|us|µs|ms|s|secs?|seconds?|mins?|minutes?|hours?|days?|weeks?))\b`},
	}
	out := make([]volatile, len(list))
	for i, v := range list {
		out[i] = volatile{v.class, v.gate, regexp.MustCompile(v.re)}
	}
	return out
}()

// hexRun says s holds a run of 12 or 64 lower-case hex digits.
func hexRun(s string) bool {
	n := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			n++
			continue
		}
		if n == 12 || n == 64 {
			return true
		}
		n = 0
	}
	return false
}

// timeUnit says s holds a digit followed, after a space or not, by what
// may start a unit of time.
func timeUnit(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			continue
		}
		j := i + 1
		if s[j] == ' ' && j+1 < len(s) {
			j++
		}
		switch s[j] {
		case 'n', 'u', 'm', 's', 'h', 'd', 'w', 0xc2: // 0xc2 starts µ
			return true
		}
	}
	return false
}

type volatile struct {
	class Class
	gate  func(string) bool
	re    *regexp.Regexp
}

// volatileTokens are s's volatile tokens in order; where two overlap, the
// one that starts first, or of two that start together the one of the
// pattern listed first, stands.
func volatileTokens(s string) []Token {
	type found struct {
		Token
		rank int
	}
	var all []found
	for rank, v := range volatiles {
		if !v.gate(s) {
			continue
		}
		for _, loc := range v.re.FindAllStringSubmatchIndex(s, -1) {
			for g := 1; 2*g < len(loc); g++ {
				if loc[2*g] < 0 {
					continue
				}
				t := Token{loc[2*g], loc[2*g+1], v.class}
				if t.Class == ID && t.End-t.Start == 12 && !strings.ContainsAny(s[t.Start:t.End], "0123456789") {
					continue // a word of hex letters, not an id
				}
				all = append(all, found{t, rank})
			}
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Start != all[j].Start {
			return all[i].Start < all[j].Start
		}
		return all[i].rank < all[j].rank
	})
	var out []Token
	for _, f := range all {
		if len(out) > 0 && f.Start < out[len(out)-1].End {
			continue
		}
		out = append(out, f.Token)
	}
	return out
}

// Tokens are the tokens of s in order: the host's identity where its
// words are whole words, then the volatile values that overlap none.
func (m *Mask) Tokens(s string) []Token {
	var own []Token
	for i := 0; i < len(s); i++ {
		if !m.first[s[i]] || (i > 0 && wordByte(s[i-1])) {
			continue
		}
		for _, p := range m.pats {
			end := i + len(p.text)
			if strings.HasPrefix(s[i:], p.text) && (end == len(s) || !wordByte(s[end])) {
				own = append(own, Token{i, end, p.class})
				i = end - 1
				break
			}
		}
	}
	var out []Token
	k := 0
	for _, t := range volatileTokens(s) {
		for k < len(own) && own[k].End <= t.Start {
			out = append(out, own[k])
			k++
		}
		if k < len(own) && own[k].Start < t.End {
			continue // overlaps the host's own: that one stands
		}
		out = append(out, t)
	}
	return append(out, own[k:]...)
}

// key is s with its tokens as it is compared: every token its class's
// key, the rest as it is (a NUL of the host's own doubled, so that it is
// never a token's).
func key(s string, tokens []Token) string {
	return rewrite(s, tokens, func(c Class) string { return c.key() }, func(raw string) string {
		return strings.ReplaceAll(raw, "\x00", "\x00\x00")
	})
}

// Apply is s with every token its placeholder: what diff compares, and
// what a view shows of one host's text where it does not say the values.
func (m *Mask) Apply(s string) string {
	return rewrite(s, m.Tokens(s), Class.Placeholder, nil)
}

func rewrite(s string, tokens []Token, token func(Class) string, raw func(string) string) string {
	if len(tokens) == 0 && (raw == nil || !strings.Contains(s, "\x00")) {
		return s
	}
	if raw == nil {
		raw = func(s string) string { return s }
	}
	var b strings.Builder
	last := 0
	for _, t := range tokens {
		b.WriteString(raw(s[last:t.Start]))
		b.WriteString(token(t.Class))
		last = t.End
	}
	b.WriteString(raw(s[last:]))
	return b.String()
}
