package sshconn

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"everywhere/internal/inventory"
	"everywhere/internal/sshtest"
)

// TestProxyJump reaches hosts only a bastion can reach, as ssh does with
// the same ssh config: one hop, two hops, a hop by ProxyCommand (ssh -W),
// and a bastion whose key changed, refused and named.
func TestProxyJump(t *testing.T) {
	j := sshtest.StartJumps(t, 200)
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(j.Target.Host, "2222"), time.Second); err == nil {
		_ = c.Close()
		t.Fatal("the machine reaches the target directly: the test proves nothing")
	}
	hosts := func(t *testing.T, config string, aliases ...string) []inventory.Host {
		t.Helper()
		var src strings.Builder
		src.WriteString("hosts:\n")
		for _, a := range aliases {
			src.WriteString("  - {name: " + a + ", arch: amd64, address: " + a + "}\n")
		}
		inv, err := inventory.Parse(filepath.Join(t.TempDir(), "inv.yaml"), []byte(src.String()), inventory.Options{SSHConfig: config})
		if err != nil {
			t.Fatal(err)
		}
		return inv.Hosts
	}
	t.Run("one and two hops", func(t *testing.T) {
		for _, h := range hosts(t, j.SSHConfig, "inner", "target") {
			c := dial(t, h)
			out, err := c.Exec(context.Background(), "ip -4 -o addr show", 4096)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.Stdout.String(), h.Address+"/24") {
				t.Errorf("%s: not on %s: %s", h.Name, h.Address, out.Stdout.String())
			}
			_ = c.Close()
		}
	})
	t.Run("ProxyCommand ssh -W", func(t *testing.T) {
		config := filepath.Join(t.TempDir(), "ssh_config")
		data, err := os.ReadFile(j.SSHConfig)
		if err != nil {
			t.Fatal(err)
		}
		viaCommand := "Host bycommand\n  HostName " + j.Inner.Host + "\n  IdentityFile " + j.Inner.IdentityFile +
			"\n  ProxyCommand ssh -F " + j.SSHConfig + " -W %h:%p bastion\n"
		if err := os.WriteFile(config, append([]byte(viaCommand), data...), 0o600); err != nil {
			t.Fatal(err)
		}
		h := hosts(t, config, "bycommand")[0]
		c := dial(t, h)
		defer c.Close()
		if out, err := c.Exec(context.Background(), "echo through", 64); err != nil || out.Stdout.String() != "through\n" {
			t.Fatalf("got %v, %v", out, err)
		}
	})
	t.Run("bastion key changed", func(t *testing.T) {
		h := hosts(t, j.SSHConfig, "target")[0]
		other := sshtest.NewCA(t).PublicKey // any key that is not the bastion's
		kh := filepath.Join(t.TempDir(), "known_hosts")
		sshtest.WriteKnownHosts(t, kh, j.Bastion.Host, 22, other)
		sshtest.AppendKnownHosts(t, kh, j.Inner.Host, 22, j.Inner.HostKey)
		sshtest.AppendKnownHosts(t, kh, j.Target.Host, 2222, j.Target.HostKey)
		for i := range h.Jumps {
			h.Jumps[i].KnownHosts = kh
		}
		h.KnownHosts = kh
		_, err := NewDialer(false, 0).Dial(context.Background(), h)
		if !errors.Is(err, ErrHostKeyChanged) || !strings.HasPrefix(err.Error(), "host target: via bastion ("+j.Bastion.Host+":22): host key changed") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("inner refuses: named", func(t *testing.T) {
		h := hosts(t, j.SSHConfig, "target")[0]
		h.Jumps[1].Port = 2200 // nothing listens there
		_, err := NewDialer(false, 0).Dial(context.Background(), h)
		if !errors.Is(err, ErrUnreachable) || !strings.HasPrefix(err.Error(), "host target: via inner ("+j.Inner.Host+":2200): unreachable") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("cancelled mid-chain", func(t *testing.T) {
		// The last hop answers TCP but never speaks SSH (busybox nc in
		// Target's namespace), so the cancel lands inside the chain however
		// fast the first hops are.
		stall := exec.Command("ip", "netns", "exec", j.TargetNetns.Name, "busybox", "nc", "-l", "-p", "2223")
		hold, err := stall.StdinPipe() // nc reads it, and so keeps the connection open
		if err != nil {
			t.Fatal(err)
		}
		if err := stall.Start(); err != nil {
			t.Fatalf("busybox nc (Debian's busybox-static): %v", err)
		}
		t.Cleanup(func() { _ = hold.Close(); _ = stall.Process.Kill(); _ = stall.Wait() })
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			out, _ := exec.Command("ip", "netns", "exec", j.TargetNetns.Name, "busybox", "netstat", "-ltn").Output()
			if strings.Contains(string(out), ":2223 ") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("nc never listened:\n%s", out)
			}
		}
		h := hosts(t, j.SSHConfig, "target")[0]
		h.Port = 2223
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		_, err = NewDialer(false, 0).Dial(ctx, h)
		if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "context canceled") {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d > 2*time.Second+300*time.Millisecond {
			t.Errorf("the dial took %v, more than 2s after cancellation", d)
		}
	})
}
