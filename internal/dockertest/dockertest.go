// Package dockertest starts Docker and Podman engines of a test's own.
package dockertest

import (
	"context"
	"fmt"
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
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // after the engine stopped: cleanups run last first
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
	waitForEngine(t, socket, Daemon(t, "dockerd", nil, args...))
	return socket
}

// Daemon starts args as a daemon of the test's own, with env added to its
// environment, and stops it (SIGINT, then SIGKILL after 20 s) at the end
// of the test. The channel is closed if it exits; its log is in the
// test's log when the test fails.
func Daemon(t *testing.T, name string, env []string, args ...string) <-chan struct{} {
	t.Helper()
	log, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
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
		if said, _ := os.ReadFile(log.Name()); t.Failed() {
			t.Logf("%s's log:\n%s", name, said)
		}
		_ = log.Close()
	})
	return exited
}

// waitForEngine waits until the engine at socket answers, failing the test
// if it exits or does not answer within a minute.
func waitForEngine(t *testing.T, socket string, exited <-chan struct{}) {
	t.Helper()
	c, err := client.NewClientWithOpts(client.WithHost("unix://"+socket), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := c.Ping(context.Background()); err == nil {
			return
		}
		select {
		case <-exited:
			t.Fatalf("the engine at %s exited", socket)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine at %s did not answer", socket)
		}
	}
}

// PodmanSubnet is where a Podman of StartPodman's puts its containers:
// this package's share of the tests' 10.213.200.0/22.
const PodmanSubnet = "10.213.201.0/24"

// StartPodman starts Podman's Docker-compatible service (podman system
// service) on a socket of its own, with storage and configuration of its
// own, in a network namespace of its own whose default network is
// PodmanSubnet (Podman's own default, 10.88.0.0/16, is never used), and
// stops it at the end of the test; it returns the socket. Nothing is
// pulled: images are loaded. It skips the test where podman cannot run
// (not root, no podman package), except under CI.
func StartPodman(t *testing.T, netns string) string {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("podman unavailable under CI (root and the podman package needed): %v", err)
		}
		t.Skip("podman needs root and the podman package")
	}
	dir, err := os.MkdirTemp("/var/tmp", "everywhere-podman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // after the engine stopped
	for _, sub := range []string{"net.d", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// Podman raises a container's open-file and process limits to 1048576
	// as root, which runc's init is refused on a machine whose limits are
	// lower ("error setting rlimit type 7"): 4096 each is granted here.
	conf := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[network]
network_backend = "cni"
network_config_dir = %[1]q
default_subnet = %[2]q
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = %[3]q
tmp_dir = %[4]q
`, filepath.Join(dir, "net.d"), PodmanSubnet, filepath.Join(dir, "events.log"), filepath.Join(dir, "tmp"))
	if err := os.WriteFile(filepath.Join(dir, "containers.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "podman.sock")
	// The vfs driver: the test's images are a few MB, and it needs nothing
	// of the file system under it.
	args := []string{"nsenter", "--net=/run/netns/" + netns, "--", "podman", "--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
		"--storage-driver", "vfs", "system", "service", "--time=0", "unix://" + socket}
	exited := Daemon(t, "podman", []string{"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf")}, args...)
	waitForEngine(t, socket, exited)
	return socket
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
