package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"everywhere/internal/sshconfig"
)

var noSSHConfig = Options{SSHConfig: sshconfig.None}

// summary is what an Ansible inventory says of a host, one line a host.
func summary(inv *Inventory) []string {
	var lines []string
	for _, h := range inv.Hosts {
		arch := string(h.Arch)
		if arch == "" {
			arch = "detect"
		}
		line := fmt.Sprintf("%s %s:%d arch=%s labels=%s", h.Name, h.Address, h.Port, arch, strings.Join(h.Labels, ","))
		if h.User != currentUser() {
			line += " user=" + h.User
		}
		if h.Identity != "" {
			line += " identity=" + h.Identity
		}
		lines = append(lines, line)
	}
	return lines
}

func loadAnsible(t *testing.T, file string) *Inventory {
	t.Helper()
	inv, err := Load(filepath.Join("testdata", "ansible", file), noSSHConfig)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// TestAnsibleInventories reads inventories in the shapes of Ansible's "How
// to build your inventory", each written in INI and in YAML where the
// documentation shows both, and both forms must read the same.
func TestAnsibleInventories(t *testing.T) {
	tests := []struct {
		files []string
		want  []string
	}{
		{[]string{"basic.ini", "basic.yaml"}, []string{
			"mail.example.com mail.example.com:22 arch=detect labels=",
			"foo.example.com foo.example.com:22 arch=detect labels=webservers",
			"bar.example.com bar.example.com:22 arch=detect labels=webservers",
			"one.example.com one.example.com:22 arch=detect labels=dbservers",
			"two.example.com two.example.com:22 arch=detect labels=dbservers",
			"three.example.com three.example.com:22 arch=detect labels=dbservers",
		}},
		{[]string{"groups-of-groups.ini", "groups-of-groups.yaml"}, []string{
			"foo.example.com foo.example.com:22 arch=detect labels=east,prod,webservers",
			"bar.example.com bar.example.com:22 arch=detect labels=test,webservers,west",
			"one.example.com one.example.com:22 arch=detect labels=dbservers,east,prod",
			"two.example.com two.example.com:22 arch=detect labels=dbservers,east,prod",
			"three.example.com three.example.com:22 arch=detect labels=dbservers,test,west",
		}},
		{[]string{"ranges.ini"}, []string{
			"www01.example.com www01.example.com:22 arch=detect labels=odd,webservers",
			"www02.example.com www02.example.com:22 arch=detect labels=webservers",
			"www03.example.com www03.example.com:22 arch=detect labels=odd,webservers",
			"www04.example.com www04.example.com:22 arch=detect labels=webservers",
			"www05.example.com www05.example.com:22 arch=detect labels=odd,webservers",
			"db-a.example.com db-a.example.com:22 arch=detect labels=databases",
			"db-b.example.com db-b.example.com:22 arch=detect labels=databases",
			"db-c.example.com db-c.example.com:22 arch=detect labels=databases",
			"www07.example.com www07.example.com:22 arch=detect labels=odd",
		}},
		// Host vars beat group vars; a child group's vars beat its parent's.
		{[]string{"vars.ini", "vars.yaml"}, []string{
			"host1 host1:22 arch=amd64 labels=atlanta,southeast user=admin identity=/keys/fleet.pem",
			"host2 host2:22 arch=amd64 labels=atlanta,raleigh,southeast user=deploy identity=/keys/fleet.pem",
			"host3 192.0.2.13:22 arch=arm64 labels=raleigh,southeast user=admin identity=/keys/fleet.pem",
			"badwolf.example.com badwolf.example.com:5309 arch=detect labels=targets identity=/keys/fleet.pem",
			"jumper 192.0.2.50:5555 arch=detect labels=targets identity=/keys/fleet.pem",
			"tomcat3 tomcat3:22 arch=detect labels=targets identity=/keys/fleet.pem",
		}},
		{[]string{"children-first.ini"}, []string{
			"tomcat1 tomcat1:22 arch=detect labels=apache,web",
			"tomcat2 tomcat2:2222 arch=detect labels=apache,web",
			"jenkins1 jenkins1:22 arch=armhf labels=nginx,web",
		}},
	}
	for _, tt := range tests {
		for _, file := range tt.files {
			t.Run(file, func(t *testing.T) {
				if got := summary(loadAnsible(t, file)); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
				}
			})
		}
	}
}

