// Package nslab is the lab of namespaces (--machines ns): on one Linux
// machine, one network namespace per architecture on the lab's bridge, a
// Debian rootfs of that architecture (foreign code run by qemu-user through
// binfmt_misc), that rootfs's own OpenSSH sshd and a Docker engine of the
// machine's own per host, and one LXD for all of them.
package nslab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"everywhere/internal/lab/labkit"
	"everywhere/internal/text"
)

// Lab is the lab of namespaces.
type Lab struct{}

var (
	// hostRootfs is a lab host's, and its Docker image's: its own sshd, the
	// networking tools, and docker.io, so that `dpkg -l docker.io` answers
	// as on a real host (the engine that runs is the machine's, started by
	// the lab). No net-tools: the seed plan installs it in a container
	// through the lab's package proxy, a real install.
	hostRootfs = labkit.Flavour{Packages: []string{"openssh-server", "iproute2", "iputils-ping", labkit.DockerPackages}}
	// lxdRootfs is an LXD image's: an init (LXD starts /sbin/init),
	// ifupdown asking LXD's bridge for an IPv4 address by DHCP (systemd-
	// networkd would wait forever for a udev that containers do not run),
	// and docker.io, for Docker inside the instance (the docker profile's
	// security.nesting).
	lxdRootfs = labkit.Flavour{Suffix: "-lxd", Packages: []string{"systemd-sysv", "iproute2", "ifupdown", "isc-dhcp-client", labkit.DockerPackages}, Hooks: []string{
		`printf 'auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n' > "$1/etc/network/interfaces"`,
		`rm -f "$1/etc/hostname"`, // mmdebstrap copies this machine's; LXD names the instance
	}}
)

// Requirements checks for root and the programs the lab runs, naming the
// Debian package that brings each.
func (Lab) Requirements(c labkit.Config) error {
	if os.Geteuid() != 0 {
		return errors.New("the lab needs root (namespaces, mounts, chroot): run as root (sudo)")
	}
	if _, err := labkit.Cgroup2Root(); err != nil {
		return err
	}
	programs := map[string]string{"mmdebstrap": "mmdebstrap", "ip": "iproute2", "nsenter": "util-linux", "arch-test": "arch-test",
		"update-binfmts": "binfmt-support", "dockerd": "docker.io", "lxd": "lxd", "dnsmasq": "dnsmasq-base",
		"nft": "nftables", "apt-cacher-ng": "apt-cacher-ng", "iptables": "iptables"}
	if missing := labkit.MissingPrograms(c, programs); len(missing) > 0 {
		return fmt.Errorf("the lab needs %s: apt-get install mmdebstrap qemu-user-static binfmt-support arch-test iproute2 docker.io lxd dnsmasq-base nftables apt-cacher-ng iptables", strings.Join(missing, ", "))
	}
	return nil
}

// Up brings the lab's hosts up, once the lab package has cleared an
// earlier lab and saved c: trees, isolation, sshds, the package proxy,
// the Docker engines, LXD, then the files a client needs.
func (l Lab) Up(ctx context.Context, c labkit.Config) error {
	start := time.Now()
	mirror, err := prepareRootfs(ctx, c)
	if err != nil {
		return err
	}
	// Isolated before a lab host exists: no packet of the lab leaves, ever.
	if err := labkit.Isolate(ctx, c); err != nil {
		return err
	}
	known, err := startHosts(ctx, c)
	if err != nil {
		return err
	}
	if err := labkit.StartProxy(ctx, c, mirror); err != nil {
		return err
	}
	if err := startEngines(ctx, c); err != nil {
		return err
	}
	if err := startLXD(ctx, c, mirror); err != nil {
		return err
	}
	for _, h := range c.Hosts() {
		if err := exposeLXD(h); err != nil {
			return fmt.Errorf("lab host %s: %w", h.Name, err)
		}
	}
	if err := labkit.WriteClientFiles(c, known, l.Inventory(c)); err != nil {
		return err
	}
	fmt.Fprintf(c.Log, "lab up in %s: %s; inventory %s\n", time.Since(start).Round(time.Second), text.Count(len(c.Hosts()), "host", "hosts"), filepath.Join(c.Dir, labkit.InventoryFile))
	return nil
}

