package sshconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// file is one config file read whole, its Includes read with it. Hand
// written rather than a library: the one in use (kevinburke/ssh_config)
// implements a subset of ssh_config(5) (no Match, Include quirks, no
// quoting as ssh quotes), and none follows readconf.c closely enough.
type file struct {
	path  string
	user  bool // a user's config: relative Includes under ~/.ssh, ~ allowed
	lines []*line
}

// line is one directive: keyword and arguments split as readconf.c splits
// them (strdelim for the keyword, argv_split for the rest).
type line struct {
	num      int
	keyword  string // lower case, as written
	rest     string // the text after the keyword and its separator
	args     []string
	err      string  // what ssh says of the line itself, before its keyword is looked at
	included []*file // an Include's files, in glob order
}

// maxDepth is readconf.c's READCONF_MAX_DEPTH.
const maxDepth = 16

// maxFileSize bounds what is read of one file: ssh_config files are small,
// and a huge one is a mistake better refused than parsed.
const maxFileSize = 16 << 20

// readFile reads path as read_config_file_depth does: a missing file is
// nil (no error), a directory is empty, a file others may write is refused
// (checkPerm: a user's own config and anything Included).
func readFile(path string, user, checkPerm bool, depth int) (*file, error) {
	if depth > maxDepth {
		return nil, &errorAt{file: path, reason: "Too many recursive configuration includes"}
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &errorAt{file: path, reason: err.Error()}
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, &errorAt{file: path, reason: err.Error()}
	}
	if info.IsDir() {
		return &file{path: path, user: user}, nil
	}
	if checkPerm {
		if st, ok := info.Sys().(*syscall.Stat_t); ok && ((st.Uid != 0 && int(st.Uid) != os.Getuid()) || info.Mode().Perm()&0o022 != 0) {
			return nil, &errorAt{file: path, reason: "Bad owner or permissions on " + path}
		}
	}
	if info.Size() > maxFileSize {
		return nil, &errorAt{file: path, reason: fmt.Sprintf("larger than %d MiB", maxFileSize>>20)}
	}
	data := make([]byte, info.Size())
	n, err := f.Read(data)
	if err != nil && info.Size() > 0 {
		return nil, &errorAt{file: path, reason: err.Error()}
	}
	return parseFile(path, data[:n], user, depth)
}

// parseFile splits data, the content of path, into lines and reads the
// files its Includes name.
func parseFile(path string, data []byte, user bool, depth int) (*file, error) {
	f := &file{path: path, user: user}
	for i, raw := range bytes.Split(data, []byte("\n")) {
		l := parseLine(string(raw))
		if l == nil {
			continue
		}
		l.num = i + 1
		if l.keyword == "include" && l.err == "" {
			if err := f.include(l, depth); err != nil {
				return nil, err
			}
		}
		f.lines = append(f.lines, l)
	}
	return f, nil
}

// parseLine reads one line as process_config_line_depth does up to the
// keyword's own parsing; nil for a blank line or a comment.
func parseLine(s string) *line {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i] // ssh reads lines as C strings
	}
	s = strings.TrimRight(s, " \t\r\n\f")
	s = strings.TrimLeft(s, " \t")
	// strdelim: the keyword ends at whitespace or '='; one '=' (with
	// whitespace around it) separates it from the arguments.
	end := strings.IndexAny(s, " \t=")
	if end < 0 {
		end = len(s)
	}
	keyword, rest := s[:end], s[end:]
	if keyword == "" || keyword[0] == '#' {
		return nil
	}
	rest = strings.TrimLeft(rest, " \t")
	rest = strings.TrimPrefix(rest, "=")
	rest = strings.TrimLeft(rest, " \t")
	l := &line{keyword: strings.ToLower(keyword), rest: rest}
	if rest == "" {
		l.err = fmt.Sprintf("no argument after keyword %q", l.keyword)
		return l
	}
	args, ok := splitArgs(rest)
	if !ok {
		l.err = "invalid quotes"
		return l
	}
	l.args = args
	return l
}

// splitArgs is misc.c's argv_split with terminate_on_comment: words apart
// at blanks, "…" and '…' quoting, \ escaping a quote, \ or (outside
// quotes) a blank, and # at a word's start ending the line. ok is false
// for an unterminated quote.
func splitArgs(s string) (args []string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' {
			continue
		}
		if s[i] == '#' {
			break
		}
		var quote byte
		var arg strings.Builder
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || s[i+1] == '\\' || (quote == 0 && s[i+1] == ' ')):
				i++
				arg.WriteByte(s[i])
			case quote == 0 && (c == ' ' || c == '\t'):
				goto done
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			case quote != 0 && c == quote:
				quote = 0
			default:
				arg.WriteByte(c)
			}
		}
		if quote != 0 {
			return nil, false
		}
	done:
		args = append(args, arg.String())
	}
	return args, true
}

// include reads the files an Include line names: relative paths under
// ~/.ssh for a user's config and /etc/ssh for the system's, ~ only in a
// user's, each argument a glob whose directories are passed over (ssh
// opens one and reads nothing) and whose misses are no error.
func (f *file) include(l *line, depth int) error {
	if depth >= maxDepth && len(l.args) > 0 {
		// Checked before globbing: what the glob finds could not be read.
		return &errorAt{file: f.path, line: l.num, reason: "Too many recursive configuration includes"}
	}
	for _, arg := range l.args {
		if arg == "" {
			l.err = `keyword include empty argument`
			return nil
		}
		if arg[0] == '~' && !f.user {
			l.err = fmt.Sprintf("bad include path %s.", arg)
			return nil
		}
		pattern := arg
		switch {
		case arg[0] == '~':
			expanded, err := expandTilde(arg)
			if err != nil {
				l.err = err.Error()
				return nil
			}
			pattern = expanded
		case !filepath.IsAbs(arg) && f.user:
			home, _ := os.UserHomeDir()
			pattern = filepath.Join(home, ".ssh", arg)
		case !filepath.IsAbs(arg):
			pattern = filepath.Join("/etc/ssh", arg)
		}
		matches, err := filepath.Glob(pattern)
		if err != nil {
			l.err = fmt.Sprintf("glob failed for %s.", pattern)
			return nil
		}
		sort.Strings(matches)
		for _, m := range matches {
			inc, err := readFile(m, f.user, true, depth+1)
			if err != nil {
				return err
			}
			if inc != nil {
				l.included = append(l.included, inc)
			}
		}
	}
	return nil
}
