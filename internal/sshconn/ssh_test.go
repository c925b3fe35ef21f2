package sshconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/sshtest"
)

// commands answers the few commands these tests send.
func commands(command string, stdout, stderr io.Writer, stop <-chan struct{}) int {
	switch {
	case command == "uname -m":
		fmt.Fprintln(stdout, "aarch64")
	case strings.HasPrefix(command, "exit "):
		var code int
		fmt.Sscanf(command, "exit %d", &code)
		fmt.Fprintln(stderr, "bye")
		return code
	case command == "big":
		chunk := strings.Repeat("x", 1000)
		for i := 0; i < 100; i++ {
			fmt.Fprint(stdout, chunk)
		}
	case command == "hang":
		<-stop
		return 137
	default:
		fmt.Fprintf(stderr, "sh: %s: not found\n", command)
		return 127
	}
	return 0
}

func hostFor(s *sshtest.Server) inventory.Host {
	return inventory.Host{Name: "test", Arch: host.Arm64, Address: s.Host, Port: s.Port, User: "u", Identity: s.IdentityFile,
		KnownHosts: s.KnownHostsFile, ConnectTimeout: 5 * time.Second, Keepalive: time.Second}
}

func dial(t *testing.T, h inventory.Host) *Conn {
	t.Helper()
	c, err := NewDialer(false, 0).Dial(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestExec(t *testing.T) {
	c := dial(t, hostFor(sshtest.NewServer(t, commands)))
	tests := []struct {
		command        string
		limit          int
		exit           int
		stdout, stderr string
		stdoutTotal    int64
	}{
		{"uname -m", 100, 0, "aarch64\n", "", 8},
		{"exit 3", 100, 3, "", "bye\n", 0},
		{"nosuch", 100, 127, "", "sh: nosuch: not found\n", 0},
		{"big", 10, 0, "xxxxx\n[everywhere: 99990 bytes, 0 newlines cut here]\nxxxxx", "", 100000},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			out, err := c.Exec(context.Background(), tt.command, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if out.ExitCode != tt.exit || out.Stdout.String() != tt.stdout || out.Stderr.String() != tt.stderr {
				t.Errorf("got exit %d stdout %q stderr %q; want %d %q %q", out.ExitCode, out.Stdout.String(), out.Stderr.String(), tt.exit, tt.stdout, tt.stderr)
			}
			if tt.stdoutTotal > 0 && out.Stdout.Total() != tt.stdoutTotal {
				t.Errorf("stdout total %d, want %d", out.Stdout.Total(), tt.stdoutTotal)
			}
			if got, want := out.Stdout.Truncated(), tt.stdoutTotal > int64(tt.limit); got != want {
				t.Errorf("Truncated() = %v, want %v", got, want)
			}
		})
	}
}

func TestExecTimeoutKillsCommand(t *testing.T) {
	c := dial(t, hostFor(sshtest.NewServer(t, commands)))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Exec(ctx, "hang", 100)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if waited := time.Since(start); waited > killGrace {
		t.Errorf("returned after %v: the hung command was not abandoned", waited)
	}
	// The connection survives a killed command.
	if out, err := c.Exec(context.Background(), "uname -m", 100); err != nil || out.Stdout.String() != "aarch64\n" {
		t.Errorf("after timeout: %v %q", err, out.Stdout.String())
	}
}

func TestDialErrors(t *testing.T) {
	server := sshtest.NewServer(t, commands)
	dir := t.TempDir()
	otherKey := filepath.Join(dir, "other_known_hosts")
	sshtest.WriteKnownHosts(t, otherKey, server.Host, server.Port, sshtest.NewServer(t, commands).HostKey)
	_, wrongIdentity := sshtest.NewUserKey(t, dir)
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, "")

	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedPort := refused.Addr().(*net.TCPAddr).Port
	refused.Close()

	// A listener that accepts and never speaks: a stalled handshake.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()

	tests := []struct {
		name   string
		modify func(*inventory.Host)
		kind   error
		detail string
	}{
		{"connection refused", func(h *inventory.Host) { h.Port = refusedPort }, ErrUnreachable, "connection refused"},
		{"stalled handshake", func(h *inventory.Host) {
			h.Port = silent.Addr().(*net.TCPAddr).Port
			h.ConnectTimeout = 300 * time.Millisecond
		}, ErrUnreachable, "SSH handshake did not finish within 300ms"},
		{"changed host key", func(h *inventory.Host) { h.KnownHosts = otherKey }, ErrHostKeyChanged, "this may be an attack"},
		{"unknown host key", func(h *inventory.Host) { h.KnownHosts = empty }, ErrHostKeyUnknown, "rerun with --accept-new-host-keys"},
		{"missing known_hosts", func(h *inventory.Host) { h.KnownHosts = filepath.Join(dir, "absent") }, ErrHostKeyUnknown, "no such file"},
		{"wrong key", func(h *inventory.Host) { h.Identity = wrongIdentity }, ErrAuth, "the server accepted none of these keys"},
		{"missing identity", func(h *inventory.Host) { h.Identity = filepath.Join(dir, "nokey") }, ErrAuth, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hostFor(server)
			tt.modify(&h)
			start := time.Now()
			_, err := NewDialer(false, 0).Dial(context.Background(), h)
			var ce *ConnectError
			if !errors.As(err, &ce) || !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want a ConnectError of kind %v", err, tt.kind)
			}
			if !strings.Contains(err.Error(), "host test ("+h.Addr()+")") || !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q should name the host and say %q", err, tt.detail)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("took %v", elapsed)
			}
		})
	}
}

