package lab

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/sshconfig"
)

// Several suites side by side: each host is named ARCH-SUITE, has an
// address of its own that depends only on its suite's place and its
// architecture, and sees the lab through its suite (its rootfs, its
// images); one suite keeps the names and addresses a lab had before.
func TestHostsOfSeveralSuites(t *testing.T) {
	c := Config{Archs: []host.Arch{host.AMD64, host.Arm64}, Suites: []string{"bookworm", "trixie"}, CacheDir: "/cache"}.WithDefaults()
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
		got := want{h.Name, h.Suite, h.Address.String(), h.lab.rootfs(h.Arch, hostRootfs), h.veth()}
		if got != w {
			t.Errorf("host %d: got %+v, want %+v", i, got, w)
		}
		if h.lab.Suite != h.Suite || len(h.lab.Hosts()) != len(wants) {
			t.Errorf("host %s sees suite %q and %d hosts, want its own and all of them", h.Name, h.lab.Suite, len(h.lab.Hosts()))
		}
		if got, want := h.OverlaySubnet().String(), "250."+strings.Split(w.addr, ".")[3]+".0.0/16"; got != want {
			t.Errorf("host %s: overlay %s, want %s", h.Name, got, want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if got, want := hosts[3].lab.lxdImageRecipe(host.AMD64), hosts[1].lab.lxdImageRecipe(host.AMD64); got == want {
		t.Errorf("the trixie and bookworm LXD images have one recipe %s", got)
	}
	if got := SuiteLXDImage(hosts[3].Suite, hosts[3].Arch); got != "debian/trixie/amd64" {
		t.Errorf("trixie's LXD image: %s", got)
	}
	if got := DockerImage(hosts[2].Suite); got != "everywhere/debian:trixie" {
		t.Errorf("trixie's Docker image: %s", got)
	}

	one := Config{Archs: []host.Arch{host.AMD64}, Suite: "trixie"}.WithDefaults()
	if h := one.Hosts(); len(h) != 1 || h[0].Name != "amd64" || h[0].Address.String() != "10.213.0.14" || h[0].Suite != "trixie" || h[0].veth() != "ew-amd64" {
		t.Errorf("one suite: %+v", h)
	}
}

func TestValidateSuites(t *testing.T) {
	tests := []struct {
		suites []string
		prefix string
		err    string
	}{
		{[]string{"bookworm", "trixie", "sid"}, "ew", ""},
		{[]string{"bookworm", "trixie"}, "abcde", ""},
		{[]string{"bookworm", ""}, "ew", `suite ""`},
		{[]string{"bookworm", "../etc"}, "ew", `suite "../etc"`},
		{[]string{"Trixie"}, "ew", `suite "Trixie"`},
		{[]string{"trixie", "trixie"}, "ew", "twice"},
		{strings.Fields("a b c d e f g h i j"), "ew", "at most 9"},
		// Interface names are cut to 15 characters: these two would collide.
		{[]string{"bookworm", "bookwormy"}, "ew", "use a shorter prefix"},
	}
	for _, tt := range tests {
		err := Config{Suites: tt.suites, Prefix: tt.prefix}.WithDefaults().Validate()
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("suites %q prefix %s: %v, want %q", tt.suites, tt.prefix, err, tt.err)
		}
	}
}

// A lab brought up before several suites existed saved only "suite": lab
// down and status must still find its hosts by their old names; a lab of
// several suites saves them all and is read back as it was.
func TestLoadSavedSuites(t *testing.T) {
	dir := t.TempDir()
	old := `{"dir": "` + dir + `", "archs": ["amd64"], "subnet": "10.213.20.0/24", "prefix": "es", "suite": "trixie", "machines": "ns"}`
	if err := os.WriteFile(filepath.Join(dir, configFile), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if h := c.Hosts(); len(h) != 1 || h[0].Name != "amd64" || h[0].Suite != "trixie" || h[0].Address.String() != "10.213.20.14" {
		t.Errorf("old lab: %+v", h)
	}

	c.Suites = []string{"bookworm", "trixie"}
	c.Suite = ""
	if err := c.WithDefaults().save(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Suite  string   `json:"suite"`
		Suites []string `json:"suites"`
	}
	if err := json.Unmarshal(data, &saved); err != nil || saved.Suite != "bookworm" || strings.Join(saved.Suites, ",") != "bookworm,trixie" {
		t.Errorf("saved %s: %+v %v", data, saved, err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range back.Hosts() {
		names = append(names, h.Name)
	}
	if strings.Join(names, " ") != "amd64-bookworm amd64-trixie" {
		t.Errorf("read back: hosts %q", names)
	}
}

// The inventory labels each host with its suite, so --hosts label=trixie
// picks one suite's hosts.
func TestInventoryLabelsSuites(t *testing.T) {
	dir := t.TempDir()
	c := Config{Dir: dir, Archs: []host.Arch{host.AMD64, host.S390X}, Suites: []string{"bookworm", "trixie"}, Subnet: netip.MustParsePrefix("10.213.20.0/24")}.WithDefaults()
	if err := writeInventory(c); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(filepath.Join(dir, InventoryFile), inventory.Options{SSHConfig: sshconfig.None})
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
