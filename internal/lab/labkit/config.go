// Package labkit holds what the lab's two kinds share: the configuration
// and its hosts, the trees (rootfs.go), the bridge, the package proxy, the
// isolation rules, the Fan-style overlay's addresses, the processes and
// cgroups the lab starts, its keys, lock and progress lines, and the
// inventory it writes. It knows neither kind: the kinds (nslab, vmlab)
// use it, and the lab package picks between them.
package labkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"everywhere/internal/host"
)

// Defaults for Config's zero fields.
const (
	DefaultDir      = "/var/lib/everywhere/lab"
	DefaultCacheDir = "/var/cache/everywhere/rootfs"
	DefaultSubnet   = "10.213.0.0/24"
	DefaultLXDNet   = "10.213.100.0/24"
	DefaultPrefix   = "ew"
	DefaultSuite    = "bookworm"
)

// Config says where and how the lab lives. Up saves it in Dir, so Down and
// Status need only Dir.
type Config struct {
	Dir       string       `json:"dir"`       // inventory, keys, per-host roots and logs
	CacheDir  string       `json:"cache_dir"` // pristine rootfs per architecture, reused between labs
	Archs     []host.Arch  `json:"archs"`
	Subnet    netip.Prefix `json:"subnet"`     // the bridge takes .1, the first suite's hosts .11 to .16, the second's .21 to .26…
	LXDSubnet netip.Prefix `json:"lxd_subnet"` // LXD's own bridge, for its instances
	Overlay   netip.Prefix `json:"overlay"`    // the Fan-style overlay of the hosts' containers (overlay.go)
	Prefix    string       `json:"prefix"`     // of the bridge, namespace and veth names
	// Suite is the suite a rootfs or image is built of: the lab's first
	// (a lab saved before Suites existed has only this), and in the view
	// of the lab a Host holds, that host's own.
	Suite string `json:"suite"`
	// Suites are the suites the lab runs side by side; with more than one,
	// hosts are named ARCH-SUITE. Empty: Suite alone.
	Suites   []string  `json:"suites,omitempty"`
	Machines string    `json:"machines"` // MachinesNS (default) or MachinesVM
	Mirror   string    `json:"mirror"`   // empty: the machine's own apt mirror
	Keyring  string    `json:"keyring"`  // the mirror's signing keys when not Debian's (mmdebstrap --keyring)
	Refresh  bool      `json:"-"`        // rebuild cached rootfs
	Log      io.Writer `json:"-"`        // progress; nil discards it
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.CacheDir == "" {
		c.CacheDir = DefaultCacheDir
	}
	if len(c.Archs) == 0 {
		c.Archs = host.AllArchs()
	}
	if !c.Subnet.IsValid() {
		c.Subnet = netip.MustParsePrefix(DefaultSubnet)
	}
	if !c.LXDSubnet.IsValid() {
		c.LXDSubnet = netip.MustParsePrefix(DefaultLXDNet)
	}
	if !c.Overlay.IsValid() {
		c.Overlay = netip.MustParsePrefix(DefaultOverlay)
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if len(c.Suites) == 0 {
		if c.Suite == "" {
			c.Suite = DefaultSuite
		}
		c.Suites = []string{c.Suite}
	}
	if c.Suite == "" {
		c.Suite = c.Suites[0]
	}
	if c.Machines == "" {
		c.Machines = MachinesNS
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// Host is one lab machine.
type Host struct {
	Name    string // the Debian architecture name (arm64), and its suite when the lab runs several (arm64-trixie)
	Arch    host.Arch
	Suite   string
	Address netip.Addr
	lab     *Config // the lab as this host sees it: Suite is the host's
}

// Lab is the lab as h sees it: its Suite is h's.
func (h Host) Lab() *Config { return h.lab }

// The kinds of lab (Config.Machines).
const (
	MachinesNS = "ns" // network namespaces, qemu-user, the machine's kernel (package nslab)
	MachinesVM = "vm" // full-system machines, each its own kernel, Docker and LXD (package vmlab)
)

// Bridge is the name of the lab's bridge.
func (c *Config) Bridge() string { return c.Prefix + "-br" }

// MaxSuites is how many suites a lab runs side by side: the n-th suite's
// hosts take .n1 to .n6 of the subnet.
const MaxSuites = 9

// suites are the lab's suites, for a Config without defaults too.
func (c *Config) suites() []string {
	switch {
	case len(c.Suites) > 0:
		return c.Suites
	case c.Suite != "":
		return []string{c.Suite}
	}
	return []string{DefaultSuite}
}

// Hosts lists the lab's machines, suite by suite. Each architecture of
// each suite (by its place in the list) has a fixed address, so
// known_hosts stays valid whichever subset is up. With one suite hosts
// are named by their architecture, with several ARCH-SUITE.
func (c *Config) Hosts() []Host {
	var out []Host
	base := c.Subnet.Masked().Addr().As4()
	suites := c.suites()
	for s, suite := range suites {
		view := *c
		view.Suite = suite
		for i, a := range host.AllArchs() {
			if !slices.Contains(c.Archs, a) {
				continue
			}
			addr := base
			addr[3] = byte(10*(s+1) + 1 + i)
			name := a.Debian()
			if len(suites) > 1 {
				name += "-" + suite
			}
			out = append(out, Host{Name: name, Arch: a, Suite: suite, Address: netip.AddrFrom4(addr), lab: &view})
		}
	}
	return out
}

// Gateway is the bridge's address: .1 of the subnet.
func (c *Config) Gateway() netip.Addr {
	a := c.Subnet.Masked().Addr().As4()
	a[3] = 1
	return netip.AddrFrom4(a)
}

// Veth is the machine side of h's link (a lab of namespaces'), unique
// among the lab's hosts (see Validate).
func (h Host) Veth() string { return vethName(h.lab.Prefix, h.Name) }

// vethName is the machine side of a host's link: PREFIX-NAME, cut to the
// 15 bytes an interface name may have (Validate checks they stay apart).
func vethName(prefix, name string) string {
	v := prefix + "-" + name
	return v[:min(len(v), 15)]
}

// Dir is h's folder in the lab's.
func (h Host) Dir() string { return filepath.Join(h.lab.Dir, "hosts", h.Name) }

// Files written by Up into Dir.
const (
	InventoryFile  = "inventory.yaml"
	KnownHostsFile = "known_hosts"
	IdentityFile   = "id_ed25519"
	ConfigFile     = "lab.json"
)

// Resolved is c with defaults, its folders resolved (see ResolveDir) and
// validated.
func (c Config) Resolved() (Config, error) {
	c = c.WithDefaults()
	var err error
	if c.Dir, err = ResolveDir(c.Dir); err != nil {
		return c, err
	}
	if c.CacheDir, err = ResolveDir(c.CacheDir); err != nil {
		return c, fmt.Errorf("rootfs cache: %w", err)
	}
	return c, c.Validate()
}

// Validate checks the subnets and the name prefix.
func (c Config) Validate() error {
	for _, p := range []netip.Prefix{c.Subnet, c.LXDSubnet} {
		if !p.Addr().Is4() || !p.Addr().IsPrivate() || p.Bits() > 24 {
			return fmt.Errorf("subnet %s: use a private IPv4 range (10/8, 172.16/12, 192.168/16), /24 or larger, that nothing else on this machine uses", p)
		}
	}
	if c.Subnet.Overlaps(c.LXDSubnet) {
		return fmt.Errorf("the lab subnet %s and LXD's %s overlap", c.Subnet, c.LXDSubnet)
	}
	// The isolation table drops the machine's own packets to the overlay:
	// an overlay of public addresses would cut the machine off from them.
	reserved := netip.MustParsePrefix("240.0.0.0/4") // the Fan's own choice, 250.0.0.0/8, is in it
	if !c.Overlay.Addr().Is4() || !(reserved.Contains(c.Overlay.Addr()) && c.Overlay.Bits() >= reserved.Bits() || c.Overlay.Addr().IsPrivate()) {
		return fmt.Errorf("overlay %s: use a range in 240.0.0.0/4 (the Fan's 250.0.0.0/8 is) or a private one that nothing else on this machine uses", c.Overlay)
	}
	for _, p := range []netip.Prefix{c.Subnet, c.LXDSubnet} {
		if c.Overlay.Overlaps(p) {
			return fmt.Errorf("the overlay %s overlaps the subnet %s", c.Overlay, p)
		}
	}
	if err := c.validateSuites(); err != nil {
		return err
	}
	links := map[string]string{}
	for _, h := range c.Hosts() {
		if _, err := FanSubnet(c.Overlay, c.Subnet, h.Address); err != nil {
			return err
		}
		if other, ok := links[h.Veth()]; ok {
			return fmt.Errorf("hosts %s and %s would both have the link %s (interface names are cut to 15 characters): use a shorter prefix", other, h.Name, h.Veth())
		}
		links[h.Veth()] = h.Name
	}
	if c.Machines != "" && c.Machines != MachinesNS && c.Machines != MachinesVM {
		return fmt.Errorf("machines %q: %s (namespaces) or %s (full-system virtual machines)", c.Machines, MachinesNS, MachinesVM)
	}
	if len(c.Prefix) > 5 {
		return fmt.Errorf("prefix %q: at most 5 characters (interface names are limited to 15)", c.Prefix)
	}
	return nil
}

// validateSuites checks the suites' names: each one path element of the
// cache, one word of a host name and of an image tag.
func (c Config) validateSuites() error {
	suites := c.suites()
	if len(suites) > MaxSuites {
		return fmt.Errorf("%d suites: at most %d side by side", len(suites), MaxSuites)
	}
	for i, s := range suites {
		if !suiteName.MatchString(s) {
			return fmt.Errorf("suite %q: a suite is named by lower-case letters, digits and . _ - (bookworm, trixie, sid)", s)
		}
		if slices.Contains(suites[:i], s) {
			return fmt.Errorf("suite %s given twice", s)
		}
	}
	return nil
}

// suiteName is a suite's name as Debian and Ubuntu spell them, which is
// also a valid Docker tag and LXD alias part.
var suiteName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// Save writes c into its folder, for Load.
func (c Config) Save() error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.Dir, ConfigFile), append(data, '\n'), 0o644)
}

