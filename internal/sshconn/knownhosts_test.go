package sshconn

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"everywhere/internal/inventory"
	"everywhere/internal/sshtest"
)

// pin is a known_hosts line, without its newline, recording key for
// 127.0.0.1:port.
func pin(port int, key ssh.PublicKey) string {
	return knownhosts.Line([]string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}, key)
}

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAcceptNewKeyKeepsPinsWhenFileLacksNewline: trust on first use used to
// append its line to a file lacking a final newline, gluing it to the last
// line, which x/crypto's knownhosts then skipped: the pin on that line was
// gone, and the next run with --accept-new-host-keys took any key for it.
func TestAcceptNewKeyKeepsPinsWhenFileLacksNewline(t *testing.T) {
	pinned := sshtest.NewServer(t, commands)
	impostor := sshtest.NewServer(t, commands) // its port is pinned to pinned's key
	newcomer := sshtest.NewServer(t, commands)
	file := filepath.Join(t.TempDir(), "known_hosts")
	before := pin(pinned.Port, pinned.HostKey) + "\n" + pin(impostor.Port, pinned.HostKey)
	writeFile(t, file, before)

	dialWith := func(d *Dialer, s *sshtest.Server) error {
		h := hostFor(s)
		h.KnownHosts = file
		c, err := d.Dial(context.Background(), h)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dialWith(NewDialer(true, 0), newcomer); err != nil {
		t.Fatalf("first use of a new host: %v", err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := before + "\n" + pin(newcomer.Port, newcomer.HostKey) + "\n"; string(data) != want {
		t.Errorf("known_hosts is\n%s\nwant\n%s", data, want)
	}
	// A later run, trusting on first use again, with the file as it now is.
	later := NewDialer(true, 0)
	for _, tt := range []struct {
		server *sshtest.Server
		kind   error
	}{
		{pinned, nil},
		{newcomer, nil},
		{impostor, ErrHostKeyChanged},
	} {
		if err := dialWith(later, tt.server); !errors.Is(err, tt.kind) || (err != nil) != (tt.kind != nil) {
			t.Errorf("dialling port %d: err = %v, want %v", tt.server.Port, err, tt.kind)
		}
	}
}

// TestKnownHostsUnparsableLineIsError: a line x/crypto's knownhosts would
// skip (and with it the pin it held) is an error naming file:line; every
// form OpenSSH writes parses.
func TestKnownHostsUnparsableLineIsError(t *testing.T) {
	server := sshtest.NewServer(t, commands)
	other := sshtest.NewServer(t, commands).HostKey
	good := pin(server.Port, server.HostKey)
	addr := net.JoinHostPort(server.Host, strconv.Itoa(server.Port))
	keyText := func(k ssh.PublicKey) string { return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) }
	tests := []struct {
		name    string
		content string
		line    int // the line named in the error; 0: the dial succeeds; -1: the key is refused
	}{
		{"comments, blank lines, markers", "# a comment\n\n  \t\n@cert-authority *.example.com " + keyText(other) +
			"\n@revoked [192.0.2.1]:22 " + keyText(other) + "\n" + good + " a comment\n", 0},
		{"hashed host", knownhosts.HashHostname(knownhosts.Normalize(addr)) + " " + keyText(server.HostKey) + "\n", 0},
		{"wildcard and negation", "![127.0.0.1]:" + strconv.Itoa(server.Port) + ",[127.0.0.*]:* " + keyText(other) +
			"\n127.0.0.1 " + keyText(other) + // port 22 only
			"\n[127.0.0.?]:* " + keyText(server.HostKey) + "\n", 0},
		{"wildcard mismatch", "[127.0.0.*]:* " + keyText(other) + "\n", -1},
		{"CRLF line ends", "# made on Windows\r\n" + good + "\r\n", 0},
		{"last line without newline", good, 0},
		{"two lines glued", good + "\n" + pin(1, other) + pin(2, other) + "\n", 2},
		{"a word alone", good + "\n\nnonsense\n", 3},
		{"unknown marker", "@trusted " + good + "\n", 1},
		{"two markers", "@cert-authority @revoked " + good + "\n", 1},
		{"key type mismatch", "host ssh-rsa " + strings.Fields(good)[2] + "\n" + good + "\n", 1},
		{"bad hash", "|1|abc|def " + keyText(server.HostKey) + "\n" + good + "\n", 1},
		{"negation of nothing", "! " + keyText(other) + "\n" + good + "\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hostFor(server)
			h.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
			writeFile(t, h.KnownHosts, tt.content)
			c, err := NewDialer(true, 0).Dial(context.Background(), h)
			if tt.line == 0 {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return
			}
			if err == nil {
				c.Close()
			}
			if tt.line < 0 {
				if !errors.Is(err, ErrHostKeyChanged) {
					t.Errorf("err = %v, want %v", err, ErrHostKeyChanged)
				}
				return
			}
			if where := fmt.Sprintf("%s:%d:", h.KnownHosts, tt.line); !errors.Is(err, ErrHostKeyUnknown) || !strings.Contains(fmt.Sprint(err), where) {
				t.Errorf("err = %v, want %v naming %s", err, ErrHostKeyUnknown, where)
			}
		})
	}
}

// TestAcceptNewKeysConcurrentRunsKeepEveryLine: several processes trusting
// the same new hosts at once all connect, and each host is recorded once, on
// a whole line. (The race it guards against is narrow and seldom lost even
// without the lock; TestKnownHostsWaitForFileLock shows the lock is taken.)
func TestAcceptNewKeysConcurrentRunsKeepEveryLine(t *testing.T) {
	var servers []*sshtest.Server
	var targets []string
	for i := 0; i < 6; i++ {
		s := sshtest.NewServer(t, commands)
		servers = append(servers, s)
		targets = append(targets, fmt.Sprintf("%d=%s", s.Port, s.IdentityFile))
	}
	file := filepath.Join(t.TempDir(), "sub", "known_hosts")
	// The runs start dialling together, so their appends race.
	start := time.Now().Add(500 * time.Millisecond).UnixNano()
	type run struct {
		cmd *exec.Cmd
		out strings.Builder
	}
	var runs []*run
	for i := 0; i < 4; i++ {
		r := &run{cmd: exec.Command(os.Args[0], "-test.run=^TestHelperAcceptNewRun$")}
		r.cmd.Env = append(os.Environ(), "EVERYWHERE_TEST_KNOWN_HOSTS="+file, "EVERYWHERE_TEST_TARGETS="+strings.Join(targets, ","),
			fmt.Sprintf("EVERYWHERE_TEST_START=%d", start))
		r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // after a failure below, no run outlives the test
			if r.cmd.ProcessState == nil {
				_ = r.cmd.Process.Kill()
				_ = r.cmd.Wait()
			}
		})
		runs = append(runs, r)
	}
	for i, r := range runs {
		if err := r.cmd.Wait(); err != nil {
			t.Errorf("run %d: %v\n%s", i, err, r.out.String())
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(got) != len(servers) {
		t.Errorf("known_hosts has %d lines, want %d:\n%s", len(got), len(servers), data)
	}
	for _, s := range servers {
		if line := pin(s.Port, s.HostKey); !strings.Contains(string(data), line+"\n") {
			t.Errorf("known_hosts lacks %q:\n%s", line, data)
		}
	}
}

// TestHelperAcceptNewRun is one run of TestAcceptNewKeysConcurrentRunsKeepEveryLine,
// in a process of its own: it dials every target at once, trusting new keys.
func TestHelperAcceptNewRun(t *testing.T) {
	file := os.Getenv("EVERYWHERE_TEST_KNOWN_HOSTS")
	if file == "" {
		t.Skip("run by TestAcceptNewKeysConcurrentRunsKeepEveryLine")
	}
	start, err := strconv.ParseInt(os.Getenv("EVERYWHERE_TEST_START"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDialer(true, 0)
	time.Sleep(time.Until(time.Unix(0, start)))
	var wg sync.WaitGroup
	for _, target := range strings.Split(os.Getenv("EVERYWHERE_TEST_TARGETS"), ",") {
		port, identity, _ := strings.Cut(target, "=")
		h := inventory.Host{Name: "run", Address: "127.0.0.1", User: "u", Identity: identity, KnownHosts: file, ConnectTimeout: 10 * time.Second}
		var err error
		if h.Port, err = strconv.Atoi(port); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			c, err := d.Dial(context.Background(), h)
			if err != nil {
				t.Error(err)
				return
			}
			c.Close()
		})
	}
	wg.Wait()
}

// TestCertAuthorityKeyIsNoPin: x/crypto's knownhosts takes a @cert-authority
// line's key as a pin too, so a host presenting the CA key itself passed.
// A CA vouches for certificates only, and a host that offers none is told
// apart from an unreachable one.
func TestCertAuthorityKeyIsNoPin(t *testing.T) {
	server := sshtest.NewServer(t, commands)
	h := hostFor(server)
	h.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, h.KnownHosts, "@cert-authority "+pin(server.Port, server.HostKey)+"\n")
	c, err := NewDialer(true, 0).Dial(context.Background(), h)
	if err == nil {
		c.Close()
	}
	if want := "offers no host key of the kinds known_hosts expects of it (certificate from CA ssh-ed25519 " + ssh.FingerprintSHA256(server.HostKey) + " at " + h.KnownHosts + ":1)"; !errors.Is(err, ErrHostKeyChanged) || !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("err = %v, want %v saying %q", err, ErrHostKeyChanged, want)
	}
}

