package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"everywhere/internal/result"
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

	out := t.TempDir()
	code, stdout, stderr := everywhere(context.Background(), "exec", "-i", inv, "-o", out, "--no-progress", "--stdin", "--", "wc -c; test -t 1 || echo no-terminal")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	res, err := result.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range res.Hosts {
		if got := h.Steps[0].Stdout; got != strconv.Itoa(len(data))+"\nno-terminal\n" {
			t.Errorf("%s: stdout %q, want %d bytes counted", h.Name, got, len(data))
		}
	}

	code, stdout, stderr = everywhere(context.Background(), "exec", "-i", inv, "-o", t.TempDir(), "--no-progress", "--color", "never", "--tty", "--sudo", "--", "tty >/dev/null && id -un")
	if code != 0 || strings.Count(stdout, "root") < 2 || !strings.Contains(stdout, "sudo tty") {
		t.Errorf("--tty --sudo: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
