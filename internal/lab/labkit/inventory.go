package labkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Inventory is what a kind of lab says of itself in the inventory it
// writes: a header naming the kind, its defaults beyond the common ones,
// and its hosts that came up.
type Inventory struct {
	Header   string // comment lines
	Defaults string // YAML lines under defaults:
	Hosts    []InventoryHost
}

// InventoryHost is one host of an Inventory: Kind is its label besides
// lab and its suite (native, emulated, vm, tcg), Extra more YAML fields
// (", emulated: true").
type InventoryHost struct {
	Host
	Kind, Extra string
}

// WriteClientFiles writes what a client of the lab needs: known_hosts and
// the inventory.
func WriteClientFiles(c Config, known []string, inv Inventory) error {
	if err := os.WriteFile(filepath.Join(c.Dir, KnownHostsFile), []byte(strings.Join(known, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	return WriteInventory(c, inv)
}

// WriteInventory writes the lab's inventory: paths are relative to it, so
// `everywhere run -i DIR/inventory.yaml` works with strict host key checks.
func WriteInventory(c Config, inv Inventory) error {
	var b strings.Builder
	b.WriteString(inv.Header)
	fmt.Fprintf(&b, "# Labelled by suite (%s): run --hosts label=%s picks one.\n", strings.Join(c.suites(), ", "), c.suites()[len(c.suites())-1])
	b.WriteString(`defaults:
  user: root
  identity: ` + IdentityFile + `
  known_hosts: ` + KnownHostsFile + `
  connect_timeout: 30s   # emulated sshds are slow to handshake
`)
	b.WriteString(inv.Defaults)
	b.WriteString("hosts:\n")
	for _, h := range inv.Hosts {
		fmt.Fprintf(&b, "  - {name: %s, arch: %s, address: %s, labels: [lab, %s, %s]%s}\n", h.Name, h.Arch, h.Address, h.Kind, h.Suite, h.Extra)
	}
	return os.WriteFile(filepath.Join(c.Dir, InventoryFile), []byte(b.String()), 0o644)
}