func TestAnsibleSelectByGroup(t *testing.T) {
	hosts, err := loadAnsible(t, "groups-of-groups.ini").Select("label=prod")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range hosts {
		names = append(names, h.Name)
	}
	if got := strings.Join(names, " "); got != "foo.example.com one.example.com two.example.com" {
		t.Errorf("label=prod selects %s", got)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		file, data string
		want       Form
	}{
		{"hosts", "mail.example.com\n[web]\nfoo\n", FormAnsibleINI},
		{"hosts", "host1:2222\n", FormAnsibleINI},
		{"inventory", "[web]\nfoo ansible_port=22\n", FormAnsibleINI},
		{"inv.ini", "all:\n  hosts: {a: }\n", FormAnsibleINI},
		{"inv.yaml", "all:\n  hosts:\n    a:\n", FormAnsibleYAML},
		{"inventory", "all:\n  children:\n    web:\n", FormAnsibleYAML},
		{"inv.json", `{"all": {"hosts": {"a": null}}}`, FormAnsibleYAML},
		{"inv.yml", "plugin: amazon.aws.aws_ec2\n", FormAnsibleYAML},
		{"inv.yaml", "hosts:\n  - {name: a, address: x}\n", FormEverywhere},
		{"inventory", "defaults: {user: x}\nhosts: []\n", FormEverywhere},
		{"inv.yaml", "host:\n  - {name: a}\n", FormEverywhere},
		{"inv.yaml", "", FormEverywhere},
	}
	for _, tt := range tests {
		if got := Detect(tt.file, []byte(tt.data)); got != tt.want {
			t.Errorf("Detect(%s, %q) = %s, want %s", tt.file, tt.data, got, tt.want)
		}
	}
}

