package inventory

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The lines of Ansible's INI form, as its ini plugin reads them.
var (
	iniSection   = regexp.MustCompile(`^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$`)
	iniGroupName = regexp.MustCompile(`^([^:\]\s]+)\s*(?:#.*)?$`)
	bracketedV6  = regexp.MustCompile(`^\[([0-9A-Fa-f:.]+)\]:(\d+)$`)
)

// pendingGroup is a group named before it is declared: a child of
// [parent:children], or the group of a [group:vars]. Ansible requires it
// to be declared somewhere in the file.
type pendingGroup struct {
	line    int
	vars    bool
	parents []string
}

// readINI reads Ansible's INI form: hosts before any section are
// ungrouped; [g] lists hosts (with key=value vars), [g:vars] one key=value
// a line, [g:children] group names. ; and # begin comments.
func (inv *ansibleInventory) readINI(data []byte) error {
	pending := map[string]*pendingGroup{}
	group, state := "ungrouped", "hosts"
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if m := iniSection.FindStringSubmatch(line); m != nil {
			group, state = m[1], m[2]
			if state == "" {
				state = "hosts"
			}
			if state != "hosts" && state != "vars" && state != "children" {
				return inv.errorf(n, "section [%s:%s]: unknown kind %q (want [%s], [%s:vars] or [%s:children])", group, state, state, group, group, group)
			}
			if _, known := inv.groups[group]; !known && state == "vars" && pending[group] == nil {
				pending[group] = &pendingGroup{line: n, vars: true}
			}
			inv.group(group, n)
			if p := pending[group]; p != nil && state != "vars" {
				if err := inv.declare(group, pending); err != nil {
					return err
				}
			}
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			return inv.errorf(n, "%s: not a section: no spaces, and at most one :vars or :children", line)
		}
		var err error
		switch state {
		case "hosts":
			err = inv.iniHost(line, group, n)
		case "vars":
			key, value, found := strings.Cut(line, "=")
			if !found {
				return inv.errorf(n, "[%s:vars]: want key=value, got %q", group, line)
			}
			err = inv.setGroupVar(group, strings.TrimSpace(key), inv.iniVar(iniGroupValue(strings.TrimSpace(value)), n))
		case "children":
			m := iniGroupName.FindStringSubmatch(line)
			if m == nil {
				return inv.errorf(n, "[%s:children]: want a group name, got %q", group, line)
			}
			child := m[1]
			if _, known := inv.groups[child]; known {
				err = inv.addChild(group, child, n)
				break
			}
			if pending[child] == nil {
				pending[child] = &pendingGroup{line: n}
			}
			pending[child].parents = append(pending[child].parents, group)
		}
		if err != nil {
			return err
		}
	}
	for name, p := range pending {
		if p.vars {
			return inv.errorf(p.line, "[%s:vars] for a group declared nowhere", name)
		}
		return inv.errorf(p.line, "[%s:children] names a group declared nowhere: %s", p.parents[len(p.parents)-1], name)
	}
	return nil
}

// declare makes a pending group the child of the groups that named it,
// and of theirs in turn when they were pending too.
func (inv *ansibleInventory) declare(group string, pending map[string]*pendingGroup) error {
	p := pending[group]
	delete(pending, group)
	for _, parent := range p.parents {
		if err := inv.addChild(parent, group, p.line); err != nil {
			return err
		}
		if pending[parent] != nil && !pending[parent].vars {
			if err := inv.declare(parent, pending); err != nil {
				return err
			}
		}
	}
	return nil
}

// iniHost reads "PATTERN [key=value …] [# comment]".
func (inv *ansibleInventory) iniHost(line, group string, n int) error {
	words, err := shellWords(line, true)
	if err != nil {
		return inv.errorf(n, "%v", err)
	}
	if len(words) == 0 {
		return nil // a comment after all
	}
	names, port, err := expandHostPattern(words[0], maxAnsibleExpanded-inv.expanded)
	if err != nil {
		return inv.errorf(n, "%v", err)
	}
	vars := map[string]ansibleVar{}
	for _, w := range words[1:] {
		key, value, found := strings.Cut(w, "=")
		if !found {
			return inv.errorf(n, "host %s: want key=value after the host, got %q", words[0], w)
		}
		vars[key] = inv.iniVar(iniHostValue(value), n)
	}
	return inv.addHosts(names, port, vars, group, n)
}

