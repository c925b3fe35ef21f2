package sshtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// OpenSSH is a real sshd of the test's own on a free 127.0.0.1 port: its own
// host key, one authorised user key, no password authentication.
type OpenSSH struct {
	Host           string
	Port           int
	User           string
	IdentityFile   string
	KnownHostsFile string
	HostKey        ssh.PublicKey
	cmd            *exec.Cmd
	exited         chan error
}

// SSHDPath is where Debian's openssh-server installs sshd.
const SSHDPath = "/usr/sbin/sshd"

// RequireOpenSSH skips the test where sshd is not installed, except under
// CI, where its absence is a broken setup and fails the test.
func RequireOpenSSH(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(SSHDPath); err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s missing under CI: .ci/run installs openssh-server", SSHDPath)
	}
	t.Skipf("%s not installed (apt-get install openssh-server)", SSHDPath)
}

// StartOpenSSH starts sshd for the current user and stops it at the end of the test.
func StartOpenSSH(t testing.TB) *OpenSSH {
	t.Helper()
	RequireOpenSSH(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// sshd insists on its privilege-separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	hostKeyFile := filepath.Join(dir, "ssh_host_ed25519_key")
	hostSigner := writeKey(t, hostKeyFile)
	userSigner, identity := NewUserKey(t, dir)
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(userSigner.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &OpenSSH{Host: "127.0.0.1", User: u.Username, IdentityFile: identity, HostKey: hostSigner.PublicKey(),
		KnownHostsFile: filepath.Join(dir, "known_hosts")}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s.Port = freePort(t)
		if lastErr = s.start(dir, hostKeyFile, authorized); lastErr == nil {
			WriteKnownHosts(t, s.KnownHostsFile, s.Host, s.Port, s.HostKey)
			t.Cleanup(s.stop)
			return s
		}
	}
	t.Fatalf("starting sshd: %v", lastErr)
	return nil
}

func (s *OpenSSH) start(dir, hostKeyFile, authorized string) error {
	config := filepath.Join(dir, "sshd_config")
	lines := []string{
		fmt.Sprintf("ListenAddress %s:%d", s.Host, s.Port),
		"HostKey " + hostKeyFile,
		"AuthorizedKeysFile " + authorized,
		"PidFile none",
		"StrictModes no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"PermitRootLogin prohibit-password",
		"AllowUsers " + s.User,
		"MaxStartups 1000",
		"MaxSessions 100",
		"LogLevel ERROR",
	}
	if err := os.WriteFile(config, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	var stderr strings.Builder
	s.cmd = exec.Command(SSHDPath, "-D", "-e", "-f", config)
	s.cmd.Stderr = &stderr
	if err := s.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	s.exited = exited
	go func() { exited <- s.cmd.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-exited:
			return fmt.Errorf("sshd exited: %v: %s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(s.Host, fmt.Sprint(s.Port)), time.Second); err == nil {
			_ = c.Close()
			return nil
		}
	}
	_ = s.cmd.Process.Kill()
	<-exited
	return fmt.Errorf("sshd did not listen within 10s: %s", stderr.String())
}

func (s *OpenSSH) stop() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
