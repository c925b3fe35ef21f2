package sshconn

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

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