// iniVar is a value read from the INI file: None is Python's, no value.
func (inv *ansibleInventory) iniVar(value string, line int) ansibleVar {
	return ansibleVar{value: value, file: inv.file, line: line, null: value == "None"}
}

// iniHostValue is a host line's value once shell-split, as Python's
// literal_eval leaves it: a quoted string unquoted ("'03#pa33w0rd'" is
// 03#pa33w0rd), an integer in decimal (0x16 is 22), anything else as
// written.
func iniHostValue(v string) string {
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return pythonInt(v)
}

// iniGroupValue is a [group:vars] value: the rest of the line. A quoted
// string is unquoted; a literal followed by a comment (8080 # http) is
// the literal, as literal_eval reads it; other text is kept whole.
func iniGroupValue(v string) string {
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') {
		if end := strings.IndexByte(v[1:], v[0]); end >= 0 {
			if rest := strings.TrimSpace(v[end+2:]); rest == "" || rest[0] == '#' {
				return v[1 : end+1]
			}
		}
	}
	literal, _, _ := strings.Cut(v, "#")
	literal = strings.TrimSpace(literal)
	if n := pythonInt(literal); n != literal {
		return n
	}
	if _, err := strconv.ParseFloat(literal, 64); literal != v && (err == nil || literal == "True" || literal == "False" || literal == "None") {
		return literal
	}
	return v
}

// pythonIntLiteral is an integer as Python writes one.
var pythonIntLiteral = regexp.MustCompile(`^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[1-9][0-9_]*|0+)$`)

// pythonInt is s in decimal when it is a Python integer literal, else s.
func pythonInt(s string) string {
	if !pythonIntLiteral.MatchString(s) || strings.Contains(s, "__") || strings.HasSuffix(s, "_") {
		return s
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
	if err != nil {
		return s
	}
	return strconv.FormatInt(n, 10)
}

// shellWords splits a line as Python's shlex does in POSIX mode: blanks
// separate words, quotes group, backslash escapes, and, with comments, #
// outside quotes ends the line.
func shellWords(line string, comments bool) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if inWord {
				words, inWord = append(words, word.String()), false
				word.Reset()
			}
			continue
		case c == '#' && comments:
			i = len(line)
			continue
		case c == '\\' && i+1 == len(line):
			return nil, errors.New("no escaped character")
		case c == '\\':
			i++
			word.WriteByte(line[i])
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("no closing quotation")
			}
			word.WriteString(line[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' && j+1 < len(line) && (line[j+1] == '"' || line[j+1] == '\\') {
					j++
				}
				word.WriteByte(line[j])
			}
			if j == len(line) {
				return nil, errors.New("no closing quotation")
			}
			i = j
		default:
			word.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// expandHostPattern reads an Ansible host pattern: "name", "name:port",
// "[v6]:port", with ranges such as web[01:50].example.com, db-[a:f] and
// www[01:50:2] (every other), expanded as Ansible does, to at most limit
// names.
func expandHostPattern(pattern string, limit int) ([]string, int, error) {
	if pattern == "---" {
		return nil, 0, fmt.Errorf("%q: a YAML document marker; name the file .yaml for Ansible's YAML form", pattern)
	}
	name, port, err := splitHostPort(pattern)
	if err != nil {
		return nil, 0, err
	}
	names, err := expandRanges(name, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("host pattern %q: %w", pattern, err)
	}
	return names, port, nil
}

// splitHostPort finds the port: after "]" of a bracketed IPv6 address, or
// after the last ":" outside a range's brackets; a name of several colons
// (a bare IPv6 address) has none.
func splitHostPort(pattern string) (string, int, error) {
	if m := bracketedV6.FindStringSubmatch(pattern); m != nil && strings.Count(m[1], ":") >= 2 {
		port, err := checkPort(pattern, m[2])
		return m[1], port, err
	}
	depth, colons, last := 0, 0, -1
	for i, c := range pattern {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case ':':
			if depth == 0 {
				colons, last = colons+1, i
			}
		}
	}
	switch {
	case colons == 0:
		return pattern, 0, nil
	case colons > 1:
		return pattern, 0, nil // a bare IPv6 address
	case last == len(pattern)-1:
		return "", 0, fmt.Errorf("host pattern %q ends in ':' (give a port, or none)", pattern)
	}
	if last == 0 {
		return "", 0, fmt.Errorf("host pattern %q: no host before the port", pattern)
	}
	port, err := checkPort(pattern, pattern[last+1:])
	return pattern[:last], port, err
}

