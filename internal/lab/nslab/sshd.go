package nslab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"everywhere/internal/host"
	"everywhere/internal/lab/labkit"
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

// startHost brings one lab host up: root, network, sshd. It returns the
// host's known_hosts line.
func startHost(ctx context.Context, h labkit.Host, user ssh.Signer) (string, error) {
	start := time.Now()
	if err := mountRoot(h); err != nil {
		return "", err
	}
	hostKey, err := writeSSHFiles(h, user)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(hostRoot(h), labkit.AptProxyConfFile), h.Lab().AptProxyConf(), 0o644); err != nil {
		return "", err
	}
	if err := setupHostNetwork(ctx, h); err != nil {
		return "", err
	}
	if err := routeOverlay(ctx, h); err != nil {
		return "", err
	}
	// A UTS namespace of its own gives the host its own name in uname -a.
	args := []string{"--net=/run/netns/" + netns(h), "--", "unshare", "--uts", "--", "chroot", hostRoot(h),
		"/bin/sh", "-c", `hostname "$0" && exec "$@"`, h.Name}
	if h.Arch == host.I686 {
		args = append(args, "setarch", "i686") // uname -m says i686 also on a native x86-64 kernel
	}
	args = append(args, "/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/everywhere_sshd_config")
	d, err := labkit.Spawn(h.Cgroup("sshd"), filepath.Join(h.Dir(), "sshd.log"), pidFile(h), nil, append([]string{"nsenter"}, args...)...)
	if err != nil {
		return "", err
	}
	if err := d.Ready(ctx, func() error { return labkit.SSHBanner(ctx, h.Address, 2*time.Second) }); err != nil {
		return "", err
	}
	fmt.Fprintf(h.Lab().Log, "[%s] sshd up on %s in %s\n", h.Name, h.Address, time.Since(start).Round(100*time.Millisecond))
	return knownhosts.Line([]string{h.Address.String()}, hostKey), nil
}

// mountRoot lays a writable overlay over the cached rootfs (which stays
// pristine for the next lab), with /proc and /dev inside.
func mountRoot(h labkit.Host) error {
	upper, work, root := filepath.Join(h.Dir(), "upper"), filepath.Join(h.Dir(), "work"), hostRoot(h)
	for _, d := range []string{upper, work, root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	options := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", h.Lab().Rootfs(h.Arch, hostRootfs), upper, work)
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
func writeSSHFiles(h labkit.Host, user ssh.Signer) (ssh.PublicKey, error) {
	etc := filepath.Join(hostRoot(h), "etc", "ssh")
	if err := os.WriteFile(filepath.Join(etc, "everywhere_sshd_config"), []byte(sshdConfig), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(etc, "everywhere_authorized_keys"), ssh.MarshalAuthorizedKey(user.PublicKey()), 0o644); err != nil {
		return nil, err
	}
	signer, err := labkit.LoadOrCreateKey(filepath.Join(etc, "everywhere_host_ed25519_key"))
	if err != nil {
		return nil, err
	}
	return signer.PublicKey(), nil
}

// runningPID is the pid of h's sshd when it runs, else 0. The pid file
// alone is not trusted (pids are reused): the process must be in h's sshd
// cgroup.
func runningPID(h labkit.Host) int {
	data, err := os.ReadFile(pidFile(h))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || !labkit.InCgroup(pid, h.Cgroup("sshd")) {
		return 0
	}
	return pid
}

// stopHost ends every process of h (its sshd and whatever its sessions
// left, its dockerd, containerd and containers: the members of its
// cgroups), unmounts everything under its folder and deletes its
// namespace.
func stopHost(ctx context.Context, h labkit.Host) error {
	if err := labkit.StopCgroup(ctx, h.Cgroup("")); err != nil {
		return err
	}
	// A lab brought up by an everywhere that had no cgroups left its
	// daemons in the host's network namespace, which the lab made too.
	if err := labkit.StopAll(ctx, "lab host "+h.Name+"'s network namespace", func() []int { return inNamespace(netns(h)) }); err != nil {
		return err
	}
	_ = os.Remove(pidFile(h))
	return errors.Join(labkit.UnmountAll(h.Dir()), removeHostNetwork(ctx, h))
}

// inNamespace lists the processes in the network namespace ns (of
// /run/netns), none when it does not exist.
func inNamespace(ns string) []int {
	want, err := os.Stat(filepath.Join("/run/netns", ns))
	if err != nil {
		return nil
	}
	return labkit.ProcessesWhere(func(pid int) bool {
		info, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid))
		return err == nil && os.SameFile(info, want)
	})
}
