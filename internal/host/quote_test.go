package host

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var quoteTests = []struct {
	argv []string
	want string
}{
	{[]string{"uname", "-a"}, "uname -a"},
	{[]string{"sh", "-c", "ip addr; echo $HOME"}, "sh -c 'ip addr; echo $HOME'"},
	{[]string{"echo", "it's"}, `echo 'it'\''s'`},
	{[]string{"echo", ""}, "echo ''"},
	{[]string{"A=1", "env"}, "'A=1' env"},
	{[]string{"env", "--", "B=2"}, "env -- 'B=2'"},
	{[]string{"if", "true"}, "'if' true"},
	{[]string{"time", "ls"}, "'time' ls"},
	{[]string{"ls", "-l", "/tmp/a:b,c+d@e%f"}, "ls -l /tmp/a:b,c+d@e%f"},
}

func TestShellQuote(t *testing.T) {
	for _, tt := range quoteTests {
		if got := ShellQuote(tt.argv); got != tt.want {
			t.Errorf("ShellQuote(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
}

// TestShellQuoteAssignment runs quoted command lines through real shells,
// with commands named like an assignment and like reserved words on PATH:
// left bare, A=1 would be taken as an assignment and "if" as syntax.
func TestShellQuoteAssignment(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\nprintf '%s|' \"${0##*/}\" \"$@\"\n"
	for _, name := range []string{"A=1", "if", "time"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, shell := range []string{"sh", "bash"} {
		path, err := exec.LookPath(shell)
		if err != nil {
			t.Logf("%s not installed", shell)
			continue
		}
		for _, argv := range [][]string{{"A=1", "B=2"}, {"if", "then"}, {"time", "x"}} {
			line := ShellQuote(argv)
			cmd := exec.Command(path, "-c", line)
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if want := strings.Join(argv, "|") + "|"; err != nil || string(out) != want {
				t.Errorf("%s -c %q: %q %v, want %q", shell, line, out, err, want)
			}
		}
	}
}
