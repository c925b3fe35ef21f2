package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"everywhere/internal/host"
	"everywhere/internal/lab/labkit"
	"everywhere/internal/lab/nslab"
	"everywhere/internal/lab/vmlab"
)

// The kind follows Config.Machines, and each kind lists its hosts its own
// way: the namespaces all of them, native or emulated; the machines only
// those that came up (a record in their folder), with their accelerator
// and the time limits of TCG.
func TestKindsInventory(t *testing.T) {
	c := Config{Dir: t.TempDir(), Archs: []host.Arch{host.AMD64, host.S390X}}.WithDefaults()
	if _, ok := kindOf(c).(nslab.Lab); !ok {
		t.Fatalf("a lab of %q is a %T", c.Machines, kindOf(c))
	}
	listed := func(inv labkit.Inventory) string {
		var hosts []string
		for _, h := range inv.Hosts {
			hosts = append(hosts, h.Name+" "+h.Kind+h.Extra)
		}
		return strings.Join(hosts, ", ")
	}
	ns := kindOf(c).Inventory(c)
	if got, want := listed(ns), "amd64 native, s390x emulated"; got != want || ns.Defaults != "" || !strings.Contains(ns.Header, "network namespace") {
		t.Errorf("namespaces: hosts %q, want %q; defaults %q; header %q", got, want, ns.Defaults, ns.Header)
	}

	c.Machines = MachinesVM
	if _, ok := kindOf(c).(vmlab.Lab); !ok {
		t.Fatalf("a lab of %q is a %T", c.Machines, kindOf(c))
	}
	record := filepath.Join(c.Hosts()[0].Dir(), "machine.json")
	if err := os.MkdirAll(filepath.Dir(record), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(record, []byte(`{"accel": "tcg"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	vm := kindOf(c).Inventory(c)
	if got, want := listed(vm), "amd64 vm, tcg, emulated: true"; got != want || !strings.Contains(vm.Defaults, "timeout_scale: {emulated: ") || !strings.Contains(vm.Header, "full-system virtual machine") {
		t.Errorf("machines: hosts %q, want %q; defaults %q; header %q", got, want, vm.Defaults, vm.Header)
	}
}
