package nslab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/lab/labkit"
	"everywhere/internal/lxd"
)

// lxdPreseed initialises the lab's LXD: a dir pool, a bridge of its own on
// a private subnet (auto-configuration finds none free here), no IPv6, no
// NAT, a DNS that answers only the lab's own names (no-resolv: nothing is
// forwarded to the machine's resolvers), and no image updates (no image
// server is ever contacted).
func lxdPreseed(c labkit.Config) string {
	gateway := c.LXDSubnet.Masked().Addr().As4()
	gateway[3] = 1
	return fmt.Sprintf(`config:
  images.auto_update_interval: "0"
networks:
- name: %[1]s
  type: bridge
  config:
    ipv4.address: %[2]d.%[3]d.%[4]d.%[5]d/%[6]d
    ipv4.nat: "false"
    ipv6.address: none
    raw.dnsmasq: no-resolv
storage_pools:
- name: default
  driver: dir
  config:
    source: %[7]s
profiles:
- name: default
  devices:
    root: {path: /, pool: default, type: disk}
    eth0: {name: eth0, network: %[1]s, type: nic}
`, c.LXDBridge(), gateway[0], gateway[1], gateway[2], gateway[3], c.LXDSubnet.Bits(), c.LXDPool())
}

// StartLXD runs only the lab's LXD daemon (as Up does), for tests of the
// lxd driver against a real server. Its socket is LXDSocket.
func StartLXD(ctx context.Context, c labkit.Config) error {
	c, err := c.Resolved()
	if err != nil {
		return err
	}
	if err := (Lab{}).Requirements(c); err != nil {
		return err
	}
	mirror, err := c.MirrorURL()
	if err != nil {
		return err
	}
	return startLXD(ctx, c, mirror)
}

// StopLXD stops what StartLXD started.
func StopLXD(ctx context.Context, c labkit.Config) error {
	c = c.WithDefaults()
	var err error
	if c.Dir, err = labkit.ResolveDir(c.Dir); err != nil {
		return err
	}
	return stopLXD(ctx, c)
}

// lxdClient reaches the lab's LXD from this machine, not through a host.
func lxdClient(c labkit.Config) *lxd.Client {
	return lxd.NewUnix(func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}, c.LXDSocket())
}

// startLXD runs the lab's LXD daemon (Debian's lxd, without systemd),
// initialises it once, creates the seed's docker profile and imports an
// image for each lab architecture it can run.
func startLXD(ctx context.Context, c labkit.Config, mirror string) error {
	start := time.Now()
	for _, d := range []string{c.LXDDir(), c.LXDPool()} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return err
		}
	}
	if err := labkit.ParentsSearchable(ctx, c.LXDPool()); err != nil {
		return fmt.Errorf("LXD's containers cannot reach %s: %w", c.LXDPool(), err)
	}
	d, err := labkit.Spawn(c.LXDCgroup(), filepath.Join(c.Dir, "lxd.log"), "", []string{"LXD_DIR=" + c.LXDDir()},
		"lxd", "--group", "root", "--logfile", filepath.Join(c.LXDDir(), "lxd.log"))
	if err != nil {
		return err
	}
	client := lxdClient(c)
	defer client.Close()
	var server *lxd.Server
	if err := d.Ready(ctx, func() (err error) { server, err = client.Server(ctx); return err }); err != nil {
		return err
	}
	if err := initLXD(ctx, c, client); err != nil {
		return err
	}
	if err := ensureLXDImages(ctx, c, client, server.Environment.Architectures, mirror); err != nil {
		return err
	}
	fmt.Fprintf(c.Log, "lxd %s up (architectures %s) in %s\n", server.Environment.ServerVersion,
		strings.Join(server.Environment.Architectures, ", "), time.Since(start).Round(100*time.Millisecond))
	return nil
}

// initLXD initialises a fresh LXD once (the preseed, then the seed's
// docker profile); an LXD that has the profile is left as it is.
func initLXD(ctx context.Context, c labkit.Config, client *lxd.Client) error {
	if ok, err := client.ProfileExists(ctx, "docker"); err != nil {
		return err
	} else if !ok {
		init := exec.CommandContext(ctx, "lxd", "init", "--preseed")
		init.Env = append(os.Environ(), "LXD_DIR="+c.LXDDir())
		init.Stdin = strings.NewReader(lxdPreseed(c))
		if out, err := init.CombinedOutput(); err != nil {
			return fmt.Errorf("lxd init --preseed: %w: %s", err, out)
		}
		if err := client.CreateProfile(ctx, "docker", "Docker inside instances (the seed's -p docker)", map[string]string{"security.nesting": "true"}); err != nil {
			return fmt.Errorf("creating the docker profile: %w", err)
		}
	}
	return nil
}

// ensureLXDImages imports an image for each lab host's architecture and
// suite that LXD runs (runs: its kernel names), replacing one of an older
// recipe.
func ensureLXDImages(ctx context.Context, c labkit.Config, client *lxd.Client, runs []string, mirror string) error {
	for _, h := range c.Hosts() {
		c, a := *h.Lab(), h.Arch // the host's suite's
		if !slices.Contains(runs, a.Kernel()) {
			continue
		}
		recipe := lxdImageRecipe(c, a)
		if fingerprint, err := client.ImageAlias(ctx, labkit.SuiteLXDImage(c.Suite, a)); err == nil {
			img, err := client.Image(ctx, fingerprint)
			if err != nil {
				return err
			}
			if img.Properties["recipe"] == recipe {
				continue
			}
			if err := client.DeleteImage(ctx, fingerprint); err != nil {
				return fmt.Errorf("replacing the %s LXD image: %w", a, err)
			}
		} else if !lxd.IsNotFound(err) {
			return err
		}
		if err := labkit.BuildRootfs(ctx, c, a, lxdRootfs, mirror); err != nil {
			return err
		}
		if err := importLXDImage(ctx, c, client, a); err != nil {
			return err
		}
	}
	return nil
}

