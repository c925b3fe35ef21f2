package vmlab

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"everywhere/internal/host"
	"everywhere/internal/lab/labkit"
)

// A machine's seed disk: a small ext4 (label ewseed) that the tree's
// everywhere-seed unit mounts at /run/everywhere-seed before the network
// and sshd start, running its boot.sh. It holds what differs between labs
// and machines (host key, user key, address, name, the proxy, the overlay)
// and the script that sets Docker and LXD up once (setup.sh, over SSH), so the
// cached tree and disk image stay the same for every lab.

// seedMount is where the guest mounts its seed disk.
const seedMount = "/run/everywhere-seed"

// overlayMTU leaves room for the IPIP header (20 bytes) on the lab
// bridge's 1500.
const overlayMTU = 1480

// fanDevice is each machine's IPIP device of the overlay: collect-metadata
// mode, so one device serves every peer, each reached by a route that
// names its underlay address (ip route … encap ip dst PEER), as the Fan
// does with its own kernel patch.
const fanDevice = "fan0"

// dockerSubnet and lxdSubnet split h's overlay subnet between its Docker
// bridge (first /24) and its LXD bridge (second /24).
func (h machine) dockerSubnet() netip.Prefix { return h.overlayPart(0) }
func (h machine) lxdSubnet() netip.Prefix    { return h.overlayPart(1) }

func (h machine) overlayPart(i byte) netip.Prefix {
	a := h.OverlaySubnet().Addr().As4()
	if h.OverlaySubnet().Bits() <= 16 {
		a[2] = i
	} else {
		a[3] = i * 128 // a /24 overlay subnet or smaller: two halves
		return netip.PrefixFrom(netip.AddrFrom4(a), h.OverlaySubnet().Bits()+1)
	}
	return netip.PrefixFrom(netip.AddrFrom4(a), 24)
}

func firstHost(p netip.Prefix) string {
	return netip.PrefixFrom(p.Addr().Next(), p.Bits()).String()
}

// bootScript is the seed's boot.sh: it installs the seed's files, names
// the machine and lays the overlay's tunnel and routes.
func (h machine) bootScript() string {
	var b strings.Builder
	fmt.Fprintf(&b, `set -e
cp -a %[1]s/files/. /
hostname %[2]s
# Decapsulated packets arrive on %[3]s from peers its routes do not name.
sysctl -q -w net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
ip link add %[3]s type ipip external
ip link set %[3]s mtu %[4]d up
`, seedMount, h.Name, fanDevice, overlayMTU)
	// Every architecture's peer gets its route, up or not: a machine's seed,
	// and so its saved snapshot, stay valid whichever subset is up.
	all := *h.Lab()
	all.Archs = host.AllArchs()
	for _, other := range all.Hosts() {
		if other.Name != h.Name {
			fmt.Fprintf(&b, "ip route add %s dev %s encap ip dst %s mtu %d\n", other.OverlaySubnet(), fanDevice, other.Address, overlayMTU)
		}
	}
	return b.String()
}

// setupScript is the seed's setup.sh, run over SSH once the machine is up
// for the first time: it waits for Docker (whose store on the disk holds
// the lab's image already) and LXD, imports the LXD image,
// initialises LXD, and opens the overlay through Docker's firewall.
func (h machine) setupScript() string {
	own, overlay := h.OverlaySubnet().Masked().String(), h.Lab().Overlay.Masked().String()
	return fmt.Sprintf(`set -e
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
# Waited for by the clock, not by tries (a try takes seconds under TCG),
# and not at all once systemd has given dockerd up.
end=$(($(date +%%s) + 900))
until docker version >/dev/null 2>&1; do
  if systemctl -q is-failed docker || [ "$(date +%%s)" -ge $end ]; then
    echo "dockerd is not up (waited until $(date -u +%%T), systemd says it $(systemctl is-active docker))" >&2
    systemctl --no-pager status docker >&2; exit 1
  fi
  sleep 2
done
docker image inspect %[5]s >/dev/null
lxd waitready --timeout 600
lxd init --preseed < %[1]s/preseed.yaml
lxc profile create docker
lxc profile set docker security.nesting true
lxc image import /dev/disk/by-id/virtio-%[6]s --alias %[2]s
# The overlay between machines is routed, not masqueraded: Docker's
# FORWARD policy (DROP) and its MASQUERADE would stop or rewrite it.
iptables -w -I DOCKER-USER -s %[3]s -d %[3]s -j ACCEPT
iptables -w -I DOCKER-USER -i lxdbr0 -j ACCEPT
iptables -w -I DOCKER-USER -o lxdbr0 -j ACCEPT
iptables -w -t nat -I POSTROUTING -s %[4]s -d %[3]s -j RETURN
iptables -w -t nat -A POSTROUTING -s %[4]s ! -d %[3]s -j MASQUERADE
sync
`, seedMount, labkit.SuiteLXDImage(h.Suite, h.Arch), overlay, own, labkit.DockerImage(h.Suite), lxdImageSerial)
}

