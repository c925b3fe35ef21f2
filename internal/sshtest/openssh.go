package sshtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
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
	netns          *Netns
	config         string // its sshd_config, to start it again (Restart)
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

// CA is a certificate authority's key pair, for host certificates.
type CA struct {
	KeyFile   string // the private key, in OpenSSH's format, for ssh-keygen -s
	PublicKey ssh.PublicKey
}

// NewCA writes a new CA key into a temporary directory of the test.
func NewCA(t testing.TB) *CA {
	t.Helper()
	file := filepath.Join(t.TempDir(), "ca")
	return &CA{KeyFile: file, PublicKey: writeKey(t, file).PublicKey()}
}

// HostCert is a certificate for an sshd's host key, made as
// ssh-keygen -s CA -h -I id -n Principals -V Validity makes it.
type HostCert struct {
	CA         *CA
	Principals []string // empty: the address the sshd listens on
	Validity   string   // ssh-keygen -V, such as 20200101:20200102; empty: forever
}

// StartOpenSSH starts sshd for the current user and stops it at the end of the test.
func StartOpenSSH(t testing.TB) *OpenSSH {
	t.Helper()
	return StartOpenSSHWith(t, Options{})
}

// StartOpenSSHWithCert starts sshd as StartOpenSSH does, presenting cert
// (HostCertificate in sshd_config) as well as its plain host key.
func StartOpenSSHWithCert(t testing.TB, cert HostCert) *OpenSSH {
	t.Helper()
	return StartOpenSSHWith(t, Options{Cert: &cert})
}

// Options say where an sshd of the test's own listens and what it presents.
type Options struct {
	Cert  *HostCert // a host certificate presented with the plain key
	Netns *Netns    // the namespace it runs in; nil: the machine's own
	Host  string    // its address; empty: 127.0.0.1
	Port  int       // its port; 0: a free one (22 in a namespace)
	// UserKey is the user's key it accepts, from NewUserKey; nil: a new
	// one. A test that dials before the sshd starts makes it first.
	UserKey *UserKey
	// User is the one user it lets in; empty: the test's own. Its
	// authorized_keys is then kept where that user can read it.
	User string
	// SFTP serves the sftp subsystem (internal-sftp); without it the
	// sshd has none, as some hosts have none.
	SFTP bool
	// Config is more sshd_config lines, such as SetEnv.
	Config []string
}

// UserKey is a user's key pair, the private half in IdentityFile.
type UserKey struct {
	Signer       ssh.Signer
	IdentityFile string
}

