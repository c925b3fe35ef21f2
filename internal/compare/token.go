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
	Duration                  // a number with a unit of time: 12ms, 0.8s, 3 seconds, 0m0.003s
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

// volatileRE finds the volatile tokens, the earlier alternative first
// where two start at one place; each group of an alternative is a token.
var volatileRE, volatileClasses = func() (*regexp.Regexp, []Class) {
	alts := []struct {
		class Class
		re    string
	}{
		{ID, `\b(sha256:[0-9a-f]{64})\b`},
		{ID, `\b([0-9a-f]{64})\b`},
		{ID, `\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b`},
		{MAC, `\b([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})\b`},
		{Time, `\b((?:\d{4}-\d{2}-\d{2}[T ])?\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)`},
		{Index, `@if(\d+)\b`},
		{Index, `(?m:^)(\d+): [\w.-]+?(?:@if(\d+))?:`},
		{PID, `\b(?i:pid)[ =:] ?(\d+)\b`},
		{PID, `\b[A-Za-z][\w.-]*\[(\d+)\]`},
		{Duration, `\b(\d+m\d+(?:\.\d+)?s)\b`},
		{Duration, `\b(\d+(?:\.\d+)? ?(?:ns|us|µs|ms|s|secs?|seconds?|mins?|minutes?|hours?))\b`},
		{ID, `\b([0-9a-f]{12})\b`},
	}
	var b strings.Builder
	classes := []Class{0} // group 0 is the whole match
	for i, a := range alts {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(a.re)
		for range regexp.MustCompile(a.re).NumSubexp() {
			classes = append(classes, a.class)
		}
	}
	return regexp.MustCompile(b.String()), classes
}()

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
	var found []Token
	for _, loc := range volatileRE.FindAllStringSubmatchIndex(s, -1) {
		for g := 1; g < len(volatileClasses); g++ {
			if loc[2*g] >= 0 {
				found = append(found, Token{loc[2*g], loc[2*g+1], volatileClasses[g]})
			}
		}
	}
	for _, t := range found {
		if t.Class == ID && len(s[t.Start:t.End]) == 12 && !strings.ContainsAny(s[t.Start:t.End], "0123456789") {
			continue // a word of hex letters, not an id
		}
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

// Key is s as it is compared: every token its class's key, the rest as it
// is (a NUL of the host's own doubled, so that it is never a token's).
func (m *Mask) Key(s string) string {
	return m.rewrite(s, func(c Class) string { return c.key() }, func(raw string) string {
		return strings.ReplaceAll(raw, "\x00", "\x00\x00")
	})
}

// Apply is s with every token its placeholder: what diff compares, and
// what a view shows of one host's text where it does not say the values.
func (m *Mask) Apply(s string) string {
	return m.rewrite(s, Class.Placeholder, nil)
}

func (m *Mask) rewrite(s string, token func(Class) string, raw func(string) string) string {
	tokens := m.Tokens(s)
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