// lxdPreseedVM initialises a machine's LXD: a dir pool, lxdbr0 on the
// machine's LXD part of the overlay (named: no subnet probing, which on a
// network that reaches out would send probes off the machine), no IPv6,
// NAT done by the machine's own rules (setup.sh: not on the overlay), no
// image updates.
func (h machine) lxdPreseedVM() string {
	return fmt.Sprintf(`config:
  images.auto_update_interval: "0"
networks:
- name: lxdbr0
  type: bridge
  config:
    ipv4.address: %s
    ipv4.nat: "false"
    ipv6.address: none
    bridge.mtu: "%d"
    raw.dnsmasq: no-resolv
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    root: {path: /, pool: default, type: disk}
    eth0: {name: eth0, network: lxdbr0, type: nic}
`, firstHost(h.lxdSubnet()), overlayMTU)
}

// seedFile is one file of a machine's seed.
type seedFile struct {
	data []byte
	mode os.FileMode
}

// seedOf is what h's seed holds, with its host key (made once, kept
// across labs: known_hosts stays valid), and an identifier of it.
func seedOf(h machine, user ssh.Signer) (files map[string]seedFile, known, id string, err error) {
	hostKeyFile := filepath.Join(h.Dir(), "ssh_host_ed25519_key")
	hostKey, err := labkit.LoadOrCreateKey(hostKeyFile)
	if err != nil {
		return nil, "", "", err
	}
	hostKeyPEM, err := os.ReadFile(hostKeyFile)
	if err != nil {
		return nil, "", "", err
	}
	gateway := h.Lab().Gateway()
	daemon := fmt.Sprintf(`{"bip": %q, "mtu": %d}`+"\n", firstHost(h.dockerSubnet()), overlayMTU)
	files = map[string]seedFile{
		"boot.sh":            {[]byte(h.bootScript()), 0o644},
		"setup.sh":           {[]byte(h.setupScript()), 0o644},
		"preseed.yaml":       {[]byte(h.lxdPreseedVM()), 0o644},
		"files/etc/hostname": {[]byte(h.Name + "\n"), 0o644},
		"files/etc/ssh/everywhere_host_ed25519_key":       {hostKeyPEM, 0o600},
		"files/etc/ssh/everywhere_authorized_keys":        {ssh.MarshalAuthorizedKey(user.PublicKey()), 0o644},
		"files/etc/systemd/network/10-everywhere.network": {[]byte(fmt.Sprintf("[Match]\nName=eth0\n\n[Network]\nAddress=%s/%d\nGateway=%s\n", h.Address, h.Lab().Subnet.Bits(), gateway)), 0o644},
		"files/" + labkit.AptProxyConfFile:                {h.Lab().AptProxyConf(), 0o644},
		"files/etc/docker/daemon.json":                    {[]byte(daemon), 0o644},
	}
	var recipe strings.Builder
	for _, name := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(&recipe, "%s %o\n%s\n", name, files[name].mode, files[name].data)
	}
	return files, knownhosts.Line([]string{h.Address.String()}, hostKey.PublicKey()), labkit.RecipeID(recipe.String()), nil
}

// writeSeed lays out h's seed folder and makes its disk, unless the disk
// there has the same content. It returns the host's known_hosts line and
// an identifier of the seed's content.
func writeSeed(ctx context.Context, h machine, user ssh.Signer) (known, id string, err error) {
	dir := filepath.Join(h.Dir(), "seed")
	files, known, id, err := seedOf(h, user)
	if err != nil {
		return "", "", err
	}
	disk, idFile := filepath.Join(h.Dir(), "seed.ext4"), filepath.Join(h.Dir(), "seed.id")
	if have, err := os.ReadFile(idFile); err == nil && string(have) == id {
		if _, err := os.Stat(disk); err == nil {
			return known, id, nil
		}
	}
	if err := labkit.RemoveTree(dir); err != nil {
		return "", "", err
	}
	for name, f := range files {
		if err := writeFileAll(filepath.Join(dir, name), f.data, f.mode); err != nil {
			return "", "", err
		}
	}
	// The image is linked, not copied: mke2fs reads it once.
	size, err := treeSize(dir)
	if err != nil {
		return "", "", err
	}
	_ = os.Remove(disk)
	if err := labkit.Command(ctx, "mke2fs", "-q", "-F", "-t", "ext4", "-L", seedLabel, "-d", dir, disk, fmt.Sprintf("%dk", size/1024*11/10+32*1024)); err != nil {
		return "", "", err
	}
	return known, id, os.WriteFile(idFile, []byte(id), 0o644)
}

func treeSize(dir string) (int64, error) {
	var total int64
	err := filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil {
			total += info.Size() + 4096
		}
		return err
	})
	return total, err
}
