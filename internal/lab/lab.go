// Package lab runs the built-in local multi-arch lab, of one of two kinds
// (Config.Machines): namespaces on this machine's kernel (package nslab)
// or full-system virtual machines (package vmlab), built of what the two
// share (package labkit). It picks the kind, keeps two lab commands from
// working on one lab at once, and takes down what an earlier lab left
// before bringing one up. A lab writes an inventory, known_hosts and a
// user key, so everywhere reaches it like any fleet.
package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"everywhere/internal/lab/labkit"
	"everywhere/internal/lab/nslab"
	"everywhere/internal/lab/vmlab"
)

// What the lab's users name, from the package that defines it.
type (
	Config     = labkit.Config
	HostStatus = labkit.HostStatus
)

// Defaults for Config's zero fields, the kinds of lab and the files Up
// writes, as labkit defines them.
const (
	DefaultDir      = labkit.DefaultDir
	DefaultCacheDir = labkit.DefaultCacheDir
	DefaultSubnet   = labkit.DefaultSubnet
	DefaultLXDNet   = labkit.DefaultLXDNet
	DefaultOverlay  = labkit.DefaultOverlay
	DefaultPrefix   = labkit.DefaultPrefix
	DefaultSuite    = labkit.DefaultSuite
	MachinesNS      = labkit.MachinesNS
	MachinesVM      = labkit.MachinesVM
	InventoryFile   = labkit.InventoryFile
)

// Kind is one kind of lab: what it needs of this machine, how its hosts
// come up, go down and are reported, and how they are listed in the
// inventory its Up writes.
type Kind interface {
	Requirements(c Config) error
	Up(ctx context.Context, c Config) error
	Down(ctx context.Context, c Config) error
	Status(ctx context.Context, c Config) []HostStatus
	Inventory(c Config) labkit.Inventory
}

// kindOf is the kind of lab c is: namespaces unless it says machines.
func kindOf(c Config) Kind {
	if c.Machines == MachinesVM {
		return vmlab.Lab{}
	}
	return nslab.Lab{}
}

// Up brings the lab up, reusing cached trees, and recovers from a crashed
// earlier lab (whatever of it is left is taken down first).
func Up(ctx context.Context, c Config) error {
	c, err := c.Resolved()
	if err != nil {
		return err
	}
	kind := kindOf(c)
	if err := kind.Requirements(c); err != nil {
		return err
	}
	unlock, err := labkit.Lock(c.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := clearEarlier(ctx, c); err != nil {
		return fmt.Errorf("clearing an earlier lab: %w", err)
	}
	if err := c.Save(); err != nil {
		return err
	}
	return kind.Up(ctx, c)
}

// clearEarlier takes down whatever an earlier lab in c's folder left (after
// a crash, or with other settings, or of the other kind), and what c itself
// would collide with.
func clearEarlier(ctx context.Context, c Config) error {
	if _, err := os.Stat(filepath.Join(c.Dir, labkit.ConfigFile)); err == nil {
		previous, err := Load(c.Dir)
		if err != nil {
			return err
		}
		if err := kindOf(previous).Down(ctx, previous); err != nil {
			return err
		}
	}
	return kindOf(c).Down(ctx, c)
}

// Load reads the configuration a lab in dir was brought up with. dir is
// resolved first (see ResolveDir).
func Load(dir string) (Config, error) { return labkit.Load(dir) }

// ResolveDir is the lab folder dir as the lab uses it (see labkit.ResolveDir).
func ResolveDir(dir string) (string, error) { return labkit.ResolveDir(dir) }

// Down stops everything Up started and removes namespaces, machines, links
// and mounts. It is idempotent and needs nothing but what it finds.
func Down(ctx context.Context, c Config) error {
	c = c.WithDefaults()
	var err error
	if c.Dir, err = ResolveDir(c.Dir); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("the lab needs root: run as root (sudo)")
	}
	unlock, err := labkit.Lock(c.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	return kindOf(c).Down(ctx, c)
}

// Status reports each of the lab's hosts.
func Status(ctx context.Context, c Config) []HostStatus {
	c = c.WithDefaults()
	return kindOf(c).Status(ctx, c)
}

// SharedStatus reports the lab's proxy and isolation.
func SharedStatus(ctx context.Context, c Config) labkit.Shared { return labkit.SharedStatus(ctx, c) }

// StartLXD runs only the lab's LXD daemon (as Up does for a lab of
// namespaces), for tests of the lxd driver against a real server. Its
// socket is Config.LXDSocket.
func StartLXD(ctx context.Context, c Config) error { return nslab.StartLXD(ctx, c) }

// StopLXD stops what StartLXD started.
func StopLXD(ctx context.Context, c Config) error { return nslab.StopLXD(ctx, c) }

// Purge deletes the lab folder (after Down). The rootfs cache is kept. It
// refuses a folder that holds no lab, one with anything still mounted in
// it, and never crosses into another filesystem (see labkit.RemoveTree).
func Purge(c Config) error {
	c = c.WithDefaults()
	dir, err := ResolveDir(c.Dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := labkit.Lock(dir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := isLabFolder(dir); err != nil {
		return err
	}
	points, err := labkit.MountsUnder(dir)
	if err != nil {
		return err
	}
	if len(points) > 0 {
		return fmt.Errorf("%s still has mounts (%s): run lab down first", dir, strings.Join(points, ", "))
	}
	return labkit.RemoveTree(dir)
}

// isLabFolder checks that dir is a lab's: it holds the lab's configuration,
// or nothing but the lock a lab command takes.
func isLabFolder(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, labkit.ConfigFile)); err == nil {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != "lock" {
			return fmt.Errorf("%s holds no lab (no %s): refusing to delete it", dir, labkit.ConfigFile)
		}
	}
	return nil
}
