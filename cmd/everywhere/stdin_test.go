package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"everywhere/internal/shell"
	"everywhere/internal/sshtest"
)

// TestExecStdin: exec --stdin reads standard input once and every host's
// command gets all of it; --tty and --sudo reach the command too.
func TestExecStdin(t *testing.T) {
	sshd := sshtest.StartOpenSSH(t)
	inv := openSSHInventory(t, sshd, "alpha", "bravo")
	data := bytes.Repeat([]byte("everywhere\n"), 100_000)
	in := filepath.Join(t.TempDir(), "stdin")
	writeFile(t, in, string(data))
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stdin
	os.Stdin = f
	t.Cleanup(func() { os.Stdin = saved })

	code, res, _ := runSaved(t, "exec", "-i", inv, "--stdin", "--", "wc -c; test -t 1 || echo no-terminal")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, h := range res.Hosts {
		if got := h.Steps[0].Stdout; got != strconv.Itoa(len(data))+"\nno-terminal\n" {
			t.Errorf("%s: stdout %q, want %d bytes counted", h.Name, got, len(data))
		}
	}

	code, res, _ = runSaved(t, "exec", "-i", inv, "--tty", "--sudo", "--", "tty >/dev/null && id -un")
	for _, h := range res.Hosts {
		if s := h.Steps[0]; code != 0 || s.Stdout != "root\n" || s.Command != "sudo tty >/dev/null && id -un" {
			t.Errorf("--tty --sudo: exit %d: %s: %q %q", code, h.Name, s.Command, s.Stdout)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestExecStdinLimit: more than the limit is refused before any host is
// dialled, not cut short.
func TestExecStdinLimit(t *testing.T) {
	_, err := execOptions{stdin: true}.plan(io.LimitReader(zeros{}, maxStdin+1), []string{"wc", "-c"})
	if err == nil || err.Error() != "--stdin: standard input is over 64 MiB: copy large files with everywhere push" {
		t.Errorf("error %v", err)
	}
	p, err := execOptions{stdin: true}.plan(io.LimitReader(zeros{}, maxStdin), []string{"wc", "-c"})
	if err != nil || len(p.Steps[0].Action.(*shell.Command).Stdin) != maxStdin {
		t.Errorf("at the limit: %v", err)
	}
}
