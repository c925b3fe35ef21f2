package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSSHConfig: an address may be an ssh alias; the inventory's fields
// win over the config, as ssh -o does; hops are resolved through it too.
func TestSSHConfig(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "ssh_config")
	writeFile(t, config, `
Host web1
  HostName 10.213.201.2
  User deploy
  Port 2200
  IdentityFile %d/keys/%r
  ProxyJump ops@bastion,inner:2022
  ConnectTimeout 4
  ServerAliveInterval 6
Host bastion
  HostName 10.213.200.1
  ProxyJump outer
  UserKnownHostsFile /tmp/bastion_kh
  StrictHostKeyChecking accept-new
Host inner
  HostName 10.213.202.1
  ProxyJump ignored
Host viacmd
  ProxyCommand nc %h %p
Host both
  ProxyJump x
  ProxyCommand nc %h %p
`)
	inv, err := Parse(filepath.Join(dir, "inv.yaml"), []byte(`
defaults: {ssh_config: ssh_config, known_hosts: kh}
hosts:
  - {name: w, arch: amd64, address: web1}
  - {name: o, arch: amd64, address: web1, user: root, port: 22, proxy_jump: none, connect_timeout: 2s}
  - {name: c, arch: amd64, address: viacmd}
  - {name: j, arch: amd64, address: plain, proxy_jump: "u@[::1]:2222"}
  - {name: b, arch: amd64, address: both}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	w := inv.Hosts[0]
	if w.Address != "10.213.201.2" || w.User != "deploy" || w.Port != 2200 || w.ConnectTimeout != 4*time.Second || w.Keepalive != 6*time.Second ||
		strings.Join(w.ConfigIdentities, ",") != home+"/keys/deploy" || w.KnownHosts != filepath.Join(dir, "kh") {
		t.Errorf("w: %+v", w)
	}
	var hops []string
	for _, hop := range w.Jumps {
		hops = append(hops, hop.User+"@"+hop.Name+"="+hop.Addr()+" "+hop.HostKeyPolicy+" "+hop.KnownHosts)
	}
	// bastion's own ProxyJump comes first; inner's is ignored, as ssh -J
	// reaches a later hop through the earlier ones. The inventory's
	// defaults apply to the hops (known_hosts), above the config.
	kh := filepath.Join(dir, "kh")
	want := []string{currentUser() + "@outer=outer:22  " + kh, "ops@bastion=10.213.200.1:22 accept-new " + kh, currentUser() + "@inner=10.213.202.1:2022  " + kh}
	if strings.Join(hops, "\n") != strings.Join(want, "\n") {
		t.Errorf("hops:\n%s\nwant\n%s", strings.Join(hops, "\n"), strings.Join(want, "\n"))
	}
	if o := inv.Hosts[1]; o.User != "root" || o.Port != 22 || len(o.Jumps) != 0 || o.ConnectTimeout != 2*time.Second || o.Address != "10.213.201.2" {
		t.Errorf("inventory fields over the config: %+v", o)
	}
	if c := inv.Hosts[2]; c.ProxyCommand != "nc viacmd 22" {
		t.Errorf("ProxyCommand: %q", c.ProxyCommand)
	}
	// ssh takes whichever of ProxyJump and ProxyCommand comes first.
	if b := inv.Hosts[4]; len(b.Jumps) != 1 || b.Jumps[0].Name != "x" || b.ProxyCommand != "" {
		t.Errorf("ProxyJump before ProxyCommand: %+v", b)
	}
	if c := inv.Hosts[2]; c.ProxyCommand != "nc viacmd 22" {
		t.Errorf("ProxyCommand: %q", c.ProxyCommand)
	}
	if j := inv.Hosts[3]; len(j.Jumps) != 1 || j.Jumps[0].Addr() != "[::1]:2222" || j.Jumps[0].User != "u" {
		t.Errorf("proxy_jump: %+v", j.Jumps)
	}

	for _, tc := range []struct{ name, inv, want string }{
		{"bad hop", "hosts: [{name: b, arch: amd64, address: x, proxy_jump: 'a:http'}]", `inv.yaml:1: host "b": proxy jump "a:http": "a:http": port "http" is not in 1-65535`},
		{"loop", "hosts: [{name: b, arch: amd64, address: x, proxy_jump: loop}]", "jumphost loop via loop"},
		{"deep", "hosts: [{name: b, arch: amd64, address: x, proxy_jump: deep1}]", "more than 8 jumps deep"},
		{"missing config", "defaults: {ssh_config: nope}\nhosts: [{name: b, arch: amd64, address: x}]", "inv.yaml:1: defaults: ssh_config: ssh config: open " + filepath.Join(dir, "nope")},
	} {
		writeFile(t, config, "Host loop\n  ProxyJump loop\nHost deep1\n  ProxyJump deep2\nHost deep2\n  ProxyJump deep1\n")
		_, err := Parse(filepath.Join(dir, "inv.yaml"), []byte(tc.inv), Options{SSHConfig: map[bool]string{true: "", false: config}[strings.Contains(tc.inv, "ssh_config")]})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
