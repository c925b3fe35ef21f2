package sshconfig

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// Tokens are the values ssh substitutes for %-tokens (ssh_config(5)
// TOKENS) once a host is resolved.
type Tokens struct {
	Alias        string // %n: the name as given
	HostName     string // %h: the host name resolved, lower case
	Port         int    // %p
	User         string // %r: the remote user
	HostKeyAlias string // %k: HostKeyAlias, else the alias
}

// Expand expands s as ssh expands IdentityFile, CertificateFile and
// UserKnownHostsFile: a leading ~ or ~user, then ${VAR} from the
// environment, then %C %d %h %i %k %L %l %n %p %r %u and %%. A token ssh
// does not know is an error, as there.
func Expand(s string, t Tokens) (string, error) {
	s, err := expandTilde(s)
	if err != nil {
		return "", err
	}
	if s, err = expandEnv(s); err != nil {
		return "", err
	}
	return t.percent(s, "CdhikLlnpru")
}

// ExpandCommand expands a ProxyCommand as sshconnect.c's
// expand_proxy_command does: %h %k %n %p %r and %% only, no ~, no ${VAR}.
func ExpandCommand(s string, t Tokens) (string, error) {
	return t.percent(s, "hknpr")
}

// percent substitutes the tokens in allowed, and %%.
func (t Tokens) percent(s, allowed string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	l := local()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("%q: invalid format (a lone %% at the end)", s)
		}
		i++
		c := s[i]
		if c != '%' && !strings.ContainsRune(allowed, rune(c)) {
			return "", fmt.Errorf("%q: unknown key %%%c", s, c)
		}
		alias := t.HostKeyAlias
		if alias == "" {
			alias = t.Alias
		}
		short, _, _ := strings.Cut(l.hostname, ".")
		switch c {
		case '%':
			b.WriteByte('%')
		case 'C':
			sum := sha1.Sum([]byte(l.hostname + t.HostName + strconv.Itoa(t.Port) + t.User))
			b.WriteString(hex.EncodeToString(sum[:]))
		case 'd':
			b.WriteString(l.home)
		case 'h':
			b.WriteString(t.HostName)
		case 'i':
			b.WriteString(l.uid)
		case 'k':
			b.WriteString(alias)
		case 'L':
			b.WriteString(short)
		case 'l':
			b.WriteString(l.hostname)
		case 'n':
			b.WriteString(t.Alias)
		case 'p':
			b.WriteString(strconv.Itoa(t.Port))
		case 'r':
			b.WriteString(t.User)
		case 'u':
			b.WriteString(l.user)
		}
	}
	return b.String(), nil
}

// expandHostName expands HostName as ssh does: %h (the alias) and %% only.
func expandHostName(s, alias string) (string, error) {
	return Tokens{HostName: alias}.percent(s, "h")
}

// expandEnv substitutes ${VAR} as misc.c's dollar_expand: a variable that
// is not set, or a ${ without its }, is an error.
func expandEnv(s string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("%q: ${ without a closing }", s)
		}
		name := s[i+2 : i+end]
		if !validEnvName(name) {
			return "", fmt.Errorf("%q: invalid environment variable name %q", s, name)
		}
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("%q: environment variable %s is not set", s, name)
		}
		b.WriteString(s[:i] + v)
		s = s[i+end+1:]
	}
}

func validEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// expandTilde expands a leading ~ (our home, from the password database
// as ssh reads it) or ~user (theirs).
func expandTilde(s string) (string, error) {
	if !strings.HasPrefix(s, "~") {
		return s, nil
	}
	name, rest, _ := strings.Cut(s[1:], "/")
	home := local().home
	if name != "" {
		u, err := user.Lookup(name)
		if err != nil {
			return "", fmt.Errorf("%q: no such user %s", s, name)
		}
		home = u.HomeDir
	}
	if !strings.Contains(s, "/") {
		return home, nil
	}
	return strings.TrimSuffix(home, "/") + "/" + rest, nil
}

func localUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// localHome is the home directory the password database gives, which ssh
// uses for ~ and %d, not $HOME.
func localHome() string {
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		return u.HomeDir
	}
	home, _ := os.UserHomeDir()
	return home
}

// MatchPattern is match.c's match_pattern: * any run, ? exactly one
// character, case as written. Iterative, backtracking only to the last *,
// so that hostile patterns cost O(len(s)·len(pattern)) at worst.
func MatchPattern(s, pattern string) bool {
	// What follows the last * matches the end of s, of its own length:
	// checked first, it spares the backtracking (*.example.com against
	// every name is the common case).
	if last := strings.LastIndexByte(pattern, '*'); last >= 0 && last < len(pattern)-1 {
		tail := pattern[last+1:]
		if len(s) < len(tail) {
			return false
		}
		for i := range len(tail) {
			if tail[i] != '?' && tail[i] != s[len(s)-len(tail)+i] {
				return false
			}
		}
		s, pattern = s[:len(s)-len(tail)], pattern[:last+1]
	}
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pattern) && pattern[pi] == '*':
			if pi == len(pattern)-1 {
				return true // a trailing * takes the rest
			}
			star, mark = pi, si
			pi++
		case pi < len(pattern) && (pattern[pi] == '?' || pattern[pi] == s[si]):
			si++
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}

// matchPatternList is match.c's match_pattern_list: 1 when a pattern of
// the comma-separated list matches, -1 when a negated one (!pattern)
// does, 0 otherwise; dolower lower-cases the patterns.
func matchPatternList(s, list string, dolower bool) int {
	got := 0
	if dolower {
		list = strings.ToLower(list)
	}
	for rest := list; rest != ""; {
		var p string
		p, rest, _ = strings.Cut(rest, ",")
		negated := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if len(p) >= 1023 {
			return 0
		}
		if MatchPattern(s, p) {
			if negated {
				return -1
			}
			got = 1
		}
	}
	return got
}
