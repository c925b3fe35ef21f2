// Package lab runs the built-in local multi-arch lab: on one Linux machine,
// one network namespace per architecture on a bridge of the lab's own, a
// Debian rootfs of that architecture (foreign code run by qemu-user through
// binfmt_misc) and that rootfs's own OpenSSH sshd. It writes an inventory,
// known_hosts and a user key, so everywhere reaches it like any fleet.
package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"everywhere/internal/host"
	"everywhere/internal/text"
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

func (c *Config) bridge() string { return c.Prefix + "-br" }

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

func (c *Config) gateway() netip.Addr {
	a := c.Subnet.Masked().Addr().As4()
	a[3] = 1
	return netip.AddrFrom4(a)
}

func (h Host) netns() string { return h.lab.Prefix + "-" + h.Name }
func (h Host) veth() string  { return vethName(h.lab.Prefix, h.Name) }

// vethName is the machine side of a host's link: PREFIX-NAME, cut to the
// 15 bytes an interface name may have (Validate checks they stay apart).
func vethName(prefix, name string) string {
	v := prefix + "-" + name
	return v[:min(len(v), 15)]
}
func (h Host) dir() string     { return filepath.Join(h.lab.Dir, "hosts", h.Name) }
func (h Host) root() string    { return filepath.Join(h.dir(), "root") }
func (h Host) pidFile() string { return filepath.Join(h.dir(), "sshd.pid") }

// Files written by Up into Dir.
const (
	InventoryFile  = "inventory.yaml"
	KnownHostsFile = "known_hosts"
	IdentityFile   = "id_ed25519"
	configFile     = "lab.json"
)