func TestDialCancelledHandshake(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		c, err := silent.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(5 * time.Second)
		}
	}()
	server := sshtest.NewServer(t, commands)
	h := hostFor(server)
	h.Port = silent.Addr().(*net.TCPAddr).Port
	h.ConnectTimeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err = NewDialer(false, 0).Dial(ctx, h)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("err = %v", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("cancellation took %v to reach the handshake", elapsed)
	}
}

func TestAcceptNewHostKeys(t *testing.T) {
	server := sshtest.NewServer(t, commands)
	h := hostFor(server)
	h.KnownHosts = filepath.Join(t.TempDir(), "sub", "known_hosts")
	d := NewDialer(true, 0)
	for i := 0; i < 2; i++ { // the second dial must find the recorded key
		c, err := d.Dial(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	data, err := os.ReadFile(h.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(data), "\n"); lines != 1 {
		t.Errorf("known_hosts has %d lines, want 1:\n%s", lines, data)
	}
	// Trust on first use never extends to a changed key.
	other := sshtest.NewServer(t, commands)
	h.Port = other.Port
	sshtest.WriteKnownHosts(t, h.KnownHosts, server.Host, other.Port, server.HostKey)
	if _, err := d.Dial(context.Background(), h); !errors.Is(err, ErrHostKeyChanged) {
		t.Errorf("changed key with accept-new: err = %v", err)
	}
}

// freezingProxy forwards TCP to target until freeze is closed, then
// swallows every byte without closing: a link that died silently.
func freezingProxy(t *testing.T, target string, freeze <-chan struct{}) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				return
			}
			select {
			case <-freeze:
				continue
			default:
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); up.Close() })
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

func TestKeepaliveClosesDeadConnection(t *testing.T) {
	server := sshtest.NewServer(t, commands)
	freeze := make(chan struct{})
	h := hostFor(server)
	h.Port = freezingProxy(t, net.JoinHostPort(server.Host, fmt.Sprint(server.Port)), freeze)
	h.Keepalive = 100 * time.Millisecond
	// known_hosts names the proxy's port.
	sshtest.WriteKnownHosts(t, h.KnownHosts, server.Host, h.Port, server.HostKey)
	c := dial(t, h)
	if _, err := c.Exec(context.Background(), "uname -m", 10); err != nil {
		t.Fatal(err)
	}
	close(freeze)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Exec(ctx, "uname -m", 10); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("exec over a dead link: err = %v, want the connection closed by keepalive", err)
	}
}

// TestAgentAuth: with no identity file, the keys of a running ssh-agent
// (SSH_AUTH_SOCK) are offered.
func TestAgentAuth(t *testing.T) {
	server := sshtest.NewServer(t, commands)
	data, err := os.ReadFile(server.IdentityFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.ParseRawPrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: key}); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _ = agent.ServeAgent(keyring, c) }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", socket)
	t.Setenv("HOME", t.TempDir()) // no ~/.ssh keys to fall back on
	h := hostFor(server)
	h.Identity = ""
	c := dial(t, h)
	if out, err := c.Exec(context.Background(), "uname -m", 100); err != nil || out.Stdout.String() != "aarch64\n" {
		t.Errorf("exec over agent-authenticated connection: %v %q", err, out.Stdout.String())
	}
	// Without the agent there is no key at all: a clear error, not a hang.
	t.Setenv("SSH_AUTH_SOCK", "")
	if _, err := NewDialer(false, 0).Dial(context.Background(), h); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "no key to offer") {
		t.Errorf("no key: %v", err)
	}
}

// TestIdentityTooOpenRefused: a private key that group or others may read
// is not used, as with OpenSSH; a configured one is an error that says how
// to fix it, a default ~/.ssh one is skipped and the error says so.
func TestIdentityTooOpenRefused(t *testing.T) {
	server := sshtest.NewServer(t, commands)
	key, err := os.ReadFile(server.IdentityFile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		file     string // under a fresh HOME
		mode     os.FileMode
		explicit bool
		want     []string // in the error; none: the dial succeeds
	}{
		{"configured 0644", "key", 0o644, true, []string{"Permissions 0644 for '%s' are too open", "chmod 600 %s"}},
		{"configured 0640", "key", 0o640, true, []string{"Permissions 0640 for '%s' are too open", "chmod 600 %s"}},
		{"configured 0400", "key", 0o400, true, nil},
		{"default 0604", ".ssh/id_ed25519", 0o604, false, []string{"no key to offer", "%s skipped: Permissions 0604"}},
		{"default 0600", ".ssh/id_ed25519", 0o600, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("SSH_AUTH_SOCK", "")
			file := filepath.Join(home, tt.file)
			if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, key, tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(file, tt.mode); err != nil { // past the umask
				t.Fatal(err)
			}
			h := hostFor(server)
			h.Identity = ""
			if tt.explicit {
				h.Identity = file
			}
			c, err := NewDialer(false, 0).Dial(context.Background(), h)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return
			}
			if err == nil {
				c.Close()
			}
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("err = %v, want %v", err, ErrAuth)
			}
			for _, w := range tt.want {
				if w := strings.ReplaceAll(w, "%s", file); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q should say %q", err, w)
				}
			}
		})
	}
}