// TestKnownHostsWaitForFileLock: reading known_hosts waits while another
// run appends to it (holds the lock exclusively), and appending waits
// while another run reads it.
func TestKnownHostsWaitForFileLock(t *testing.T) {
	server := sshtest.NewServer(t, commands)
	for _, tt := range []struct {
		name string
		how  int // the other run's lock
	}{
		{"reading waits for an append", syscall.LOCK_EX},
		{"appending waits for a reader", syscall.LOCK_SH},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := hostFor(server)
			h.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
			writeFile(t, h.KnownHosts, "")
			other, err := os.Open(h.KnownHosts)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if err := syscall.Flock(int(other.Fd()), tt.how); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				c, err := NewDialer(true, 0).Dial(context.Background(), h)
				if err == nil {
					c.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				t.Fatalf("dial finished (err = %v) while another run held the lock", err)
			case <-time.After(300 * time.Millisecond):
			}
			if err := syscall.Flock(int(other.Fd()), syscall.LOCK_UN); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if data, err := os.ReadFile(h.KnownHosts); err != nil || string(data) != pin(server.Port, server.HostKey)+"\n" {
				t.Errorf("known_hosts is %q (%v)", data, err)
			}
		})
	}
}

// TestHostCertChecks: what makes a certificate from a trusted CA valid for
// the host dialled.
func TestHostCertChecks(t *testing.T) {
	ca, _ := sshtest.NewUserKey(t, t.TempDir())
	host, _ := sshtest.NewUserKey(t, t.TempDir())
	now := uint64(time.Now().Unix())
	tests := []struct {
		name   string
		modify func(*ssh.Certificate)
		want   string // in the error; "": valid
	}{
		{"valid", func(*ssh.Certificate) {}, ""},
		{"valid forever", func(c *ssh.Certificate) { c.ValidAfter, c.ValidBefore = 0, ssh.CertTimeInfinity }, ""},
		{"another name", func(c *ssh.Certificate) { c.ValidPrincipals = []string{"db.example"} }, `principal "web.example" not in the set`},
		{"expired", func(c *ssh.Certificate) { c.ValidBefore = now - 60 }, "expired"},
		{"not yet valid", func(c *ssh.Certificate) { c.ValidAfter = now + 3600 }, "not yet valid"},
		{"user certificate", func(c *ssh.Certificate) { c.CertType = ssh.UserCert }, "user certificate"},
		{"critical option", func(c *ssh.Certificate) { c.CriticalOptions = map[string]string{"force-command": "true"} }, "unsupported critical option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := &ssh.Certificate{Key: host.PublicKey(), CertType: ssh.HostCert, KeyId: "test", ValidPrincipals: []string{"web.example"},
				ValidAfter: now - 60, ValidBefore: now + 3600}
			tt.modify(cert)
			if err := cert.SignCert(rand.Reader, ca); err != nil {
				t.Fatal(err)
			}
			err := checkHostCert("web.example:2222", "", cert)
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	// x/crypto will not sign a certificate naming no principals; OpenSSH
	// will, and takes it as valid for every host.
	t.Run("no principals", func(t *testing.T) {
		ca := sshtest.NewCA(t)
		pub := filepath.Join(t.TempDir(), "host.pub")
		writeFile(t, pub, string(ssh.MarshalAuthorizedKey(host.PublicKey())))
		if out, err := exec.Command("ssh-keygen", "-q", "-s", ca.KeyFile, "-h", "-I", "test", pub).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		certText, err := os.ReadFile(strings.TrimSuffix(pub, ".pub") + "-cert.pub")
		if err != nil {
			t.Fatal(err)
		}
		key, _, _, _, err := ssh.ParseAuthorizedKey(certText)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkHostCert("web.example:2222", "", key.(*ssh.Certificate)); err == nil || !strings.Contains(err.Error(), "names no principals") {
			t.Errorf("err = %v, want it to name no principals", err)
		}
	})
}

// TestKnownHostsLookupInFileOrder: the lines naming a host plainly (found
// by name) and those matching it by pattern or hash come back together, in
// file order.
func TestKnownHostsLookupInFileOrder(t *testing.T) {
	key := func() string {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		signer, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	}
	data := strings.Join([]string{
		"[127.0.0.1]:2201 " + key(),
		"[127.0.0.9]:2201 " + key(),
		"[127.0.0.*]:* " + key(),
		"A.Example,[127.0.0.1]:2201 " + key(),
		"*,![127.0.0.1]:2201 " + key(),
		knownhosts.HashHostname("[127.0.0.1]:2201") + " " + key(),
		"@cert-authority [127.0.0.1]:2201 " + key(),
		"@revoked [127.0.0.1]:2201 " + key(),
	}, "\n")
	kh, err := parseKnownHosts("known_hosts", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	lines := func(entries []knownEntry) (out []int) {
		for _, e := range entries {
			out = append(out, e.line)
		}
		return out
	}
	found := kh.lookup(lookupName("127.0.0.1:2201"))
	if got := lines(found.pins); fmt.Sprint(got) != "[1 3 4 6]" || fmt.Sprint(lines(found.authorities)) != "[7]" {
		t.Errorf("pins on lines %v, authorities %v; want [1 3 4 6] and [7]", got, lines(found.authorities))
	}
	if got := lines(kh.lookup(lookupName("a.example:22")).pins); fmt.Sprint(got) != "[4 5]" {
		t.Errorf("a.example: pins on lines %v, want [4 5] (case ignored)", got)
	}
}
