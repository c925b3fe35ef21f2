// Package lxdtest starts LXD and Incus daemons of a test's own: a folder of
// their own (LXD_DIR, INCUS_DIR), a dir storage pool, and a bridge in a
// network namespace of their own with no route out, so that nothing they
// try to fetch (Incus and LXD ask their image server for instance types at
// start) can leave the machine. The machine's own LXD, if any, is never
// touched.
package lxdtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"everywhere/internal/dockertest"
	"everywhere/internal/sshtest"
)

// Server says which daemon to start.
type Server struct {
	Name   string // "lxd" or "incus"
	Daemon string // its binary
	CLI    string // the client that preseeds it
	DirEnv string // LXD_DIR or INCUS_DIR
}

// LXD is Debian's lxd package.
var LXD = Server{Name: "lxd", Daemon: "lxd", CLI: "lxd", DirEnv: "LXD_DIR"}

// Incus is Debian's incus package (bookworm-backports).
var Incus = Server{Name: "incus", Daemon: "/usr/libexec/incus/incusd", CLI: "incus", DirEnv: "INCUS_DIR"}

// Start starts s with its bridge on subnet (such as 10.213.202.1/24, IPv4
// only, no NAT) and stops it at the end of the test; it returns the
// daemon's socket. It skips the test where s cannot run (not root, not
// installed), except under CI.
func Start(t *testing.T, s Server, subnet string) string {
	t.Helper()
	if _, err := exec.LookPath(s.Daemon); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s unavailable under CI (root and the %s package needed): %v", s.Name, s.Name, err)
		}
		t.Skipf("%s needs root and the %s package", s.Name, s.Name)
	}
	sshtest.RequireNetns(t)
	dir, err := os.MkdirTemp("/var/tmp", "everywhere-"+s.Name+"-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // unprivileged containers traverse it
		t.Fatal(err)
	}
	t.Cleanup(func() { removeAll(t, dir) }) // after the daemon stopped: cleanups run last first
	ns := sshtest.NewNetns(t)
	env := []string{s.DirEnv + "=" + dir}
	// The daemon looks its bridge up in /sys/class/net, which shows the
	// namespace of whoever mounted /sys: it gets a mount namespace of its
	// own with a sysfs of its network namespace, the machine's cgroup
	// mounts carried over (ip netns exec would hide them).
	script := `mkdir -p "$0/.cgroup" && mount --rbind /sys/fs/cgroup "$0/.cgroup" && mount -t sysfs sysfs /sys && mount --rbind "$0/.cgroup" /sys/fs/cgroup && exec "$@"`
	args := []string{"nsenter", "--net=/run/netns/" + ns.Name, "--", "unshare", "--mount", "--propagation", "slave", "--", "sh", "-c", script, dir,
		s.Daemon, "--group", "root", "--logfile", filepath.Join(dir, s.Name+".log")}
	dockertest.Daemon(t, s.Name, env, args...)
	cli := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command(s.CLI, args...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", s.CLI, strings.Join(args, " "), err, out)
		}
	}
	waitready := []string{"waitready", "--timeout", "120"}
	if s.Name == "incus" {
		waitready = append([]string{"admin"}, waitready...)
	}
	cli("", waitready...)
	bridge := fmt.Sprintf("ew%s%d", s.Name[:3], os.Getpid()%100000)
	preseed := fmt.Sprintf(`config:
  images.auto_update_interval: "0"
networks:
- name: %[1]s
  type: bridge
  config:
    ipv4.address: %[2]s
    ipv4.nat: "false"
    ipv6.address: none
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    root: {path: /, pool: default, type: disk}
    eth0: {name: eth0, network: %[1]s, type: nic}
`, bridge, subnet)
	initArgs := []string{"init", "--preseed"}
	if s.Name == "incus" {
		initArgs = append([]string{"admin"}, initArgs...)
	}
	cli(preseed, initArgs...)
	// The daemon leaves its bridge's dnsmasq running when it stops.
	t.Cleanup(func() { killUnder(dir) })
	return filepath.Join(dir, "unix.socket")
}

// killUnder ends the processes whose command line names dir: what the
// daemon started and left (its dnsmasq), found by PID.
func killUnder(dir string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(dir+"/")) {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
}

// removeAll unmounts what the daemon left mounted under dir, then removes it.
func removeAll(t *testing.T, dir string) {
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	var mounts []string
	for _, line := range strings.Split(string(mountinfo), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mounts = append(mounts, f[4])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- { // the deepest first
		_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Errorf("removing %s: %v", dir, err)
	}
}
