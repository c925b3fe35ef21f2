package tiles

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// historyKeep is how many lines the history file keeps.
const historyKeep = 1000

// History is the console's typed lines, oldest first, kept in a file (one
// a line) so that the next console has them; up and down walk them.
type History struct {
	file  string
	lines []string
	at    int    // the line shown: len(lines) when none
	draft string // what was typed before walking back
}

// OpenHistory reads the history file, which need not exist yet.
func OpenHistory(file string) (*History, error) {
	h := &History{file: file}
	data, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("history: %w", err)
	}
	for l := range strings.SplitSeq(string(data), "\n") {
		if l != "" {
			h.lines = append(h.lines, l)
		}
	}
	if len(h.lines) > historyKeep {
		h.lines = h.lines[len(h.lines)-historyKeep:]
	}
	h.at = len(h.lines)
	return h, nil
}

// Add records a line typed (not twice in a row) and goes back to the end.
func (h *History) Add(l string) error {
	h.at, h.draft = len(h.lines), ""
	if strings.ContainsAny(l, "\n\r") || (len(h.lines) > 0 && h.lines[len(h.lines)-1] == l) {
		return nil
	}
	h.lines = append(h.lines, l)
	h.at = len(h.lines)
	if err := os.MkdirAll(filepath.Dir(h.file), 0o700); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	f, err := os.OpenFile(h.file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, l)
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("history: %w", err)
	}
	return f.Close()
}

// Older is the line before the one shown; current is what the prompt
// holds, kept to come back to.
func (h *History) Older(current string) string {
	if h.at == len(h.lines) {
		h.draft = current
	}
	if h.at > 0 {
		h.at--
	}
	if h.at == len(h.lines) {
		return current
	}
	return h.lines[h.at]
}

// Newer is the line after the one shown, or the draft past the last.
func (h *History) Newer() string {
	if h.at < len(h.lines) {
		h.at++
	}
	if h.at == len(h.lines) {
		return h.draft
	}
	return h.lines[h.at]
}