// prepareRootfs makes every lab architecture runnable and builds (or finds
// cached) each host's rootfs. It returns the Debian mirror it used.
func prepareRootfs(ctx context.Context, c labkit.Config) (string, error) {
	if err := labkit.EnsureEmulation(ctx, c); err != nil {
		return "", err
	}
	mirror, err := c.MirrorURL()
	if err != nil {
		return "", err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, h := range c.Hosts() {
		g.Go(func() error { return labkit.BuildRootfs(gctx, *h.Lab(), h.Arch, hostRootfs, mirror) })
	}
	return mirror, g.Wait()
}

// startHosts brings up the bridge and every host's sshd, and returns the
// hosts' known_hosts lines.
func startHosts(ctx context.Context, c labkit.Config) ([]string, error) {
	signer, err := labkit.UserKey(c.Dir)
	if err != nil {
		return nil, err
	}
	if err := labkit.SetupBridge(ctx, c); err != nil {
		return nil, err
	}
	var known []string
	for _, h := range c.Hosts() {
		line, err := startHost(ctx, h, signer)
		if err != nil {
			return nil, fmt.Errorf("lab host %s: %w", h.Name, err)
		}
		known = append(known, line)
	}
	return known, nil
}

// startEngines starts every host's Docker engine, in parallel: each loads
// a rootfs-sized image.
func startEngines(ctx context.Context, c labkit.Config) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, h := range c.Hosts() {
		g.Go(func() error {
			archive, err := imageArchive(*h.Lab(), h.Arch)
			if err != nil {
				return err
			}
			if err := startDocker(gctx, h, archive); err != nil {
				return fmt.Errorf("lab host %s: %w", h.Name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// Down stops every host any lab of c's folder may have started, then LXD
// and what the hosts share.
func (Lab) Down(ctx context.Context, c labkit.Config) error {
	return errors.Join(labkit.StopHosts(ctx, c, stopHost), stopLXD(ctx, c), labkit.StopShared(ctx, c))
}

// Status reports each host: its namespace and sshd, and whether sshd, its
// Docker engine and the LXD socket in it answer.
func (Lab) Status(ctx context.Context, c labkit.Config) []labkit.HostStatus {
	var out []labkit.HostStatus
	bridgeUp := c.GatewayIsLocal()
	for _, h := range c.Hosts() {
		s := labkit.HostStatus{Host: h}
		_, err := os.Stat(filepath.Join("/run/netns", netns(h)))
		s.Namespace = err == nil
		s.SSHDPID = runningPID(h)
		// Only a host that is there is dialled: the address of one that is
		// not would be routed away, out of the machine.
		s.Answers = s.Namespace && bridgeUp && labkit.SSHBanner(ctx, h.Address, 2*time.Second) == nil
		s.Docker = answers(ctx, dockerSocket(h), "/_ping")
		s.LXD = answers(ctx, filepath.Join(hostRoot(h), "var", "lib", "lxd", "unix.socket"), "/1.0")
		out = append(out, s)
	}
	return out
}

// answers says whether an HTTP server on a unix socket answers path with 200.
func answers(ctx context.Context, socket, path string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://lab"+path, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Inventory lists every host, labelled native or emulated.
func (Lab) Inventory(c labkit.Config) labkit.Inventory {
	inv := labkit.Inventory{Header: `# Written by "everywhere lab up": the built-in local multi-arch lab.
# Each host is a network namespace running a Debian rootfs of its architecture
# and that rootfs's own OpenSSH; foreign ones run under qemu-user emulation.
`}
	for _, h := range c.Hosts() {
		kind := "native"
		if labkit.Emulated(h.Arch) {
			kind = "emulated"
		}
		inv.Hosts = append(inv.Hosts, labkit.InventoryHost{Host: h, Kind: kind})
	}
	return inv
}

// netns is h's network namespace, hostRoot the root its sshd runs in (an
// overlay of its tree), pidFile where its sshd's pid is kept.
func netns(h labkit.Host) string    { return h.Lab().Prefix + "-" + h.Name }
func hostRoot(h labkit.Host) string { return filepath.Join(h.Dir(), "root") }
func pidFile(h labkit.Host) string  { return filepath.Join(h.Dir(), "sshd.pid") }
