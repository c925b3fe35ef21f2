package inventory

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/host"
	"everywhere/internal/sshconfig"
)

// Form is how an inventory file is written.
type Form string

// The inventory forms -i reads.
const (
	FormEverywhere  Form = "everywhere"   // ours: defaults: and a hosts: list
	FormAnsibleINI  Form = "ansible-ini"  // Ansible's INI: [group], [group:vars], [group:children]
	FormAnsibleYAML Form = "ansible-yaml" // Ansible's YAML: all: {hosts:, children:, vars:}
)

// Detect tells an inventory's form from its name and content: a .ini file
// is Ansible's INI; a YAML mapping with a hosts: list or defaults: is ours;
// one whose every top-level value is a group (a mapping or nothing) is
// Ansible's YAML; anything else that is not named .yaml/.yml/.json is
// Ansible's INI, as Ansible reads a file without an extension.
func Detect(file string, data []byte) Form {
	ext := strings.ToLower(filepath.Ext(file))
	if ext == ".ini" {
		return FormAnsibleINI
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil && len(doc.Content) == 1 {
		if root := resolveAlias(doc.Content[0]); root.Kind == yaml.MappingNode {
			if mappingValue(root, "hosts") != nil || mappingValue(root, "defaults") != nil {
				return FormEverywhere
			}
			groups := true
			for i := 1; i < len(root.Content); i += 2 {
				v := resolveAlias(root.Content[i])
				groups = groups && (v.Kind == yaml.MappingNode || v.Tag == "!!null")
			}
			if groups || mappingValue(root, "plugin") != nil {
				return FormAnsibleYAML
			}
		}
	}
	if ext == ".yaml" || ext == ".yml" || ext == ".json" {
		return FormEverywhere // its own reader says what is wrong with it
	}
	return FormAnsibleINI
}

// ansibleInventory is an Ansible inventory as read, before its hosts are
// resolved: groups with their vars and children, hosts with their own vars.
type ansibleInventory struct {
	file   string
	groups map[string]*ansibleGroup
	hosts  map[string]*ansibleHost
	order  []string // host names, in the order first declared
}

type ansibleGroup struct {
	name     string
	line     int
	vars     map[string]ansibleVar
	children []string
	parents  []string
}

type ansibleHost struct {
	name   string
	line   int
	vars   map[string]ansibleVar
	groups []string // the groups that list it directly
}

// ansibleVar is a variable's value as text (what everywhere reads of it is
// text: an address, a port, a path) and where it was set.
type ansibleVar struct {
	value   string
	line    int
	complex bool // a list or a mapping, which no variable read here may be
}

func newAnsibleInventory(file string) *ansibleInventory {
	inv := &ansibleInventory{file: file, groups: map[string]*ansibleGroup{}, hosts: map[string]*ansibleHost{}}
	inv.group("all", 0)
	inv.group("ungrouped", 0)
	return inv
}

func (inv *ansibleInventory) errorf(line int, format string, args ...any) error {
	if line > 0 {
		return fmt.Errorf("%s:%d: %s", inv.file, line, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%s: %s", inv.file, fmt.Sprintf(format, args...))
}

func (inv *ansibleInventory) group(name string, line int) *ansibleGroup {
	g := inv.groups[name]
	if g == nil {
		g = &ansibleGroup{name: name, line: line, vars: map[string]ansibleVar{}}
		inv.groups[name] = g
	}
	return g
}

// addChild makes child a child of parent; a loop is an error, as in Ansible.
func (inv *ansibleInventory) addChild(parent, child string, line int) error {
	if parent == child || inv.descends(parent, child) {
		return inv.errorf(line, "group %q as a child of %q makes a loop", child, parent)
	}
	p, c := inv.group(parent, line), inv.group(child, line)
	for _, existing := range p.children {
		if existing == child {
			return nil
		}
	}
	p.children = append(p.children, child)
	c.parents = append(c.parents, parent)
	return nil
}

// descends says whether group g has ancestor among its parents' chains.
func (inv *ansibleInventory) descends(g, ancestor string) bool {
	for _, p := range inv.groups[g].parentsOrNone() {
		if p == ancestor || inv.descends(p, ancestor) {
			return true
		}
	}
	return false
}

func (g *ansibleGroup) parentsOrNone() []string {
	if g == nil {
		return nil
	}
	return g.parents
}

// addHost lists a host in group, merging its vars with those it already has.
func (inv *ansibleInventory) addHost(name string, port int, vars map[string]ansibleVar, group string, line int) {
	h := inv.hosts[name]
	if h == nil {
		h = &ansibleHost{name: name, line: line, vars: map[string]ansibleVar{}}
		inv.hosts[name] = h
		inv.order = append(inv.order, name)
	}
	if port != 0 {
		// host:port is the host's own ansible_port, as in Ansible: above
		// any group's, below one given on the same line.
		h.vars["ansible_port"] = ansibleVar{value: strconv.Itoa(port), line: line}
	}
	for k, v := range vars {
		h.vars[k] = v
	}
	for _, g := range h.groups {
		if g == group {
			return
		}
	}
	h.groups = append(h.groups, group)
}

// depth is a group's distance from all, its longest path: Ansible applies
// the vars of shallower groups first, so a child group's vars win.
func (inv *ansibleInventory) depth(name string) int {
	g := inv.groups[name]
	if name == "all" || g == nil {
		return 0
	}
	d := 0
	for _, p := range g.parents {
		d = max(d, inv.depth(p))
	}
	return d + 1
}

// memberOf is every group a host belongs to: those listing it and their
// ancestors, all included.
func (inv *ansibleInventory) memberOf(h *ansibleHost) []string {
	seen := map[string]bool{"all": true}
	var walk func(string)
	walk = func(g string) {
		if seen[g] {
			return
		}
		seen[g] = true
		for _, p := range inv.groups[g].parentsOrNone() {
			walk(p)
		}
	}
	for _, g := range h.groups {
		walk(g)
	}
	groups := make([]string, 0, len(seen))
	for g := range seen {
		groups = append(groups, g)
	}
	return groups
}

// vars are a host's variables as Ansible combines them: all's, then each
// group's by depth and name, then the host's own.
func (inv *ansibleInventory) vars(h *ansibleHost) (map[string]ansibleVar, []string) {
	groups := inv.memberOf(h)
	sort.Slice(groups, func(i, j int) bool {
		di, dj := inv.depth(groups[i]), inv.depth(groups[j])
		if di != dj {
			return di < dj
		}
		return groups[i] < groups[j]
	})
	vars := map[string]ansibleVar{}
	var labels []string
	for _, g := range groups {
		for k, v := range inv.groups[g].vars {
			vars[k] = v
		}
		if g != "all" && g != "ungrouped" {
			labels = append(labels, g)
		}
	}
	for k, v := range h.vars {
		vars[k] = v
	}
	sort.Strings(labels)
	return vars, labels
}

// ansibleVars are the variables everywhere reads, and their older names.
var ansibleVars = map[string]string{
	"ansible_host": "ansible_host", "ansible_ssh_host": "ansible_host",
	"ansible_port": "ansible_port", "ansible_ssh_port": "ansible_port",
	"ansible_user": "ansible_user", "ansible_ssh_user": "ansible_user",
	"ansible_ssh_private_key_file": "ansible_ssh_private_key_file",
	"ansible_connection":           "ansible_connection",
	"ansible_ssh_common_args":      "ansible_ssh_common_args",
	"ansible_ssh_extra_args":       "ansible_ssh_extra_args",
	"ansible_password":             "ansible_password", "ansible_ssh_pass": "ansible_password",
	"arch": "arch",
}

// resolve turns the inventory's hosts into Hosts, in the order declared.
func (inv *ansibleInventory) resolve(opts Options) (*Inventory, error) {
	if len(inv.order) == 0 {
		return nil, inv.errorf(0, "no hosts in this Ansible inventory")
	}
	ssh, err := sshconfig.Load(opts.SSHConfig)
	if err != nil {
		return nil, err
	}
	p := &parser{file: inv.file, base: filepath.Dir(inv.file), resolver: resolver{ssh: ssh}, blocks: opts.Blocks}
	out := &Inventory{File: inv.file}
	names := map[string]string{}
	for _, name := range inv.order {
		h, err := inv.host(p, inv.hosts[name])
		if err != nil {
			return nil, err
		}
		if other, dup := names[h.Name]; dup {
			return nil, inv.errorf(h.Line, "host %q: its name as everywhere writes it, %s, is also %q's", name, h.Name, other)
		}
		names[h.Name] = name
		out.Hosts = append(out.Hosts, h)
	}
	return out, nil
}

func (inv *ansibleInventory) host(p *parser, ah *ansibleHost) (Host, error) {
	all, labels := inv.vars(ah)
	vars := map[string]ansibleVar{}
	for k, v := range all {
		name, ok := ansibleVars[k]
		if !ok {
			continue // a playbook's variable, not everywhere's
		}
		if v.complex {
			return Host{}, inv.errorf(v.line, "host %q: %s: want a string", ah.name, k)
		}
		vars[name] = v
	}
	fail := func(key, format string, args ...any) error {
		return inv.errorf(vars[key].line, "host %q: %s: %s", ah.name, key, fmt.Sprintf(format, args...))
	}
	if c, ok := vars["ansible_connection"]; ok && c.value != "ssh" {
		return Host{}, fail("ansible_connection", "%q is not supported (everywhere connects over ssh only)", c.value)
	}
	if _, ok := vars["ansible_password"]; ok {
		return Host{}, fail("ansible_password", "password authentication is not supported: use a key (ansible_ssh_private_key_file, ssh-agent)")
	}
	own := settings{User: vars["ansible_user"].value, Identity: resolvePath("", vars["ansible_ssh_private_key_file"].value)}
	if v, ok := vars["ansible_port"]; ok {
		n, err := strconv.Atoi(v.value)
		if err != nil || n < 1 || n > 65535 {
			return Host{}, fail("ansible_port", "%q is not a port in 1-65535", v.value)
		}
		own.Port = n
	}
	for _, key := range []string{"ansible_ssh_common_args", "ansible_ssh_extra_args"} {
		if v, ok := vars[key]; ok {
			jump, err := proxyJumpArgs(v.value)
			if err != nil {
				return Host{}, fail(key, "%v", err)
			}
			own.ProxyJump = first(jump, own.ProxyJump)
		}
	}
	var arch host.Arch
	if v, ok := vars["arch"]; ok {
		a, err := host.ParseArch(v.value)
		if err != nil {
			return Host{}, fail("arch", "%v", err)
		}
		arch = a
	}
	address := first(vars["ansible_host"].value, ah.name)
	h, err := p.resolve(address, own, settings{}, 0)
	if err != nil {
		return Host{}, inv.errorf(ah.line, "host %q: %v", ah.name, err)
	}
	h.Name, h.Arch, h.Labels, h.Line = hostName(ah.name), arch, labels, ah.line
	where := fmt.Sprintf("host %q", ah.name)
	if h.blocks, err = p.decodeBlocks(nil, where); err != nil {
		return Host{}, err
	}
	return h, nil
}

// proxyJumpArgs reads the jump host from ssh arguments as Ansible
// inventories give them (-J HOST, -o ProxyJump=HOST); any other argument
// would change how the host is reached in a way not followed here.
func proxyJumpArgs(args string) (string, error) {
	words, err := shellWords(args)
	if err != nil {
		return "", err
	}
	jump := ""
	for i := 0; i < len(words); i++ {
		w := words[i]
		opt, ok := "", false
		switch {
		case w == "-J" || w == "-o":
			if i+1 == len(words) {
				return "", fmt.Errorf("%s without a value", w)
			}
			opt, ok = words[i+1], true
			if w == "-J" {
				opt = "ProxyJump=" + opt
			}
			i++
		case strings.HasPrefix(w, "-J"):
			opt, ok = "ProxyJump="+w[2:], true
		case strings.HasPrefix(w, "-o"):
			opt, ok = w[2:], true
		}
		key, value, _ := strings.Cut(opt, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(key), "ProxyJump") {
			return "", fmt.Errorf("%q is not supported (only -J HOST and -o ProxyJump=HOST are; put other options in ~/.ssh/config)", w)
		}
		jump = strings.TrimSpace(value)
	}
	return jump, nil
}

// parseAnsible reads an inventory in one of Ansible's forms.
func parseAnsible(file string, data []byte, form Form, opts Options) (*Inventory, error) {
	if bytes.HasPrefix(data, []byte("#!")) {
		return nil, fmt.Errorf("%s:1: a dynamic inventory script: not supported (give the hosts in an INI or YAML inventory)", file)
	}
	inv := newAnsibleInventory(file)
	var err error
	if form == FormAnsibleINI {
		err = inv.readINI(data)
	} else {
		err = inv.readYAML(data)
	}
	if err != nil {
		return nil, err
	}
	return inv.resolve(opts)
}
