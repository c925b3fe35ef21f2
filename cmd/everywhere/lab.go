package main

import (
	"fmt"
	"io"
	"net/netip"
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
		Long: `The built-in lab gives one Linux machine (root) a fleet of six architectures: per
architecture a network namespace on a bridge of the lab's own, a Debian rootfs of that
architecture built by mmdebstrap (cached), foreign code run by qemu-user-static through
binfmt_misc, and that rootfs's own OpenSSH sshd. lab up writes inventory.yaml,
known_hosts and a user key into the lab folder:

  everywhere lab up
  everywhere run -i /var/lib/everywhere/lab/inventory.yaml
  everywhere lab down

Needs the Debian packages mmdebstrap qemu-user-static binfmt-support arch-test iproute2.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	var dir string
	c.PersistentFlags().StringVar(&dir, "dir", lab.DefaultDir, "the lab's folder: inventory, keys, per-host roots and logs")

	var archList, subnet, lxdSubnet, cacheDir, mirror string
	var refresh bool
	up := &cobra.Command{
		Use:   "up [--arch LIST] [--subnet CIDR]",
		Short: "Build (or reuse) the rootfs and start every lab host",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := lab.Config{Dir: dir, CacheDir: cacheDir, Mirror: mirror, Refresh: refresh, Log: stderr}
			for _, name := range strings.Split(archList, ",") {
				if name = strings.TrimSpace(name); name == "" {
					continue
				}
				a, err := host.ParseArch(name)
				if err != nil {
					return usagef("--arch: %v", err)
				}
				cfg.Archs = append(cfg.Archs, a)
			}
			var err error
			if cfg.Subnet, err = netip.ParsePrefix(subnet); err != nil {
				return usagef("--subnet: %v", err)
			}
			if cfg.LXDSubnet, err = netip.ParsePrefix(lxdSubnet); err != nil {
				return usagef("--lxd-subnet: %v", err)
			}
			if err := cfg.WithDefaults().Validate(); err != nil {
				return usageError{err}
			}
			if err := lab.Up(cmd.Context(), cfg); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "everywhere run -i %s\n", filepath.Join(dir, lab.InventoryFile))
			return nil
		},
	}
	up.Flags().StringVar(&archList, "arch", "", "architectures, comma-separated (default: armhf,arm64,i686,amd64,ppc64el,s390x)")
	up.Flags().StringVar(&subnet, "subnet", lab.DefaultSubnet, "private IPv4 range of the lab bridge; hosts take .11 to .16")
	up.Flags().StringVar(&lxdSubnet, "lxd-subnet", lab.DefaultLXDNet, "private IPv4 range of LXD's bridge, for its instances")
	up.Flags().StringVar(&cacheDir, "cache", lab.DefaultCacheDir, "where built rootfs are kept between labs")
	up.Flags().StringVar(&mirror, "mirror", "", "Debian mirror (default: the one this machine's apt uses)")
	up.Flags().BoolVar(&refresh, "refresh", false, "rebuild cached rootfs")

	var purge bool
	down := &cobra.Command{
		Use:   "down",
		Short: "Stop every lab host and remove namespaces, links and mounts",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := lab.Load(dir)
			if err != nil {
				return err
			}
			if err := lab.Down(cmd.Context(), cfg); err != nil {
				return err
			}
			if purge {
				return lab.Purge(cfg)
			}
			return nil
		},
	}
	down.Flags().BoolVar(&purge, "purge", false, "also delete the lab folder (keys, host keys, logs); the rootfs cache stays")

	status := &cobra.Command{
		Use:   "status",
		Short: "Show each lab host: namespace, sshd, answering",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := lab.Load(dir)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "HOST\tARCH\tADDRESS\tNAMESPACE\tSSHD\tANSWERS\tDOCKER\tLXD")
			up := 0
			for _, s := range lab.Status(cmd.Context(), cfg) {
				pid := "-"
				if s.SSHDPID > 0 {
					pid = fmt.Sprintf("pid %d", s.SSHDPID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Arch, s.Address, yesNo(s.Namespace), pid, yesNo(s.Answers), yesNo(s.Docker), yesNo(s.LXD))
				if s.Answers && s.Docker && s.LXD {
					up++
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if up < len(cfg.Archs) {
				return exitCode(1)
			}
			return nil
		},
	}
	c.AddCommand(up, down, status)
	return c
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
