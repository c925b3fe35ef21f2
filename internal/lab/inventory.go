package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// writeInventory writes the lab's inventory: paths are relative to it, so
// `everywhere run -i DIR/inventory.yaml` works with strict host key checks.
func writeInventory(c Config) error {
	var b strings.Builder
	if c.Machines == MachinesVM {
		b.WriteString(`# Written by "everywhere lab up --machines vm": the built-in local multi-arch lab.
# Each host is a full-system virtual machine (QEMU) of its architecture, booting
# its own Debian kernel, with its own sshd, Docker engine and LXD.
`)
	} else {
		b.WriteString(`# Written by "everywhere lab up": the built-in local multi-arch lab.
# Each host is a network namespace running a Debian rootfs of its architecture
# and that rootfs's own OpenSSH; foreign ones run under qemu-user emulation.
`)
	}
	fmt.Fprintf(&b, "# Labelled by suite (%s): run --hosts label=%s picks one.\n", strings.Join(c.suites(), ", "), c.suites()[len(c.suites())-1])
	b.WriteString(`defaults:
  user: root
  identity: ` + IdentityFile + `
  known_hosts: ` + KnownHostsFile + `
  connect_timeout: 30s   # emulated sshds are slow to handshake
`)
	if c.Machines == MachinesVM {
		// The built-in plans' time limits are for native hosts; a machine
		// under TCG took 3–5 times as long for an LXD launch or a Docker
		// pull on the 2-core machine (docs/explanation/lab.md).
		fmt.Fprintf(&b, "  timeout_scale: {emulated: %d}\n", tcgTimeoutScale)
		// A busy TCG sshd (s390x loading an image while five other machines
		// share the two cores) answered a keepalive later than 15 s, and the
		// connection was given up in the middle of the load.
		b.WriteString("  keepalive: 60s\n")
	}
	b.WriteString("hosts:\n")
	for _, h := range c.Hosts() {
		kind, extra := "native", ""
		if c.Machines == MachinesVM {
			r, err := readRecord(h)
			if err != nil {
				continue // this machine did not come up
			}
			kind = "vm, " + r.Accel
			// A machine's facts cannot always tell TCG from KVM.
			extra = fmt.Sprintf(", emulated: %t", r.Accel != "kvm")
		} else if emulated(h.Arch) {
			kind = "emulated"
		}
		fmt.Fprintf(&b, "  - {name: %s, arch: %s, address: %s, labels: [lab, %s, %s]%s}\n", h.Name, h.Arch, h.Address, kind, h.Suite, extra)
	}
	return os.WriteFile(filepath.Join(c.Dir, InventoryFile), []byte(b.String()), 0o644)
}