func checkPort(pattern, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("host pattern %q: port %q is not in 1-65535", pattern, s)
	}
	return n, nil
}

// errTooManyNames is a pattern that would take the inventory past
// maxAnsibleExpanded host names.
var errTooManyNames = fmt.Errorf("more than %d host names listed in the inventory (a host counts in each group listing it)", maxAnsibleExpanded)

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// hostRange is one [begin:end(:step)] of a pattern: count values from
// begin, step apart, numbers (zero-padded to width) or letters.
type hostRange struct {
	letters     bool
	begin, step uint64 // begin as a number's two's complement, or a letter's index
	count       uint64
	width       int
}

func (r hostRange) value(k uint64) string {
	v := r.begin + k*r.step // k*step <= end-begin: no overflow
	if r.letters {
		return letters[v : v+1]
	}
	return fmt.Sprintf("%0*d", r.width, int64(v))
}

// parseRange reads the inside of [begin:end(:step)] as Ansible's
// expand_hostname_range does. Its count is bounded arithmetic: the ends
// may be any 64-bit numbers without overflowing or looping.
func parseRange(spec string) (hostRange, error) {
	bounds := strings.Split(spec, ":")
	if len(bounds) != 2 && len(bounds) != 3 {
		return hostRange{}, fmt.Errorf("range [%s]: want [begin:end] or [begin:end:step]", spec)
	}
	beg, last := first(bounds[0], "0"), bounds[1]
	if last == "" {
		return hostRange{}, fmt.Errorf("range [%s]: no end", spec)
	}
	r := hostRange{step: 1}
	if len(bounds) == 3 {
		s, err := strconv.ParseUint(bounds[2], 10, 63)
		if err != nil || s < 1 {
			return hostRange{}, fmt.Errorf("range [%s]: step %q is not a positive number", spec, bounds[2])
		}
		r.step = s
	}
	if len(beg) > 1 && beg[0] == '0' {
		if len(beg) != len(last) {
			return hostRange{}, fmt.Errorf("range [%s]: begin and end of different widths", spec)
		}
		r.width = len(beg)
	}
	ib, ie := strings.Index(letters, beg), strings.Index(letters, last)
	if len(beg) == 1 && len(last) == 1 && ib >= 0 && ie >= 0 {
		if ib > ie {
			return hostRange{}, fmt.Errorf("range [%s]: begin after end", spec)
		}
		r.letters, r.begin, r.count = true, uint64(ib), uint64(ie-ib)/r.step+1
		return r, nil
	}
	b, errB := strconv.ParseInt(beg, 10, 64)
	e, errE := strconv.ParseInt(last, 10, 64)
	if errB != nil || errE != nil {
		return hostRange{}, fmt.Errorf("range [%s]: want numbers (64-bit) or single letters", spec)
	}
	r.begin = uint64(b)
	if e >= b {
		r.count = (uint64(e)-uint64(b))/r.step + 1 // as Python's range(b, e+1, step)
	}
	return r, nil
}

// expandRanges expands every [begin:end(:step)] of name, the first
// outermost as Ansible does, refusing more than limit names before
// making any.
func expandRanges(name string, limit int) ([]string, error) {
	var parts []string // literal text between the ranges
	var ranges []hostRange
	rest := name
	for {
		open := strings.IndexByte(rest, '[')
		if open < 0 {
			parts = append(parts, rest)
			break
		}
		end := strings.IndexByte(rest[open:], ']')
		if end < 0 {
			return nil, errors.New("'[' without ']'")
		}
		r, err := parseRange(rest[open+1 : open+end])
		if err != nil {
			return nil, err
		}
		parts, ranges = append(parts, rest[:open]), append(ranges, r)
		rest = rest[open+end+1:]
	}
	total := uint64(1)
	for _, r := range ranges {
		if r.count == 0 {
			return nil, nil
		}
		if r.count > uint64(limit) || total*r.count > uint64(limit) {
			return nil, errTooManyNames
		}
		total *= r.count
	}
	names := make([]string, 0, total)
	var expand func(i int, prefix string)
	expand = func(i int, prefix string) {
		if i == len(ranges) {
			names = append(names, prefix+parts[i])
			return
		}
		for k := uint64(0); k < ranges[i].count; k++ {
			expand(i+1, prefix+parts[i]+ranges[i].value(k))
		}
	}
	expand(0, "")
	return names, nil
}