// StartOpenSSHWith starts sshd as o says and stops it at the end of the test.
func StartOpenSSHWith(t testing.TB, o Options) *OpenSSH {
	t.Helper()
	RequireOpenSSH(t)
	cert := o.Cert
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
	key := o.UserKey
	if key == nil {
		signer, file := NewUserKey(t, dir)
		key = &UserKey{signer, file}
	}
	userSigner, identity := key.Signer, key.IdentityFile
	authorized := filepath.Join(dir, "authorized_keys")
	if o.User != "" {
		// sshd reads the file as the user, who cannot enter the test's
		// own temporary directory.
		readable, err := os.MkdirTemp("", "sshtest-keys-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(readable) })
		if err := os.Chmod(readable, 0o755); err != nil {
			t.Fatal(err)
		}
		authorized = filepath.Join(readable, "authorized_keys")
	}
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(userSigner.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &OpenSSH{Host: first(o.Host, "127.0.0.1"), netns: o.Netns, User: first(o.User, u.Username), IdentityFile: identity, HostKey: hostSigner.PublicKey(),
		KnownHostsFile: filepath.Join(dir, "known_hosts")}
	var serverConfig []string
	if cert != nil {
		serverConfig = append(serverConfig, "HostCertificate "+signHostKey(t, *cert, hostKeyFile, s.HostKey, s.Host))
	}
	if o.SFTP {
		serverConfig = append(serverConfig, "Subsystem sftp internal-sftp")
	}
	serverConfig = append(serverConfig, o.Config...)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		switch {
		case o.Port != 0:
			s.Port = o.Port
		case o.Netns != nil:
			s.Port = 22 // the namespace is the test's alone
		default:
			s.Port = FreePort(t)
		}
		if lastErr = s.start(dir, hostKeyFile, authorized, serverConfig); lastErr == nil {
			WriteKnownHosts(t, s.KnownHostsFile, s.Host, s.Port, s.HostKey)
			t.Cleanup(s.stop)
			return s
		}
	}
	t.Fatalf("starting sshd: %v", lastErr)
	return nil
}

// signHostKey certifies hostKey, the public half of hostKeyFile, with
// ssh-keygen and returns the certificate's file.
func signHostKey(t testing.TB, cert HostCert, hostKeyFile string, hostKey ssh.PublicKey, host string) string {
	t.Helper()
	if err := os.WriteFile(hostKeyFile+".pub", ssh.MarshalAuthorizedKey(hostKey), 0o600); err != nil {
		t.Fatal(err)
	}
	principals := cert.Principals
	if len(principals) == 0 {
		principals = []string{host}
	}
	args := []string{"-q", "-s", cert.CA.KeyFile, "-h", "-I", "everywhere-test", "-n", strings.Join(principals, ",")}
	if cert.Validity != "" {
		args = append(args, "-V", cert.Validity)
	}
	if out, err := exec.Command("ssh-keygen", append(args, hostKeyFile+".pub")...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return hostKeyFile + "-cert.pub"
}

func (s *OpenSSH) start(dir, hostKeyFile, authorized string, extraConfig []string) error {
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
		// INFO says "Server listening on": how readiness is seen from
		// outside a namespace the machine cannot dial into.
		"LogLevel INFO",
	}
	lines = append(lines, extraConfig...)
	if err := os.WriteFile(config, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	s.config = config
	return s.launch()
}

// launch starts sshd on its config and waits until it listens.
func (s *OpenSSH) launch() error {
	stderr := &syncBuffer{}
	args := []string{SSHDPath, "-D", "-e", "-f", s.config}
	if s.netns != nil {
		// ip netns exec execs sshd itself: the PID we kill is sshd's.
		args = append([]string{"ip", "netns", "exec", s.netns.Name}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = stderr
	// sshd's children (one per connection) inherit its stderr: without a
	// bound, Wait after Kill would wait for the last of them to go.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	exited := make(chan error, 1)
	s.exited = exited
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-exited:
			s.cmd = nil
			return fmt.Errorf("sshd exited: %v: %s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if strings.Contains(stderr.String(), "Server listening on") {
			return nil
		}
	}
	_ = s.cmd.Process.Kill()
	<-exited
	s.cmd = nil
	return fmt.Errorf("sshd did not listen within 10s: %s", stderr.String())
}

func (s *OpenSSH) stop() {
	if s.cmd == nil {
		return // stopped already (Stop)
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Stop stops sshd, as a host whose sshd died: it refuses connections
// until Restart.
func (s *OpenSSH) Stop() { s.stop() }

// Restart starts a stopped sshd again, on the same address, port and keys.
func (s *OpenSSH) Restart(t testing.TB) {
	t.Helper()
	if s.cmd != nil {
		t.Fatal("sshtest: Restart of an sshd that runs")
	}
	if err := s.launch(); err != nil {
		t.Fatalf("restarting sshd: %v", err)
	}
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// syncBuffer is sshd's stderr, written by exec's copier and read by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// FreePort is a port on 127.0.0.1 that nothing listens on just now.
func FreePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// SignUserKey certifies the public half of key for principals with ca, as
// ssh-keygen -s CA -I id -n PRINCIPALS KEY.pub does, and returns the
// certificate's file: KEY-cert.pub beside the key, where ssh looks for it.
func SignUserKey(t testing.TB, ca *CA, key *UserKey, principals ...string) string {
	t.Helper()
	pub := key.IdentityFile + ".pub"
	if err := os.WriteFile(pub, ssh.MarshalAuthorizedKey(key.Signer.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-q", "-s", ca.KeyFile, "-I", "everywhere-test-user", "-n", strings.Join(principals, ","), pub}
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return key.IdentityFile + "-cert.pub"
}

// WritePublicKey writes ca's public key in authorized_keys form to file,
// as sshd's TrustedUserCAKeys reads it.
func (ca *CA) WritePublicKey(t testing.TB, file string) {
	t.Helper()
	if err := os.WriteFile(file, ssh.MarshalAuthorizedKey(ca.PublicKey), 0o600); err != nil {
		t.Fatal(err)
	}
}
