package sshconn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/sshtest"
)

// TestOpenSSH runs the transport against a real OpenSSH sshd.
func TestOpenSSH(t *testing.T) {
	sshd := sshtest.StartOpenSSH(t)
	h := inventory.Host{Name: "openssh", Arch: host.AMD64, Address: sshd.Host, Port: sshd.Port, User: sshd.User,
		Identity: sshd.IdentityFile, KnownHosts: sshd.KnownHostsFile, ConnectTimeout: 10 * time.Second, Keepalive: time.Second}
	c := dial(t, h)

	tests := []struct {
		command        string
		exit           int
		signal         string
		stdout, stderr string
	}{
		{"echo out; echo err >&2", 0, "", "out\n", "err\n"},
		{"exit 3", 3, "", "", ""},
		{"kill -9 $$", 137, "SIGKILL", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			out, err := c.Exec(context.Background(), tt.command, 1024)
			if err != nil {
				t.Fatal(err)
			}
			if out.ExitCode != tt.exit || out.Signal != tt.signal || out.Stdout.String() != tt.stdout || out.Stderr.String() != tt.stderr {
				t.Errorf("got exit %d signal %q stdout %q stderr %q", out.ExitCode, out.Signal, out.Stdout.String(), out.Stderr.String())
			}
		})
	}

	t.Run("uname matches this machine", func(t *testing.T) {
		out, err := c.Exec(context.Background(), "uname -m", 1024)
		if err != nil {
			t.Fatal(err)
		}
		arch, err := host.ParseArch(strings.TrimSpace(out.Stdout.String()))
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := host.ParseArch(runtime.GOARCH); arch != want {
			t.Errorf("uname -m says %s, Go says %s", arch, runtime.GOARCH)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := c.Exec(ctx, "sleep 3", 1024); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		if elapsed := time.Since(start); elapsed > killGrace+time.Second {
			t.Errorf("took %v", elapsed)
		}
	})

	t.Run("changed host key", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "known_hosts")
		sshtest.WriteKnownHosts(t, other, sshd.Host, sshd.Port, sshtest.NewServer(t, commands).HostKey)
		h2 := h
		h2.KnownHosts = other
		if _, err := NewDialer(true, 0).Dial(context.Background(), h2); !errors.Is(err, ErrHostKeyChanged) {
			t.Fatalf("err = %v, want host key changed", err)
		}
	})
}

// openSSHHost is the inventory host for sshd, checked against knownHosts.
func openSSHHost(sshd *sshtest.OpenSSH, knownHosts string) inventory.Host {
	return inventory.Host{Name: "openssh", Arch: host.AMD64, Address: sshd.Host, Port: sshd.Port, User: sshd.User,
		Identity: sshd.IdentityFile, KnownHosts: knownHosts, ConnectTimeout: 10 * time.Second}
}

