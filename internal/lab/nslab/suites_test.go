package nslab

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/lab/labkit"
	"everywhere/internal/sshconfig"
)

// Several suites side by side: each host is named ARCH-SUITE, has an
// address of its own that depends only on its suite's place and its
// architecture, and sees the lab through its suite (its rootfs, its
// images); one suite keeps the names and addresses a lab had before.
func TestHostsOfSeveralSuites(t *testing.T) {
	c := labkit.Config{Archs: []host.Arch{host.AMD64, host.Arm64}, Suites: []string{"bookworm", "trixie"}, CacheDir: "/cache"}.WithDefaults()
	type want struct{ name, suite, addr, rootfs, veth string }
	wants := []want{
		{"arm64-bookworm", "bookworm", "10.213.0.12", "/cache/arm64-bookworm", "ew-arm64-bookwo"},
		{"amd64-bookworm", "bookworm", "10.213.0.14", "/cache/amd64-bookworm", "ew-amd64-bookwo"},
		{"arm64-trixie", "trixie", "10.213.0.22", "/cache/arm64-trixie", "ew-arm64-trixie"},
		{"amd64-trixie", "trixie", "10.213.0.24", "/cache/amd64-trixie", "ew-amd64-trixie"},
	}
	hosts := c.Hosts()
	if len(hosts) != len(wants) {
		t.Fatalf("%d hosts, want %d: %+v", len(hosts), len(wants), hosts)
	}
	for i, h := range hosts {
		w := wants[i]
		got := want{h.Name, h.Suite, h.Address.String(), h.Lab().Rootfs(h.Arch, hostRootfs), h.Veth()}
		if got != w {
			t.Errorf("host %d: got %+v, want %+v", i, got, w)
		}
		if h.Lab().Suite != h.Suite || len(h.Lab().Hosts()) != len(wants) {
			t.Errorf("host %s sees suite %q and %d hosts, want its own and all of them", h.Name, h.Lab().Suite, len(h.Lab().Hosts()))
		}
		if got, want := h.OverlaySubnet().String(), "250."+strings.Split(w.addr, ".")[3]+".0.0/16"; got != want {
			t.Errorf("host %s: overlay %s, want %s", h.Name, got, want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if got, want := lxdImageRecipe(*hosts[3].Lab(), host.AMD64), lxdImageRecipe(*hosts[1].Lab(), host.AMD64); got == want {
		t.Errorf("the trixie and bookworm LXD images have one recipe %s", got)
	}
	if got := labkit.SuiteLXDImage(hosts[3].Suite, hosts[3].Arch); got != "debian/trixie/amd64" {
		t.Errorf("trixie's LXD image: %s", got)
	}
	if got := labkit.DockerImage(hosts[2].Suite); got != "everywhere/debian:trixie" {
		t.Errorf("trixie's Docker image: %s", got)
	}

	one := labkit.Config{Archs: []host.Arch{host.AMD64}, Suite: "trixie"}.WithDefaults()
	if h := one.Hosts(); len(h) != 1 || h[0].Name != "amd64" || h[0].Address.String() != "10.213.0.14" || h[0].Suite != "trixie" || h[0].Veth() != "ew-amd64" {
		t.Errorf("one suite: %+v", h)
	}
}

// The inventory labels each host with its suite, so --hosts label=trixie
// picks one suite's hosts.
func TestInventoryLabelsSuites(t *testing.T) {
	dir := t.TempDir()
	c := labkit.Config{Dir: dir, Archs: []host.Arch{host.AMD64, host.S390X}, Suites: []string{"bookworm", "trixie"}, Subnet: netip.MustParsePrefix("10.213.20.0/24")}.WithDefaults()
	if err := labkit.WriteInventory(c, Lab{}.Inventory(c)); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(filepath.Join(dir, labkit.InventoryFile), inventory.Options{SSHConfig: sshconfig.None})
	if err != nil {
		t.Fatal(err)
	}
	for sel, want := range map[string]string{
		"label=trixie":            "amd64-trixie 10.213.20.24, s390x-trixie 10.213.20.26",
		"label=bookworm":          "amd64-bookworm 10.213.20.14, s390x-bookworm 10.213.20.16",
		"label=trixie,arch=s390x": "s390x-trixie 10.213.20.26",
	} {
		hosts, err := inv.Select(sel)
		if err != nil {
			t.Errorf("%s: %v", sel, err)
			continue
		}
		var got []string
		for _, h := range hosts {
			got = append(got, h.Name+" "+h.Address)
		}
		if strings.Join(got, ", ") != want {
			t.Errorf("%s: %q, want %q", sel, strings.Join(got, ", "), want)
		}
	}
}
