package shell_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"everywhere/internal/drivers"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/result"
	"everywhere/internal/run"
	"everywhere/internal/shell"
	"everywhere/internal/sshconn"
	"everywhere/internal/sshtest"
)

// runOn runs p on the one host an sshd of the test's own is, and returns
// its first step's result.
func runOn(t *testing.T, sshd *sshtest.OpenSSH, p *plan.Plan) result.StepResult {
	t.Helper()
	h := inventory.Host{Name: "h", Arch: host.AMD64, Address: sshd.Host, Port: sshd.Port, User: sshd.User,
		Identity: sshd.IdentityFile, KnownHosts: sshd.KnownHostsFile, ConnectTimeout: 5 * time.Second}
	r := &run.Runner{Connect: run.Connector(sshconn.NewDialer(false, 0).Dial), OutputLimit: 1 << 20}
	res := r.Run(context.Background(), []inventory.Host{h}, p)
	if hr := res.Hosts[0]; hr.Error != "" || len(hr.Steps) == 0 {
		t.Fatalf("host: %s", hr.Error)
	}
	return res.Hosts[0].Steps[0]
}

func parse(t *testing.T, src string) *plan.Plan {
	t.Helper()
	p, err := plan.Parse("test.yaml", []byte(src), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func requireSudo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sudo"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sudo missing under CI: scripts/install-deps installs it")
		}
		t.Skip("sudo not installed (apt-get install sudo)")
	}
}

// TestSudo: the text runs as root through sudo -n, quoted whole: its own
// quotes, $ and ; reach sh as written.
func TestSudo(t *testing.T) {
	requireSudo(t)
	sshd := sshtest.StartOpenSSH(t)
	s := runOn(t, sshd, parse(t, `steps:
  - shell: {command: "id -u; echo \"it's $((6*7))\"", sudo: true}
`))
	if s.Status != result.OK || s.Stdout != "0\nit's 42\n" || s.Command != `sudo id -u; echo "it's $((6*7))"` {
		t.Errorf("status %s error %q stdout %q command %q", s.Status, s.Error, s.Stdout, s.Command)
	}
}

// TestSudoAsksForAPassword: for a user whom sudoers asks for a password,
// the step fails saying so, and the command does not run.
func TestSudoAsksForAPassword(t *testing.T) {
	requireSudo(t)
	if os.Geteuid() != 0 {
		t.Skip("creating a user needs root")
	}
	user := throwawayUser(t)
	sudoers := "/etc/sudoers.d/" + user
	if err := os.WriteFile(sudoers, []byte(user+" ALL=(ALL:ALL) ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(sudoers) })
	sshd := sshtest.StartOpenSSHWith(t, sshtest.Options{User: user})
	marker := filepath.Join(t.TempDir(), "ran")
	s := runOn(t, sshd, parse(t, `steps:
  - shell: {command: "touch `+marker+`", sudo: true}
`))
	if s.Status != result.Error || !strings.Contains(s.Error, "sudo -n: user "+user+" needs a password for sudo on this host") || !strings.Contains(s.Stderr, "a password is required") {
		t.Errorf("status %s error %q stderr %q", s.Status, s.Error, s.Stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran")
	}
}

// throwawayUser creates an unprivileged user, removed with its home at
// the end of the test.
func throwawayUser(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "evw" + hex.EncodeToString(b)
	// '*' is no password at all, which sshd, unlike '!', does not take
	// for a locked account.
	if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", "--password", "*", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", "--force", "--remove", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	return name
}

// TestTTY: with tty: true the command has a terminal, and its output
// keeps plain newlines; without, it has none.
func TestTTY(t *testing.T) {
	sshd := sshtest.StartOpenSSH(t)
	s := runOn(t, sshd, parse(t, `steps:
  - shell: {command: "tty; test -t 0 && test -t 1 && echo terminal; echo to-stderr >&2", tty: true}
`))
	if !regexp.MustCompile(`^/dev/pts/\d+\nterminal\nto-stderr\n$`).MatchString(s.Stdout) || s.Status != result.OK {
		t.Errorf("status %s stdout %q stderr %q", s.Status, s.Stdout, s.Stderr)
	}
	s = runOn(t, sshd, parse(t, "steps:\n  - shell: tty\n"))
	if s.Stdout != "not a tty\n" || s.Status != result.Failed {
		t.Errorf("without tty: status %s stdout %q", s.Status, s.Stdout)
	}
}

// TestStdin: the bytes given reach the command's standard input, then
// end of file.
func TestStdin(t *testing.T) {
	sshd := sshtest.StartOpenSSH(t)
	data := make([]byte, 3<<20+17)
	_, _ = rand.Read(data)
	p := &plan.Plan{Steps: []plan.Step{{Name: "count", Kind: shell.Kind, Action: &shell.Command{Text: "wc -c", Stdin: data}}}}
	s := runOn(t, sshd, p)
	if strings.TrimSpace(s.Stdout) != strconv.Itoa(len(data)) {
		t.Errorf("status %s stdout %q, want %d", s.Status, s.Stdout, len(data))
	}
}

func TestShellMappingErrors(t *testing.T) {
	for src, want := range map[string]string{
		"steps:\n  - shell: {sudo: true}\n":                    "test.yaml:2: shell: command: missing, e.g. {command: apt-get update, sudo: true}",
		"steps:\n  - shell: {command: id, sudo: yes-please}\n": "cannot unmarshal !!str `yes-please` into bool",
		"steps:\n  - shell: {command: id, root: true}\n":       `unknown field "root"`,
	} {
		if _, err := plan.Parse("test.yaml", []byte(src), drivers.All()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %s", src, err, want)
		}
	}
}
