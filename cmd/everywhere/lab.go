package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"everywhere/internal/host"
	"everywhere/internal/lab"
)

func newLabCommand(stdout, stderr io.Writer) *cobra.Command {
	c := &cobra.Command{
		Use:   "lab up|down|status",
		Short: "The built-in local multi-arch lab: six architectures on this machine",
		Example: `  everywhere lab up && everywhere run -i /var/lib/everywhere/lab/inventory.yaml
  everywhere lab status
  everywhere lab down`,
		Long: `The built-in lab gives one Linux machine (root) a fleet of six architectures: per
architecture a network namespace on a bridge of the lab's own, a Debian rootfs of that
architecture built by mmdebstrap (cached), foreign code run by qemu-user-static through
binfmt_misc, and that rootfs's own OpenSSH sshd. With --machines vm each host is a
full-system QEMU machine instead, booting its own Debian kernel with its own Docker and
LXD; the first up builds and boots them (long under emulation), later ups restore them
from a snapshot in seconds. lab up writes inventory.yaml, known_hosts and a user key
into the lab folder:

  everywhere lab up
  everywhere run -i /var/lib/everywhere/lab/inventory.yaml
  everywhere lab down

The lab folder (--dir) is made absolute with its symlinks resolved; it may not hold
whitespace, ',' or ':'. lab down stops what the lab started (the members of its own
cgroups) and nothing else.

Needs the Debian packages mmdebstrap qemu-user-static binfmt-support arch-test iproute2.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	var dir string
	c.PersistentFlags().StringVar(&dir, "dir", lab.DefaultDir, "the lab's folder: inventory, keys, per-host roots and logs")
	c.AddCommand(newLabUpCommand(&dir, stdout, stderr), newLabDownCommand(&dir), newLabStatusCommand(&dir, stdout))
	return c
}

// labUpOptions are lab up's flags, as given.
type labUpOptions struct {
	dir, archs, subnet, lxdSubnet, overlay, prefix, cacheDir, mirror, keyring, suite, machines string
	refresh                                                                                    bool
}

func newLabUpCommand(dir *string, stdout, stderr io.Writer) *cobra.Command {
	var opts labUpOptions
	up := &cobra.Command{
		Use:   "up [--arch LIST] [--subnet CIDR]",
		Short: "Build (or reuse) the rootfs and start every lab host",
		Example: `  everywhere lab up
  everywhere lab up --arch arm64,s390x
  everywhere lab up --suite bookworm,trixie --arch amd64,arm64`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.dir = *dir
			return runLabUp(cmd.Context(), opts, stdout, stderr)
		},
	}
	up.Flags().StringVar(&opts.archs, "arch", "", "architectures, comma-separated (default: armhf,arm64,i686,amd64,ppc64el,s390x)")
	up.Flags().StringVar(&opts.subnet, "subnet", lab.DefaultSubnet, "private IPv4 range of the lab bridge; hosts take .11 to .16 (a second suite's .21 to .26, and so on)")
	up.Flags().StringVar(&opts.lxdSubnet, "lxd-subnet", lab.DefaultLXDNet, "private IPv4 range of LXD's bridge, for its instances")
	up.Flags().StringVar(&opts.overlay, "overlay", lab.DefaultOverlay, "the Fan-style overlay: each host's containers get the subnet its address maps to (10.213.0.12 → 250.12.0.0/16), routed between hosts without NAT")
	up.Flags().StringVar(&opts.prefix, "prefix", lab.DefaultPrefix, "of the lab's bridge, namespace, link, cgroup and firewall table names (at most 5 characters): a second lab beside the first needs its own, with its own --dir and ranges")
	up.Flags().StringVar(&opts.cacheDir, "cache", lab.DefaultCacheDir, "where built rootfs are kept between labs")
	up.Flags().StringVar(&opts.mirror, "mirror", "", "Debian-family mirror (default: the one this machine's apt uses), e.g. an Ubuntu ports mirror with --suite noble --keyring /usr/share/keyrings/ubuntu-archive-keyring.gpg")
	up.Flags().StringVar(&opts.keyring, "keyring", "", "the keyring that signs --mirror's archive, when not Debian's (mmdebstrap --keyring)")
	up.Flags().StringVar(&opts.suite, "suite", lab.DefaultSuite, "the distribution suite the hosts run (bookworm, trixie, forky, sid: any the mirror serves), or several side by side, comma-separated (bookworm,trixie: hosts named ARCH-SUITE, labelled with their suite); each suite's trees and images are cached apart")
	up.Flags().StringVar(&opts.machines, "machines", lab.MachinesNS, "the kind of lab: ns (network namespaces sharing this machine's kernel, foreign code under qemu-user) or vm (full-system virtual machines, each with its own kernel, Docker and LXD; a cold start takes long, later ones restore in seconds)")
	up.Flags().BoolVar(&opts.refresh, "refresh", false, "rebuild cached rootfs")
	return up
}

func runLabUp(ctx context.Context, opts labUpOptions, stdout, stderr io.Writer) error {
	cfg, err := opts.config()
	if err != nil {
		return err
	}
	cfg.Log = stderr
	if err := lab.Up(ctx, cfg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "everywhere run -i %s\n", filepath.Join(cfg.Dir, lab.InventoryFile))
	return nil
}

// config is the lab configuration the options ask for; what is wrong in
// them is a usage error.
func (opts labUpOptions) config() (lab.Config, error) {
	dir, err := labDir(opts.dir)
	if err != nil {
		return lab.Config{}, err
	}
	cacheDir, err := lab.ResolveDir(opts.cacheDir)
	if err != nil {
		return lab.Config{}, usagef("--cache: %v", err)
	}
	cfg := lab.Config{Dir: dir, CacheDir: cacheDir, Mirror: opts.mirror, Keyring: opts.keyring, Prefix: opts.prefix, Refresh: opts.refresh, Machines: opts.machines}
	for _, suite := range strings.Split(opts.suite, ",") {
		cfg.Suites = append(cfg.Suites, strings.TrimSpace(suite))
	}
	if opts.keyring != "" {
		if _, err := os.Stat(opts.keyring); err != nil {
			return lab.Config{}, usagef("--keyring: %v", err)
		}
	}
	for _, name := range strings.Split(opts.archs, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		a, err := host.ParseArch(name)
		if err != nil {
			return lab.Config{}, usagef("--arch: %v", err)
		}
		cfg.Archs = append(cfg.Archs, a)
	}
	if cfg.Subnet, err = netip.ParsePrefix(opts.subnet); err != nil {
		return lab.Config{}, usagef("--subnet: %v", err)
	}
	if cfg.LXDSubnet, err = netip.ParsePrefix(opts.lxdSubnet); err != nil {
		return lab.Config{}, usagef("--lxd-subnet: %v", err)
	}
	if cfg.Overlay, err = netip.ParsePrefix(opts.overlay); err != nil {
		return lab.Config{}, usagef("--overlay: %v", err)
	}
	if err := cfg.WithDefaults().Validate(); err != nil {
		return lab.Config{}, usageError{err}
	}
	return cfg, nil
}

// labDir is the lab folder --dir names, resolved (see lab.ResolveDir).
func labDir(dir string) (string, error) {
	resolved, err := lab.ResolveDir(dir)
	if err != nil {
		return "", usagef("--dir: %v", err)
	}
	return resolved, nil
}

// loadLab reads the configuration of the lab in the folder --dir names.
func loadLab(dir string) (lab.Config, error) {
	resolved, err := labDir(dir)
	if err != nil {
		return lab.Config{}, err
	}
	return lab.Load(resolved)
}

// labDownOptions are lab down's flags.
type labDownOptions struct {
	dir   string
	purge bool
}

func newLabDownCommand(dir *string) *cobra.Command {
	var opts labDownOptions
	down := &cobra.Command{
		Use:   "down",
		Short: "Stop what the lab started and remove its namespaces, links and mounts",
		Example: `  everywhere lab down
  everywhere lab down --purge`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.dir = *dir
			return runLabDown(cmd.Context(), opts)
		},
	}
	down.Flags().BoolVar(&opts.purge, "purge", false, "also delete the lab folder (keys, host keys, logs); the rootfs cache stays")
	return down
}

func runLabDown(ctx context.Context, opts labDownOptions) error {
	cfg, err := loadLab(opts.dir)
	if err != nil {
		return err
	}
	if err := lab.Down(ctx, cfg); err != nil {
		return err
	}
	if opts.purge {
		return lab.Purge(cfg)
	}
	return nil
}

// labStatusOptions are lab status's flags.
type labStatusOptions struct{ dir string }

func newLabStatusCommand(dir *string, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "Show each lab host (namespace, sshd, answering, engines), the package proxy and the isolation rules",
		Example: `  everywhere lab status`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLabStatus(cmd.Context(), labStatusOptions{dir: *dir}, stdout)
		},
	}
}

// runLabStatus prints the status table; exit code 1 when a host is not
// fully up.
func runLabStatus(ctx context.Context, opts labStatusOptions, stdout io.Writer) error {
	cfg, err := loadLab(opts.dir)
	if err != nil {
		return err
	}
	statuses := lab.Status(ctx, cfg)
	write := writeLabStatus
	if cfg.Machines == lab.MachinesVM {
		write = writeMachineStatus
	}
	if err := write(stdout, statuses); err != nil {
		return err
	}
	shared := lab.SharedStatus(ctx, cfg)
	fmt.Fprintf(stdout, "\npackage proxy  %s  %s\nisolation      nftables table %s  %s\n",
		shared.ProxyURL, answering(shared.Proxy, "answers (apt-cacher-ng: the lab's mirror only)", "does not answer"),
		shared.Table, answering(shared.Isolated, "installed", "MISSING: lab traffic could leave the machine"))
	up := 0
	for _, s := range statuses {
		if s.Answers && s.Docker && s.LXD {
			up++
		}
	}
	if up < len(cfg.Hosts()) || !shared.Proxy || !shared.Isolated {
		return exitCode(1)
	}
	return nil
}

// writeLabStatus renders the status table.
func writeLabStatus(w io.Writer, statuses []lab.HostStatus) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tARCH\tADDRESS\tOVERLAY\tNAMESPACE\tSSHD\tANSWERS\tDOCKER\tLXD")
	for _, s := range statuses {
		pid := "-"
		if s.SSHDPID > 0 {
			pid = fmt.Sprintf("pid %d", s.SSHDPID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Arch, s.Address, s.OverlaySubnet(), yesNo(s.Namespace), pid, yesNo(s.Answers), yesNo(s.Docker), yesNo(s.LXD))
	}
	return tw.Flush()
}

// writeMachineStatus renders the status table of a lab of machines.
func writeMachineStatus(w io.Writer, statuses []lab.HostStatus) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tARCH\tADDRESS\tOVERLAY\tSTATE\tQEMU\tMEMORY\tUPTIME\tACCEL\tSSH\tDOCKER\tLXD")
	for _, s := range statuses {
		state, pid, mem, uptime, accel := "stopped", "-", "-", "-", "-"
		if m := s.Machine; m.PID > 0 {
			state, pid, mem, uptime, accel = "running", fmt.Sprintf("pid %d", m.PID), fmt.Sprintf("%.2f GiB", float64(m.RSS)/(1<<30)), m.Uptime.String(), strings.ToUpper(m.Accel)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Arch, s.Address, s.OverlaySubnet(), state, pid, mem, uptime, accel,
			yesNo(s.Answers), yesNo(s.Docker), yesNo(s.LXD))
	}
	return tw.Flush()
}

func answering(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
