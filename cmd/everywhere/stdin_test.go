package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

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
