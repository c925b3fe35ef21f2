package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"everywhere/internal/host"
	"everywhere/internal/sshconn"
)

// sshdConfig is the lab sshd's whole configuration: keys only, root allowed.
const sshdConfig = `# Written by everywhere lab up.
ListenAddress 0.0.0.0:22
HostKey /etc/ssh/everywhere_host_ed25519_key
PidFile none
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile /etc/ssh/everywhere_authorized_keys
StrictModes no
MaxStartups 200
MaxSessions 100
`

// startupTimeout allows for an sshd under emulation, which starts slowly.
const startupTimeout = 90 * time.Second

// startHost brings one lab host up: root, network, sshd. It returns the
// host's known_hosts line.
func startHost(ctx context.Context, h Host, user ssh.Signer) (string, error) {
	start := time.Now()
	if err := mountRoot(h); err != nil {
		return "", err
	}
	hostKey, err := writeSSHFiles(h, user)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(h.root(), AptProxyConfFile), h.lab.aptProxyConf(), 0o644); err != nil {
		return "", err
	}
	if err := setupHostNetwork(ctx, h); err != nil {
		return "", err
	}
	if err := routeOverlay(ctx, h); err != nil {
		return "", err
	}
	// A UTS namespace of its own gives the host its own name in uname -a.
	args := []string{"--net=/run/netns/" + h.netns(), "--", "unshare", "--uts", "--", "chroot", h.root(),
		"/bin/sh", "-c", `hostname "$0" && exec "$@"`, h.Name}
	if h.Arch == host.I686 {
		args = append(args, "setarch", "i686") // uname -m says i686 also on a native x86-64 kernel
	}
	args = append(args, "/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/everywhere_sshd_config")
	d, err := spawn(h.cgroup("sshd"), filepath.Join(h.dir(), "sshd.log"), h.pidFile(), nil, append([]string{"nsenter"}, args...)...)
	if err != nil {
		return "", err
	}
	if err := d.ready(ctx, func() error { return sshBanner(ctx, h.Address, 2*time.Second) }); err != nil {
		return "", err
	}
	fmt.Fprintf(h.lab.Log, "[%s] sshd up on %s in %s\n", h.Name, h.Address, time.Since(start).Round(100*time.Millisecond))
	return knownhosts.Line([]string{h.Address.String()}, hostKey), nil
}

// sshBanner checks that an SSH server greets on addr:22.
func sshBanner(ctx context.Context, addr netip.Addr, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(addr.String(), "22"))
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "SSH-") {
		return fmt.Errorf("not an SSH server: %q", line)
	}
	return nil
}

// mountRoot lays a writable overlay over the cached rootfs (which stays
// pristine for the next lab), with /proc and /dev inside.
func mountRoot(h Host) error {
	upper, work, root := filepath.Join(h.dir(), "upper"), filepath.Join(h.dir(), "work"), h.root()
	for _, d := range []string{upper, work, root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	options := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", h.lab.rootfs(h.Arch, hostRootfs), upper, work)
	if err := syscall.Mount("overlay", root, "overlay", 0, options); err != nil {
		return fmt.Errorf("mounting overlay root %s: %w", root, err)
	}
	if err := syscall.Mount("proc", filepath.Join(root, "proc"), "proc", 0, ""); err != nil {
		return fmt.Errorf("mounting proc: %w", err)
	}
	if err := syscall.Mount("/dev", filepath.Join(root, "dev"), "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding /dev: %w", err)
	}
	return os.MkdirAll(filepath.Join(root, "run", "sshd"), 0o755)
}

// writeSSHFiles puts sshd's configuration, the authorised user key and the
// host key into the root. The host key is kept across labs (it lives in
// the overlay's upper layer), so known_hosts stays valid.
func writeSSHFiles(h Host, user ssh.Signer) (ssh.PublicKey, error) {
	etc := filepath.Join(h.root(), "etc", "ssh")
	if err := os.WriteFile(filepath.Join(etc, "everywhere_sshd_config"), []byte(sshdConfig), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(etc, "everywhere_authorized_keys"), ssh.MarshalAuthorizedKey(user.PublicKey()), 0o644); err != nil {
		return nil, err
	}
	signer, err := loadOrCreateKey(filepath.Join(etc, "everywhere_host_ed25519_key"))
	if err != nil {
		return nil, err
	}
	return signer.PublicKey(), nil
}

// userKey is the lab's client key, created once in dir.
func userKey(dir string) (ssh.Signer, error) {
	return loadOrCreateKey(filepath.Join(dir, IdentityFile))
}

func loadOrCreateKey(file string) (ssh.Signer, error) {
	if data, err := os.ReadFile(file); err == nil {
		return ssh.ParsePrivateKey(data)
	}
	signer, err := sshconn.WriteNewKey(file, "everywhere lab")
	if err != nil {
		return nil, err
	}
	pub := ssh.MarshalAuthorizedKey(signer.PublicKey())
	return signer, os.WriteFile(file+".pub", pub, 0o644)
}

// runningPID is the pid of h's sshd when it runs, else 0. The pid file
// alone is not trusted (pids are reused): the process must be in h's sshd
// cgroup.
func runningPID(h Host) int {
	data, err := os.ReadFile(h.pidFile())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || !inCgroup(pid, h.cgroup("sshd")) {
		return 0
	}
	return pid
}

// stopHost ends every process of h (its sshd and whatever its sessions
// left, its dockerd, containerd and containers: the members of its
// cgroups), unmounts everything under its folder and deletes its
// namespace.
func stopHost(ctx context.Context, h Host) error {
	// A machine is asked to quit first (QMP), by the pid it recorded.
	if err := stopMachine(ctx, h); err != nil {
		return err
	}
	if err := stopCgroup(ctx, h.cgroup("")); err != nil {
		return err
	}
	// A lab brought up by an everywhere that had no cgroups left its
	// daemons in the host's network namespace, which the lab made too.
	if err := stopAll(ctx, "lab host "+h.Name+"'s network namespace", func() []int { return inNamespace(h.netns()) }); err != nil {
		return err
	}
	_ = os.Remove(h.pidFile())
	return errors.Join(unmountAll(h.dir()), removeHostNetwork(ctx, h))
}

// unmountAll detaches every mount at or below dir, deepest first.
func unmountAll(dir string) error {
	points, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range points {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// inNamespace lists the processes in the network namespace ns (of
// /run/netns), none when it does not exist.
func inNamespace(ns string) []int {
	want, err := os.Stat(filepath.Join("/run/netns", ns))
	if err != nil {
		return nil
	}
	return processesWhere(func(pid int) bool {
		info, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid))
		return err == nil && os.SameFile(info, want)
	})
}

// processesWhere lists the processes for which match holds.
func processesWhere(match func(pid int) bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && match(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
