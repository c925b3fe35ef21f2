// Package dockertest starts Docker engines of a test's own.
package dockertest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
)

// Options shape an engine. The zero value gives containers no network.
type Options struct {
	// Netns, when set, is the network namespace the engine runs in, and
	// Bridge the address of its docker0 there (such as 10.213.201.1/24):
	// its containers then have a network that no other engine shares.
	Netns, Bridge string
}

// Start starts a Docker engine on a socket of its own and stops it at the
// end of the test; it returns the socket. It skips the test where dockerd
// cannot run (not root, no docker.io), except under CI.
func Start(t *testing.T, o Options) string {
	t.Helper()
	if _, err := exec.LookPath("dockerd"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("dockerd unavailable under CI (root and docker.io needed): %v", err)
		}
		t.Skip("dockerd needs root and the docker.io package")
	}
	dir, err := os.MkdirTemp("/var/tmp", "everywhere-dockerd-") // not tmpfs: overlay2 wants a real fs
	if err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "docker.sock")
	args := []string{"dockerd", "--host", "unix://" + socket, "--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"), "--pidfile", filepath.Join(dir, "docker.pid"), "--iptables=false"}
	if o.Netns == "" {
		args = append(args, "--bridge", "none")
	} else {
		// nsenter --net, not ip netns exec, which remounts /sys and hides
		// the cgroup mounts dockerd needs.
		args = append([]string{"nsenter", "--net=/run/netns/" + o.Netns, "--"}, append(args, "--bip", o.Bridge)...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = os.RemoveAll(dir)
	})
	c, err := client.NewClientWithOpts(client.WithHost("unix://"+socket), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := c.Ping(context.Background()); err == nil {
			return socket
		}
		select {
		case <-exited:
			t.Fatalf("dockerd exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not answer:\n%s", log.String())
		}
	}
}

// Containers lists the containers, running or not, that carry label (KEY
// or KEY=VALUE) on the engine at socket. A failure to list fails the test
// with t.Error, so it may be called from a goroutine of the test's own.
func Containers(t testing.TB, socket, label string) []container.Summary {
	c, err := client.NewClientWithOpts(client.WithHost("unix://"+socket), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Error(err)
		return nil
	}
	defer c.Close()
	list, err := c.ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", label))})
	if err != nil {
		t.Error(err)
	}
	return list
}