func TestAnsibleInventoryErrors(t *testing.T) {
	tests := []struct {
		file, data, want string
	}{
		{"hosts", "[web]\nw1\n[web:kids]\nx\n", `hosts:3: section [web:kids]: unknown kind "kids" (want [web], [web:vars] or [web:children])`},
		{"hosts", "[web servers]\nw1\n", `hosts:1: [web servers]: not a section: no spaces, and at most one :vars or :children`},
		{"hosts", "[usa:children]\nsoutheast\nnortheast\n[southeast]\nh1\n",
			`hosts:3: [usa:children] names a group declared nowhere: northeast`},
		{"hosts", "[db:vars]\nport=5432\n", `hosts:1: [db:vars] for a group declared nowhere`},
		{"hosts", "[web:vars]\nhttp_port\n[web]\nw1\n", `hosts:2: [web:vars]: want key=value, got "http_port"`},
		{"hosts", "[web]\nw1 http_port\n", `hosts:2: host w1: want key=value after the host, got "http_port"`},
		{"hosts", "[web]\nw1 motd='hello\n", `hosts:2: no closing quotation`},
		{"hosts", "[web]\nw1:\n", `hosts:2: host pattern "w1:" ends in ':' (give a port, or none)`},
		{"hosts", "[web]\nw1:ssh\n", `hosts:2: host pattern "w1:ssh": port "ssh" is not in 1-65535`},
		{"hosts", "[web]\nw1 arch=sparc\n", `hosts:2: host "w1": arch: unknown arch "sparc"`},
		{"hosts", "[web]\nweb[01:1000000]\n", `hosts:2: host pattern "web[01:1000000]": range [01:1000000]: begin and end of different widths`},
		{"hosts", "[web]\nweb[0:999][0:999]\n", `hosts:2: host pattern "web[0:999][0:999]": more than 300000 host names listed in the inventory (a host counts in each group listing it)`},
		{"hosts", "[web]\nn[0:9223372036854775807]\n", `hosts:2: host pattern "n[0:9223372036854775807]": more than 300000 host names listed in the inventory (a host counts in each group listing it)`},
		{"hosts", "[web]\nn[0:9223372036854775808]\n", `hosts:2: host pattern "n[0:9223372036854775808]": range [0:9223372036854775808]: want numbers (64-bit) or single letters`},
		{"hosts", "[web]\nweb[1-5]\n", `hosts:2: host pattern "web[1-5]": range [1-5]: want [begin:end] or [begin:end:step]`},
		{"hosts", "[web]\nweb[c:a]\n", `hosts:2: host pattern "web[c:a]": range [c:a]: begin after end`},
		{"hosts", "[a:children]\nb\n[b:children]\na\n", `hosts:4: group "a" as a child of "b" makes a loop`},
		{"hosts", "w1\n---\n", `hosts:2: "---": a YAML document marker; name the file .yaml for Ansible's YAML form`},
		{"hosts", "#!/usr/bin/env python3\nprint('{}')\n", `hosts:1: a dynamic inventory script: not supported (give the hosts in an INI or YAML inventory)`},
		{"hosts", "[web]\n", `hosts: no hosts in this Ansible inventory`},
		{"inv.yml", "plugin: amazon.aws.aws_ec2\nregions: [us-east-1]\n",
			`inv.yml:1: plugin: amazon.aws.aws_ec2: inventory plugins are not supported (give the hosts in an INI or YAML inventory)`},
		{"inv.yml", "all:\n  hots:\n    a:\n", `inv.yml:2: group all: hots: unknown (a group has hosts:, children: and vars:)`},
		{"inv.yml", "all:\n  hosts:\n    - a\n", `inv.yml:3: group all: hosts: want a mapping`},
		{"inv.yml", "all:\n  hosts:\n    a: b\n", `inv.yml:3: host a: want its variables as a mapping, or nothing`},
		// ssh refuses the name 'a b' as an address, so it is given one.
		{"inv.yml", "all:\n  hosts:\n    'a b':\n      ansible_host: 192.0.2.1\n    a_b:\n", `inv.yml:5: host "a_b": its name as everywhere writes it, a_b, is also "a b"'s`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.file, []byte(tt.data), noSSHConfig)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: got error %v\nwant %s", tt.data, err, tt.want)
		}
	}
}