// Up brings the lab up, reusing cached rootfs, and recovers from a crashed
// earlier lab (whatever of it is left is taken down first).
func Up(ctx context.Context, c Config) error {
	c, err := c.resolved()
	if err != nil {
		return err
	}
	check := requirements
	if c.Machines == MachinesVM {
		check = requirementsVM
	}
	if err := check(c); err != nil {
		return err
	}
	unlock, err := lock(c.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := clearEarlier(ctx, c); err != nil {
		return fmt.Errorf("clearing an earlier lab: %w", err)
	}
	if err := c.save(); err != nil {
		return err
	}
	if c.Machines == MachinesVM {
		return upVM(ctx, c)
	}
	start := time.Now()
	mirror, err := prepareRootfs(ctx, c)
	if err != nil {
		return err
	}
	// Isolated before a lab host exists: no packet of the lab leaves, ever.
	if err := isolate(ctx, c); err != nil {
		return err
	}
	known, err := startHosts(ctx, c)
	if err != nil {
		return err
	}
	if err := startProxy(ctx, c, mirror); err != nil {
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
	if err := writeClientFiles(c, known); err != nil {
		return err
	}
	fmt.Fprintf(c.Log, "lab up in %s: %s; inventory %s\n", time.Since(start).Round(time.Second), text.Count(len(c.Hosts()), "host", "hosts"), filepath.Join(c.Dir, InventoryFile))
	return nil
}

// resolved is c with defaults, its folders resolved (see ResolveDir) and
// validated.
func (c Config) resolved() (Config, error) {
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

// clearEarlier takes down whatever an earlier lab in c's folder left (after
// a crash, or with other settings), and what c itself would collide with.
func clearEarlier(ctx context.Context, c Config) error {
	if _, err := os.Stat(filepath.Join(c.Dir, configFile)); err == nil {
		previous, err := Load(c.Dir)
		if err != nil {
			return err
		}
		if err := down(ctx, previous); err != nil {
			return err
		}
	}
	return down(ctx, c)
}

// prepareRootfs makes every lab architecture runnable and builds (or finds
// cached) each host's rootfs. It returns the Debian mirror it used.
func prepareRootfs(ctx context.Context, c Config) (string, error) {
	if err := ensureEmulation(ctx, c); err != nil {
		return "", err
	}
	mirror := c.Mirror
	if mirror == "" {
		var err error
		if mirror, err = aptMirror(); err != nil {
			return "", err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, h := range c.Hosts() {
		g.Go(func() error { return buildRootfs(gctx, *h.lab, h.Arch, hostRootfs, mirror) })
	}
	return mirror, g.Wait()
}

// startHosts brings up the bridge and every host's sshd, and returns the
// hosts' known_hosts lines.
func startHosts(ctx context.Context, c Config) ([]string, error) {
	signer, err := userKey(c.Dir)
	if err != nil {
		return nil, err
	}
	if err := setupBridge(ctx, c); err != nil {
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
func startEngines(ctx context.Context, c Config) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, h := range c.Hosts() {
		g.Go(func() error {
			archive, err := imageArchive(*h.lab, h.Arch)
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

// writeClientFiles writes what a client of the lab needs: known_hosts and
// the inventory.
func writeClientFiles(c Config, known []string) error {
	if err := os.WriteFile(filepath.Join(c.Dir, KnownHostsFile), []byte(strings.Join(known, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	return writeInventory(c)
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
		if other, ok := links[h.veth()]; ok {
			return fmt.Errorf("hosts %s and %s would both have the link %s (interface names are cut to 15 characters): use a shorter prefix", other, h.Name, h.veth())
		}
		links[h.veth()] = h.Name
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

func (c Config) save() error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.Dir, configFile), append(data, '\n'), 0o644)
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
	data, err := os.ReadFile(filepath.Join(dir, configFile))
	if errors.Is(err, os.ErrNotExist) {
		return Config{Dir: dir}.WithDefaults(), nil // never brought up: defaults name what to look for
	}
	if err != nil {
		return Config{}, err
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("%s: %w", filepath.Join(dir, configFile), err)
	}
	c.Dir = dir
	return c.WithDefaults(), nil
}

// Down stops everything Up started and removes namespaces, links and mounts.
// It is idempotent and needs nothing but what it finds.
func Down(ctx context.Context, c Config) error {
	c = c.WithDefaults()
	var err error
	if c.Dir, err = ResolveDir(c.Dir); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("the lab needs root: run as root (sudo)")
	}
	unlock, err := lock(c.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	return down(ctx, c)
}

func down(ctx context.Context, c Config) error {
	all := (&Config{Dir: c.Dir, Subnet: c.Subnet, Prefix: c.Prefix, Archs: host.AllArchs(), Suites: c.suites()}).Hosts()
	errs := make([]error, len(all)+1)
	var g errgroup.Group // hosts stop in parallel: a dockerd takes seconds to stop
	for i, h := range all {
		g.Go(func() error {
			if err := stopHost(ctx, h); err != nil {
				errs[i] = fmt.Errorf("lab host %s: %w", h.Name, err)
			}
			return nil
		})
	}
	_ = g.Wait()
	errs[len(all)] = errors.Join(stopLXD(ctx, c), stopCgroup(ctx, c.proxyCgroup()), removeBridge(ctx, c), unisolate(ctx, c))
	return errors.Join(errs...)
}

// HostStatus is what Status found of one lab host.
type HostStatus struct {
	Host
	Namespace bool
	SSHDPID   int // 0: not running
	Answers   bool
	Docker    bool          // its engine answers
	LXD       bool          // the lab's LXD answers through its socket in the host
	Machine   MachineStatus // a lab of machines only
}

// Status reports each of the lab's hosts.
func Status(ctx context.Context, c Config) []HostStatus {
	c = c.WithDefaults()
	if c.Machines == MachinesVM {
		return statusVM(ctx, c)
	}
	var out []HostStatus
	bridgeUp := c.gatewayIsLocal()
	for _, h := range c.Hosts() {
		s := HostStatus{Host: h}
		_, err := os.Stat(filepath.Join("/run/netns", h.netns()))
		s.Namespace = err == nil
		s.SSHDPID = runningPID(h)
		// Only a host that is there is dialled: the address of one that is
		// not would be routed away, out of the machine.
		s.Answers = s.Namespace && bridgeUp && sshBanner(ctx, h.Address, 2*time.Second) == nil
		s.Docker = answers(ctx, h.dockerSocket(), "/_ping")
		s.LXD = answers(ctx, filepath.Join(h.root(), "var", "lib", "lxd", "unix.socket"), "/1.0")
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

// lock keeps two lab commands from working on one lab at once.
func lock(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockFile(context.Background(), filepath.Join(dir, "lock"), false)
	if err == errLocked {
		return nil, fmt.Errorf("another everywhere lab command is working on %s", dir)
	}
	return unlock, err
}

var errLocked = errors.New("locked")

// lockFile takes the exclusive lock of file; with wait it waits for it as
// long as ctx lets it, without it fails with errLocked when it is taken.
func lockFile(ctx context.Context, file string, wait bool) (func(), error) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", file, err)
		}
		if !wait {
			f.Close()
			return nil, errLocked
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", file, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// command runs a program, returning its output in the error when it fails.
func command(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Purge deletes the lab folder (after Down). The rootfs cache is kept. It
// refuses a folder that holds no lab, one with anything still mounted in
// it, and never crosses into another filesystem (see removeTree).
func Purge(c Config) error {
	c = c.WithDefaults()
	dir, err := ResolveDir(c.Dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := lock(dir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := isLabFolder(dir); err != nil {
		return err
	}
	points, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	if len(points) > 0 {
		return fmt.Errorf("%s still has mounts (%s): run lab down first", dir, strings.Join(points, ", "))
	}
	return removeTree(dir)
}

// isLabFolder checks that dir is a lab's: it holds the lab's configuration,
// or nothing but the lock a lab command takes.
func isLabFolder(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, configFile)); err == nil {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != "lock" {
			return fmt.Errorf("%s holds no lab (no %s): refusing to delete it", dir, configFile)
		}
	}
	return nil
}