// lxdImageRecipe identifies what a's LXD image is made of: its rootfs's
// recipe and the lab's apt configuration.
func lxdImageRecipe(c labkit.Config, a host.Arch) string {
	return labkit.RecipeID(c.Recipe(a, lxdRootfs) + string(c.AptProxyConf()))
}

// importLXDImage streams a unified image (metadata.yaml and rootfs/) of a's
// LXD rootfs into the server.
func importLXDImage(ctx context.Context, c labkit.Config, client *lxd.Client, a host.Arch) error {
	start := time.Now()
	r, w := io.Pipe()
	go func() {
		err := labkit.WriteLXDImage(w, c, a, c.Rootfs(a, lxdRootfs), lxdImageRecipe(c, a), nil)
		w.CloseWithError(err)
	}()
	alias := labkit.SuiteLXDImage(c.Suite, a)
	if _, err := client.ImportImage(ctx, r, alias); err != nil {
		r.CloseWithError(err)
		return fmt.Errorf("importing the %s LXD image: %w", a, err)
	}
	fmt.Fprintf(c.Log, "[%s] LXD image %s imported in %s\n", a.Debian(), alias, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// exposeLXD makes the lab's LXD socket appear in h at Debian's path, where
// the lxd driver looks for it through h's SSH connection.
func exposeLXD(h labkit.Host) error {
	target := filepath.Join(hostRoot(h), "var", "lib", "lxd", "unix.socket")
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		return err
	}
	if err := syscall.Mount(h.Lab().LXDSocket(), target, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("exposing the LXD socket: %w", err)
	}
	return nil
}

// stopLXD shuts the lab's LXD down (stopping its instances), then ends
// whatever of it is left, unmounts and removes its bridge.
func stopLXD(ctx context.Context, c labkit.Config) error {
	if _, err := os.Stat(c.LXDSocket()); err == nil {
		shutdown := exec.CommandContext(ctx, "lxd", "shutdown", "--timeout", "30")
		shutdown.Env = append(os.Environ(), "LXD_DIR="+c.LXDDir())
		_ = shutdown.Run()
	}
	var errs []error
	if err := labkit.StopCgroup(ctx, c.LXDCgroup()); err != nil {
		errs = append(errs, err)
	}
	if err := stopInstances(ctx, c); err != nil {
		errs = append(errs, err)
	}
	for _, dir := range []string{c.LXDDir(), c.LXDPool()} {
		if err := labkit.UnmountAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := os.Stat(filepath.Join("/sys/class/net", c.LXDBridge())); err == nil {
		if err := labkit.Command(ctx, "ip", "link", "del", c.LXDBridge()); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeFirewallRules(ctx, c.LXDBridge()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stopInstances ends what is left of the lab's LXD instances when LXD
// could not stop them. LXC gives instances cgroups of their own outside
// the lab's, so they are known by where they run: a process whose root
// directory is an instance's rootfs in the lab's storage pool.
func stopInstances(ctx context.Context, c labkit.Config) error {
	return labkit.StopAll(ctx, "the lab's LXD instances", func() []int { return rootedIn(c.LXDPool()) })
}

// rootedIn lists the processes whose root directory is in dir.
func rootedIn(dir string) []int {
	return labkit.ProcessesWhere(func(pid int) bool {
		root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
		return err == nil && labkit.Within(root, dir)
	})
}

// removeFirewallRules deletes the firewall rules LXD made for its bridge,
// which it leaves behind when it shuts down (and adds again on start):
// its nftables chains or, where it chose xtables, its iptables rules.
func removeFirewallRules(ctx context.Context, bridge string) error {
	if err := removeNftChains(ctx, bridge); err != nil {
		return err
	}
	marker := `"generated for LXD network ` + bridge + `"`
	for _, table := range []string{"filter", "nat", "mangle"} {
		saved, err := exec.CommandContext(ctx, "iptables-save", "-t", table).Output()
		if err != nil {
			return nil // no iptables here: LXD added no rules either
		}
		for _, line := range strings.Split(string(saved), "\n") {
			rule, ok := strings.CutPrefix(line, "-A ")
			if !ok || !strings.Contains(rule, marker) {
				continue
			}
			if err := labkit.Command(ctx, "iptables", append([]string{"-t", table, "-D"}, ruleWords(rule)...)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeNftChains deletes LXD's nftables chains for bridge (fwd.BRIDGE,
// in.BRIDGE, ...) from its table inet lxd. The table stays: the machine's
// own LXD, if it has one, keeps its chains in the same table.
func removeNftChains(ctx context.Context, bridge string) error {
	listed, err := exec.CommandContext(ctx, "nft", "list", "table", "inet", "lxd").Output()
	if err != nil {
		return nil // no such table (or no nft): LXD made no chains
	}
	for _, line := range strings.Split(string(listed), "\n") {
		name, ok := strings.CutPrefix(strings.TrimSpace(line), "chain ")
		name = strings.TrimSuffix(name, " {")
		if !ok || !strings.HasSuffix(name, "."+bridge) {
			continue
		}
		if err := labkit.Command(ctx, "nft", "delete", "chain", "inet", "lxd", name); err != nil {
			return err
		}
	}
	return nil
}

// ruleWords splits a rule as iptables-save prints it: words, with "..."
// around those that hold spaces.
func ruleWords(rule string) []string {
	var words []string
	var word strings.Builder
	quoted, inWord := false, false
	for _, r := range rule {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, word.String())
				word.Reset()
			}
			inWord = false
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}