// TestAnsibleLeftOut: hosts that everywhere cannot reach the way Ansible
// would are left out, each with a warning naming it and the line that
// says so; the others are kept. Strict refuses the inventory instead.
func TestAnsibleLeftOut(t *testing.T) {
	data := `[control]
localhost ansible_connection=local
c1 ansible_host=192.0.2.1
[win]
w1 ansible_connection=winrm
[pw]
p1 ansible_ssh_pass=secret
p2 ansible_password=''
[bad]
b1 ansible_port=http
b2 ansible_port=70000
b3 ansible_ssh_common_args='-F /tmp/other_config'
b4 ansible_ssh_extra_args='-o NoSuchOption=yes'
b5 ansible_host="{{ ip | default('x') }}"
b6 ansible_host="{{ ip }}"
b7 ansible_ssh_common_args='-J a -J b'
b8 ansible_ssh_common_args='-o "ProxyCommand=nc %h %p" -J j'
b9 ansible_ssh_common_args='-o HostKeyAlias=other'
[mixed]
m1 ansible_connection=ansible.builtin.ssh
m2 ansible_connection=smart ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'
[win:vars]
ansible_port=5986
`
	inv, err := Parse("hosts", []byte(data), noSSHConfig)
	if err != nil {
		t.Fatal(err)
	}
	var names, warnings []string
	for _, h := range inv.Hosts {
		names = append(names, h.Name)
	}
	for _, w := range inv.Warnings {
		warnings = append(warnings, w.String())
	}
	if want := "c1 p2 m1 m2"; strings.Join(names, " ") != want {
		t.Errorf("hosts %v, want %s", names, want)
	}
	want := []string{
		`hosts:2: host "localhost" left out: ansible_connection local: everywhere reaches hosts over ssh only`,
		`hosts:5: host "w1" left out: ansible_connection winrm: everywhere reaches hosts over ssh only`,
		`hosts:7: host "p1" left out: a password (ansible_password or ansible_ssh_pass): everywhere logs in with keys only (ansible_ssh_private_key_file, ssh-agent)`,
		`hosts:10: host "b1" left out: ansible_port "http" is not a number`,
		`hosts:11: host "b2" left out: ansible_port: -o Port=70000: "70000" is not a port in 1-65535`,
		`hosts:12: host "b3" left out: ansible_ssh_common_args: -F is not followed by everywhere`,
		`hosts:13: host "b4" left out: ansible_ssh_extra_args: -o NoSuchOption=yes: not an ssh option (ssh refuses it)`,
		`hosts:14: host "b5" left out: ansible_host: "{{ ip | default('x') }}": Jinja beyond {{ variable }} is not followed by everywhere (give the value itself)`,
		`hosts:15: host "b6" left out: ansible_host: "{{ ip }}": ip is undefined`,
		`hosts:16: host "b7" left out: ansible_ssh_common_args: -J given twice (ssh refuses: separate the hops with commas)`,
		`hosts:17: host "b8" left out: ansible_ssh_common_args: -J after a ProxyCommand (ssh refuses the two together)`,
		`hosts:18: host "b9" left out: ansible_ssh_common_args: -o HostKeyAlias=other: not followed by everywhere`,
	}
	if !reflect.DeepEqual(warnings, want) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}
	if h := inv.Hosts[3]; h.HostKeyPolicy != "no" || h.KnownHosts != "/dev/null" || h.Origins["stricthostkeychecking"] != "hosts:21" {
		t.Errorf("m2: policy %q known_hosts %q origins %v", h.HostKeyPolicy, h.KnownHosts, h.Origins)
	}
	_, err = Parse("hosts", []byte(data), Options{SSHConfig: sshconfig.None, Strict: true})
	if err == nil || !strings.HasPrefix(err.Error(), want[0]+"\n"+want[1]) || !strings.HasSuffix(err.Error(), "(--strict-inventory)") {
		t.Errorf("strict: %v", err)
	}
	_, err = Parse("hosts", []byte("[a]\nlocalhost ansible_connection=local\n"), noSSHConfig)
	if err == nil || err.Error() != `hosts: no host everywhere can reach: hosts:2: host "localhost" left out: ansible_connection local: everywhere reaches hosts over ssh only` {
		t.Errorf("only a local host: %v", err)
	}
}

func TestAnsibleINIValues(t *testing.T) {
	data := `[web]
w1 ansible_user="ops team" ansible_host=10.0.0.1 # a comment
w2 ansible_ssh_common_args='-o ProxyJump=bastion.example.com:2222'
w3 ansible_ssh_extra_args="-J ops@b1,b2"
[web:vars]
ansible_port = '2200'   # quoted
ansible_ssh_private_key_file = ~/keys/a b.pem # kept whole, as Ansible keeps it
`
	inv, err := Parse("hosts", []byte(data), noSSHConfig)
	if err != nil {
		t.Fatal(err)
	}
	h := inv.Hosts
	home, _ := os.UserHomeDir()
	if key := filepath.Join(home, "keys/a b.pem # kept whole, as Ansible keeps it"); h[0].Identity != key {
		t.Errorf("identity %q, want %q", h[0].Identity, key)
	}
	if h[0].User != "ops team" || h[0].Address != "10.0.0.1" || h[0].Port != 2200 {
		t.Errorf("w1: %+v", h[0])
	}
	if len(h[1].Jumps) != 1 || h[1].Jumps[0].Address != "bastion.example.com" || h[1].Jumps[0].Port != 2222 {
		t.Errorf("w2: jumps %+v", h[1].Jumps)
	}
	if len(h[2].Jumps) != 2 || h[2].Jumps[0].User != "ops" || h[2].Jumps[1].Address != "b2" {
		t.Errorf("w3: jumps %+v", h[2].Jumps)
	}
}