// authorizedKey is key as known_hosts and authorized_keys write it.
func authorizedKey(key ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

// TestCertAuthorityHostVerified: a host whose known_hosts entry is a
// @cert-authority line was asked for its plain key, which then did not
// match the CA's and was reported as a changed key, "this may be an
// attack … remove that line". Now it is asked for a host certificate,
// which is checked against the CA, the host's name and the validity.
func TestCertAuthorityHostVerified(t *testing.T) {
	ca, otherCA := sshtest.NewCA(t), sshtest.NewCA(t)
	sshd := sshtest.StartOpenSSHWithCert(t, sshtest.HostCert{CA: ca})
	wrongName := sshtest.StartOpenSSHWithCert(t, sshtest.HostCert{CA: ca, Principals: []string{"other.example"}})
	expired := sshtest.StartOpenSSHWithCert(t, sshtest.HostCert{CA: ca, Validity: "20200101:20200102"})
	authority := func(s *sshtest.OpenSSH, ca *sshtest.CA) string {
		return fmt.Sprintf("@cert-authority [%s]:%d %s\n", s.Host, s.Port, authorizedKey(ca.PublicKey))
	}
	tests := []struct {
		name       string
		sshd       *sshtest.OpenSSH
		knownHosts string
		acceptNew  bool
		kind       error // nil: connects
		detail     string
	}{
		{"CA only", sshd, authority(sshd, ca), false, nil, ""},
		{"CA by wildcard", sshd, "@cert-authority [127.0.0.*]:* " + authorizedKey(ca.PublicKey) + "\n", false, nil, ""},
		{"CA only, accepting new keys", sshd, authority(sshd, ca), true, nil, ""},
		{"certificate from another CA", sshd, authority(sshd, otherCA), true, ErrHostKeyChanged,
			"trusts this host only with a host certificate signed by CA ssh-ed25519 " + ssh.FingerprintSHA256(otherCA.PublicKey)},
		{"another CA, but the plain key pinned", sshd, authority(sshd, otherCA) + pin(sshd.Port, sshd.HostKey) + "\n", false, nil, ""},
		{"certificate for another name", wrongName, authority(wrongName, ca), true, ErrHostKeyChanged,
			`not valid for this host: ssh: principal "127.0.0.1" not in the set of valid principals`},
		{"expired certificate", expired, authority(expired, ca), true, ErrHostKeyChanged, "not valid for this host: ssh: cert has expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "known_hosts")
			writeFile(t, file, tt.knownHosts)
			h := openSSHHost(tt.sshd, file)
			c, err := NewDialer(tt.acceptNew, 0).Dial(context.Background(), h)
			if tt.kind == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if out, err := c.Exec(context.Background(), "echo ok", 100); err != nil || out.Stdout.String() != "ok\n" {
					t.Errorf("exec: %v %q", err, out.Stdout.String())
				}
			} else {
				if err == nil {
					c.Close()
				}
				if !errors.Is(err, tt.kind) || !strings.Contains(fmt.Sprint(err), tt.detail) || !strings.Contains(fmt.Sprint(err), file+":1") {
					t.Errorf("err = %v, want %v saying %q and naming %s:1", err, tt.kind, tt.detail, file)
				}
			}
			// Trust on first use never adds to a host a CA vouches for.
			if data, err := os.ReadFile(file); err != nil || string(data) != tt.knownHosts {
				t.Errorf("known_hosts became %q (%v)", data, err)
			}
		})
	}
}

// TestAcceptNewPinsPlainKeyOfCertificate: a host no line speaks for, whose
// sshd presents a certificate from a CA we do not know, is trusted on first
// use by its plain key; pinning the certificate would break at its renewal.
func TestAcceptNewPinsPlainKeyOfCertificate(t *testing.T) {
	sshd := sshtest.StartOpenSSHWithCert(t, sshtest.HostCert{CA: sshtest.NewCA(t)})
	file := filepath.Join(t.TempDir(), "known_hosts")
	for _, acceptNew := range []bool{true, false} { // the second dial finds the pin
		c, err := NewDialer(acceptNew, 0).Dial(context.Background(), openSSHHost(sshd, file))
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if data, err := os.ReadFile(file); err != nil || string(data) != pin(sshd.Port, sshd.HostKey)+"\n" {
		t.Errorf("known_hosts is %q (%v), want the plain host key", data, err)
	}
}

// TestRevokedKeyIsHostKeyError: a key known_hosts marks @revoked was
// refused, but reported as an unreachable host ("SSH handshake: ..."). It
// is a host-key error of its own kind, naming the line.
func TestRevokedKeyIsHostKeyError(t *testing.T) {
	ca := sshtest.NewCA(t)
	sshd := sshtest.StartOpenSSHWithCert(t, sshtest.HostCert{CA: ca})
	tests := []struct {
		name       string
		knownHosts string
		detail     string
	}{
		{"revoked host key", pin(sshd.Port, sshd.HostKey) + "\n@revoked * " + authorizedKey(sshd.HostKey) + "\n",
			"server offered ssh-ed25519 " + ssh.FingerprintSHA256(sshd.HostKey)},
		{"revoked CA", fmt.Sprintf("@cert-authority [%s]:%d %s\n@revoked * %s\n", sshd.Host, sshd.Port, authorizedKey(ca.PublicKey), authorizedKey(ca.PublicKey)),
			"signed by CA ssh-ed25519 " + ssh.FingerprintSHA256(ca.PublicKey)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "known_hosts")
			writeFile(t, file, tt.knownHosts)
			c, err := NewDialer(true, 0).Dial(context.Background(), openSSHHost(sshd, file))
			if err == nil {
				c.Close()
			}
			if !errors.Is(err, ErrHostKeyRevoked) || !strings.Contains(fmt.Sprint(err), tt.detail) || !strings.Contains(fmt.Sprint(err), file+":2 marks @revoked") {
				t.Errorf("err = %v, want %v saying %q and naming %s:2", err, ErrHostKeyRevoked, tt.detail, file)
			}
		})
	}
}
