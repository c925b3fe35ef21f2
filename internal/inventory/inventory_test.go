package inventory

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/yamlfile"
)

func TestParseInventoryErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // the whole error text: file:line and field
	}{
		{"unknown arch", "hosts:\n  - name: a\n    arch: sparc\n    address: 10.0.0.1\n",
			`inv.yaml:3: host "a": arch: unknown arch "sparc" (known: aarch64, amd64, arm64, armhf, armv7, armv7l, armv8l, i386, i586, i686, ppc64el, ppc64le, s390x, x86_64)`},
		{"duplicate name", "hosts:\n  - {name: a, arch: amd64, address: 10.0.0.1}\n  - {name: a, arch: arm64, address: 10.0.0.2}\n",
			`inv.yaml:3: host "a": name: duplicate (first declared at line 2)`},
		{"missing address", "hosts:\n  - name: a\n    arch: amd64\n",
			`inv.yaml:2: host "a": address: missing`},
		{"missing name", "hosts:\n  - arch: amd64\n    address: 10.0.0.1\n",
			`inv.yaml:2: hosts[0]: name: missing`},
		{"bad name", "hosts:\n  - {name: 'a b', arch: amd64, address: x}\n",
			`inv.yaml:2: host "a b": name: use letters, digits, '.', '_' and '-'`},
		{"bad port", "hosts:\n  - name: a\n    arch: amd64\n    address: 10.0.0.1\n    port: 70000\n",
			`inv.yaml:5: host "a": port: 70000 is not in 1-65535`},
		{"bad default port", "defaults:\n  port: -1\nhosts:\n  - {name: a, arch: amd64, address: x}\n",
			`inv.yaml:2: host "a": port: -1 is not in 1-65535`},
		{"port not a number", "hosts:\n  - {name: a, arch: amd64, address: x, port: ssh}\n",
			"inv.yaml:2: cannot unmarshal !!str `ssh` into int"},
		{"unknown key", "hosts:\n  - name: a\n    arch: amd64\n    adress: 10.0.0.1\n",
			`inv.yaml:4: unknown field "adress" (known: address, arch, connect_timeout, docker, identity, incus, keepalive, known_hosts, labels, lxd, name, podman, port, proxy_jump, user)`},
		{"unknown top-level key", "host:\n  - {name: a}\n",
			`inv.yaml:1: unknown field "host" (known: defaults, hosts)`},
		{"unknown defaults key", "defaults:\n  usr: x\nhosts: []\n",
			`inv.yaml:2: unknown field "usr" (known: connect_timeout, docker, identity, incus, keepalive, known_hosts, lxd, podman, port, proxy_jump, ssh_config, user)`},
		{"no hosts", "defaults:\n  user: x\n",
			`inv.yaml:1: no hosts: the inventory needs a hosts: list`},
		{"empty", "", `inv.yaml: empty document`},
		{"syntax", "hosts:\n  - name: a\n    arch: amd64: x\n", `inv.yaml:3: mapping values are not allowed in this context`},
		{"hosts not a list", "hosts: 3\n", "inv.yaml:1: cannot unmarshal !!int `3` into []inventory.rawHost"},
		{"docker socket and host", "hosts:\n  - name: a\n    arch: amd64\n    address: x\n    docker: {socket: /s, host: 'tcp://x:2376'}\n",
			`inv.yaml:5: host "a": docker: give socket (through SSH) or host (direct), not both`},
		{"lxd url without certificate", "hosts:\n  - name: a\n    arch: amd64\n    address: x\n    lxd: {url: 'https://x:8443'}\n",
			`inv.yaml:5: host "a": lxd: an url needs client_cert and client_key`},
		{"unknown docker key", "hosts:\n  - {name: a, arch: amd64, address: x, docker: {sock: /s}}\n",
			`inv.yaml:2: unknown field "sock" (known: host, socket, tls)`},
		{"docker tcp without tls", "hosts:\n  - {name: a, arch: amd64, address: x, docker: {host: 'tcp://x:2375'}}\n",
			`inv.yaml:2: host "a": docker: tcp://x:2375 without TLS would be plain, unauthenticated TCP: give tls: {ca, cert, key}, or tls: false to accept that`},
		{"docker tcp with a key only", "hosts:\n  - {name: a, arch: amd64, address: x, docker: {host: 'tcp://x:2376', tls: {key: k.pem}}}\n",
			`inv.yaml:2: host "a": docker: tcp://x:2376 without TLS would be plain`},
		{"docker tls true", "defaults:\n  docker: {host: 'tcp://x:2376', tls: true}\nhosts: [{name: a, arch: amd64, address: x}]\n",
			`inv.yaml:2: tls: true says nothing: give {ca, cert, key}, or false for plain TCP`},
		{"bad duration", "defaults: {connect_timeout: soon}\nhosts: [{name: a, arch: amd64, address: x}]\n",
			"inv.yaml:1: cannot unmarshal !!str `soon` into time.Duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseWithBlocks("inv.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("no error; want %q", tt.want)
			}
			var located *yamlfile.Error
			if !errors.As(err, &located) {
				t.Errorf("error %T is not a *yamlfile.Error", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestParseInventoryDefaults(t *testing.T) {
	src := `
defaults:
  user: ubuntu
  identity: keys/id
  known_hosts: /etc/kh
  connect_timeout: 3s
hosts:
  - {name: pi4, arch: armv7l, address: 10.0.0.21, labels: [edge]}
  - {name: z15, arch: s390x, address: z15.example, port: 2222, user: root, identity: /abs/key, known_hosts: kh}
`
	inv, err := parseWithBlocks("/srv/lab/inv.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Host{
		{Name: "pi4", Arch: host.ArmHF, Address: "10.0.0.21", Port: 22, User: "ubuntu", Identity: "/srv/lab/keys/id", KnownHosts: "/etc/kh",
			ConnectTimeout: 3 * time.Second, Keepalive: DefaultKeepalive, Labels: []string{"edge"}, Line: 8},
		{Name: "z15", Arch: host.S390X, Address: "z15.example", Port: 2222, User: "root", Identity: "/abs/key", KnownHosts: "/srv/lab/kh",
			ConnectTimeout: 3 * time.Second, Keepalive: DefaultKeepalive, Line: 9},
	}
	if len(inv.Hosts) != len(want) {
		t.Fatalf("got %d hosts, want %d", len(inv.Hosts), len(want))
	}
	for i := range want {
		got := inv.Hosts[i]
		if got.Name != want[i].Name || got.Arch != want[i].Arch || got.Address != want[i].Address || got.Port != want[i].Port ||
			got.User != want[i].User || got.Identity != want[i].Identity || got.KnownHosts != want[i].KnownHosts ||
			got.ConnectTimeout != want[i].ConnectTimeout || got.Keepalive != want[i].Keepalive || got.Line != want[i].Line ||
			strings.Join(got.Labels, ",") != strings.Join(want[i].Labels, ",") {
			t.Errorf("host %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}
	if got := inv.Hosts[1].Addr(); got != "z15.example:2222" {
		t.Errorf("Addr() = %q", got)
	}
}

func TestExampleInventoryParses(t *testing.T) {
	if _, err := Load(filepath.Join("..", "..", "inventory.example.yaml"), Options{Blocks: TestBlocks}); err != nil {
		t.Fatal(err)
	}
}

func TestSelect(t *testing.T) {
	inv, err := parseWithBlocks("inv.yaml", []byte(`
hosts:
  - {name: pi4, arch: armhf, address: a, labels: [edge]}
  - {name: rpi5, arch: arm64, address: b, labels: [edge, new]}
  - {name: x86, arch: amd64, address: c}
  - {name: z15, arch: s390x, address: d, labels: [new]}
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sel, want, err string
	}{
		{"", "pi4 rpi5 x86 z15", ""},
		{"pi4", "pi4", ""},
		{"pi4,z15", "pi4 z15", ""},
		{"r*", "rpi5", ""},
		{"arch=aarch64", "rpi5", ""},
		{"arch=arm64,arch=armv7l", "pi4 rpi5", ""},
		{"label=edge", "pi4 rpi5", ""},
		{"arch=arm64,label=edge", "rpi5", ""},
		{"label=new,name=z*", "z15", ""},
		{"label=none", "", `--hosts "label=none" matches no host in inv.yaml (hosts: pi4, rpi5, x86, z15)`},
		{"arch=mips", "", `--hosts "arch=mips": unknown arch "mips"`},
		{"os=linux", "", `--hosts "os=linux": unknown selector "os"`},
		{"[", "", `--hosts "[": bad pattern "["`},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			got, err := inv.Select(tt.sel)
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("error %v, want prefix %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, h := range got {
				names = append(names, h.Name)
			}
			if strings.Join(names, " ") != tt.want {
				t.Errorf("got %v, want %s", names, tt.want)
			}
		})
	}
}

func TestArchesIn(t *testing.T) {
	tests := []struct {
		text string
		want []host.Arch
	}{
		{"Linux h 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 x86_64 GNU/Linux", []host.Arch{host.AMD64}},
		{"aarch64\n", []host.Arch{host.Arm64}},
		{"i386", []host.Arch{host.I686}},
		{"armv7l armhf", []host.Arch{host.ArmHF, host.ArmHF}},
		{"ppc64le s390x", []host.Arch{host.PPC64EL, host.S390X}},
		{"no arch here", nil},
	}
	for _, tt := range tests {
		got, _ := host.ArchesIn(tt.text)
		if len(got) != len(tt.want) {
			t.Errorf("%q: got %v, want %v", tt.text, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%q: got %v, want %v", tt.text, got, tt.want)
			}
		}
	}
}

func TestArchNames(t *testing.T) {
	for _, a := range host.AllArchs() {
		for _, name := range []string{string(a), a.Debian(), a.Kernel()} {
			if got, err := host.ParseArch(name); err != nil || got != a {
				t.Errorf("host.ParseArch(%q) = %v, %v; want %v", name, got, err, a)
			}
		}
	}
}

func FuzzParseInventory(f *testing.F) {
	f.Add([]byte("hosts:\n  - {name: a, arch: amd64, address: x}\n"))
	f.Add([]byte("defaults: {port: 22}\nhosts: [{name: a, arch: s390x, address: y, labels: [l]}]\n"))
	f.Add([]byte("hosts:\n  - &a {name: a}\n  - *a\n"))
	f.Add([]byte("x: &l [{name: a, arch: amd64, address: x}]\nhosts: *l\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := parseWithBlocks("fuzz.yaml", data)
		if err == nil && len(inv.Hosts) == 0 {
			t.Fatal("valid inventory without hosts")
		}
	})
}

func TestParseInventoryAliases(t *testing.T) {
	src := "defaults: {}\nhosts: &list\n  - &base {name: a, arch: amd64, address: x}\n  - {<<: *base, name: b}\n"
	inv, err := parseWithBlocks("inv.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Hosts) != 2 || inv.Hosts[1].Name != "b" || inv.Hosts[1].Address != "x" {
		t.Errorf("got %+v", inv.Hosts)
	}
}

// TestBlocks are the drivers' blocks for this package's tests, set by
// blocks_test.go (which may import the drivers, this file may not): so the
// error table also covers what their decoders report with file:line.
var TestBlocks []BlockDecoder

func parseWithBlocks(file string, data []byte) (*Inventory, error) {
	return Parse(file, data, Options{Blocks: TestBlocks})
}