// Load reads the configuration a lab in dir was brought up with. dir is
// resolved first (see ResolveDir).
func Load(dir string) (Config, error) {
	if dir == "" {
		dir = DefaultDir
	}
	dir, err := ResolveDir(dir)
	if err != nil {
		return Config{}, err
	}
	data, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return Config{Dir: dir}.WithDefaults(), nil // never brought up: defaults name what to look for
	}
	if err != nil {
		return Config{}, err
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	c.Dir = dir
	return c.WithDefaults(), nil
}

// allHosts are the hosts that any lab in c's folder, of c's prefix, subnet
// and suites, may have left: every architecture's, whichever were up.
func (c Config) allHosts() []Host {
	return (&Config{Dir: c.Dir, Subnet: c.Subnet, Prefix: c.Prefix, Archs: host.AllArchs(), Suites: c.suites()}).Hosts()
}

// LXDDir is the folder of a namespace lab's LXD (the isolation rules name
// its bridge too).
func (c *Config) LXDDir() string { return filepath.Join(c.Dir, "lxd-daemon") }

// LXDPool is its storage pool.
func (c *Config) LXDPool() string { return filepath.Join(c.Dir, "storage-pool") } // outside LXDDir's string: LXD refuses a pool under it

func (c *Config) lxdSocket() string { return filepath.Join(c.LXDDir(), "unix.socket") }

// LXDBridge is its bridge.
func (c *Config) LXDBridge() string { return c.Prefix + "-lxdbr" }

// LXDSocket is where the lab's LXD listens.
func (c Config) LXDSocket() string {
	c = c.WithDefaults()
	return c.lxdSocket()
}