// TestAnsibleThroughSSHConfig: an Ansible host's address goes through the
// ssh config, as ansible's ssh would take it, and the inventory's vars win.
func TestAnsibleThroughSSHConfig(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(config, []byte("Host db1\n  HostName 192.0.2.7\n  User dba\n  Port 2022\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := Parse("hosts", []byte("[db]\ndb1\ndb2 ansible_host=db1 ansible_user=ops\n"), Options{SSHConfig: config})
	if err != nil {
		t.Fatal(err)
	}
	got := summary(inv)
	want := []string{"db1 192.0.2.7:2022 arch=detect labels=db user=dba", "db2 192.0.2.7:2022 arch=detect labels=db user=ops"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestExpandHostPattern(t *testing.T) {
	tests := []struct {
		pattern string
		names   string
		port    int
	}{
		{"web1", "web1", 0},
		{"web1:2222", "web1", 2222},
		{"192.0.2.1:22", "192.0.2.1", 22},
		{"2001:db8::1", "2001:db8::1", 0},
		{"[2001:db8::1]:2222", "2001:db8::1", 2222},
		{"db-[a:c]:2200", "db-a db-b db-c", 2200},
		{"n[8:10]x[1:2]", "n8x1 n8x2 n9x1 n9x2 n10x1 n10x2", 0},
		{"w[:2]", "w0 w1 w2", 0},
		{"w[098:100]", "w098 w099 w100", 0},
	}
	for _, tt := range tests {
		names, port, err := expandHostPattern(tt.pattern, maxAnsibleExpanded)
		if err != nil || strings.Join(names, " ") != tt.names || port != tt.port {
			t.Errorf("%s: %v port %d err %v, want %s port %d", tt.pattern, names, port, err, tt.names, tt.port)
		}
	}
}

// TestAnsibleScale: ranges at the ends of 64-bit numbers expand without
// overflowing; a range of 10,001 hosts loads as two of 10,000 do; a
// ladder of 23 diamond-shaped groups (2^23 paths from top to bottom)
// loads, each group's depth computed once; and every load of an
// inventory resolves the same.
func TestAnsibleScale(t *testing.T) {
	for pattern, want := range map[string]string{
		"n[9223372036854775806:9223372036854775807]":   "n9223372036854775806 n9223372036854775807",
		"n[-9223372036854775808:-9223372036854775807]": "n-9223372036854775808 n-9223372036854775807",
		"n[9223372036854775800::5]":                    "",
		"n[9223372036854775800:9223372036854775807:5]": "n9223372036854775800 n9223372036854775805",
		"n[5:3]": "",
		"n[-9223372036854775808:9223372036854775807:9223372036854775807]": "n-9223372036854775808 n-1 n9223372036854775806",
	} {
		if want == "" && strings.Contains(pattern, "::") {
			if _, _, err := expandHostPattern(pattern, maxAnsibleExpanded); err == nil {
				t.Errorf("%s: no error", pattern)
			}
			continue
		}
		names, _, err := expandHostPattern(pattern, maxAnsibleExpanded)
		if err != nil || strings.Join(names, " ") != want {
			t.Errorf("%s: %v %v, want %s", pattern, names, err, want)
		}
	}
	for data, want := range map[string]int{"[a]\nw[00000:10000]\n": 10001, "[a]\nw[00000:09999]\n[b]\nx[00000:09999]\n": 20000} {
		inv := newAnsibleInventory("hosts")
		if err := inv.readINI([]byte(data)); err != nil || len(inv.hosts) != want {
			t.Errorf("%q: %d hosts, %v", data, len(inv.hosts), err)
		}
	}
	// At the bounds: distinct hosts, and names listed in all (counted
	// from where earlier lines left them).
	for _, tt := range []struct {
		hosts, expanded int
		data, want      string
	}{
		{0, 0, "[a]\nw[1:30001]\n", "hosts:2: more than 30000 hosts"},
		{0, maxAnsibleExpanded - 5, "[a]\nw[1:5]\nw[1:5]\n", `hosts:3: host pattern "w[1:5]": more than 300000 host names listed in the inventory (a host counts in each group listing it)`},
	} {
		inv := newAnsibleInventory("hosts")
		inv.expanded = tt.expanded
		if err := inv.readINI([]byte(tt.data)); err == nil || err.Error() != tt.want {
			t.Errorf("%q after %d names: %v, want %s", tt.data, tt.expanded, err, tt.want)
		}
	}
	var ladder strings.Builder
	ladder.WriteString("[g0]\nbottom\n[g0:vars]\nansible_port=2000\n")
	for i := 1; i <= 23; i++ {
		fmt.Fprintf(&ladder, "[l%d:children]\ng%d\n[r%d:children]\ng%d\n[g%d:children]\nl%d\nr%d\n[l%d:vars]\nansible_user=l%d\n", i, i-1, i, i-1, i, i, i, i, i)
	}
	inv, err := Parse("hosts", []byte(ladder.String()), noSSHConfig)
	if err != nil {
		t.Fatal(err)
	}
	// g0 is the deepest group (47 levels below all): its port wins over
	// none; l1, at depth 46, is the deepest to set ansible_user.
	if h := inv.Hosts[0]; h.Port != 2000 || h.User != "l1" || len(h.Labels) != 3*23+1 {
		t.Errorf("ladder: port %d user %s, %d labels", h.Port, h.User, len(h.Labels))
	}
	for _, file := range []string{"edge-old-new-names/hosts", "edge-precedence/hosts", "kolla-multinode/multinode"} {
		path := filepath.Join("testdata", "ansible", "corpus", file)
		want, err := Load(path, noSSHConfig)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			got, err := Load(path, noSSHConfig)
			if err != nil || !reflect.DeepEqual(summary(got), summary(want)) || !reflect.DeepEqual(got.Warnings, want.Warnings) {
				t.Fatalf("%s reads differently from one load to the next", file)
			}
		}
	}
}

// BenchmarkAnsibleTenThousand reads and resolves an inventory of 10,000
// hosts with a group var each: go test -bench AnsibleTenThousand.
func BenchmarkAnsibleTenThousand(b *testing.B) {
	data := []byte("[web]\nweb[0000:9999].example.com\n[web:vars]\nansible_user=deploy\nansible_ssh_common_args='-o StrictHostKeyChecking=accept-new'\n")
	for b.Loop() {
		if _, err := Parse("hosts", data, noSSHConfig); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAnsibleInventoryFolder: a folder given as the inventory is read as
// Ansible reads it, each setting's origin naming the file it came from,
// and an error in one of its files names that file and line.
func TestAnsibleInventoryFolder(t *testing.T) {
	dir := filepath.Join("testdata", "ansible", "corpus", "docs-inventory-folder", "inventory")
	inv, err := Load(dir, noSSHConfig)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Host{}
	for _, h := range inv.Hosts {
		got[h.Name] = h
	}
	db, www1 := got["db1.example.com"], got["www1.example.com"]
	if len(inv.Hosts) != 4 || db.Address != "192.0.2.61" || db.User != "dba" || len(www1.Jumps) != 1 || www1.User != "deploy" {
		t.Errorf("hosts %v", summary(inv))
	}
	if want := filepath.Join(dir, "host_vars", "db1.example.com.yml") + ":1"; db.Origins["hostname"] != want {
		t.Errorf("db1's address from %q, want %q", db.Origins["hostname"], want)
	}
	if want := filepath.Join(dir, "group_vars", "cloud.yml") + ":1"; www1.Origins["proxyjump"] != want {
		t.Errorf("www1's jump from %q, want %q", www1.Origins["proxyjump"], want)
	}
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "a"), []byte("[web]\nw1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "b"), []byte("[web]\nw2 ansible_port\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(broken, noSSHConfig)
	if want := filepath.Join(broken, "b") + `:2: host w2: want key=value after the host, got "ansible_port"`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
