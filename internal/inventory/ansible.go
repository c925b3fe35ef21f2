package inventory

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
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

// Bounds on what one Ansible inventory may expand to, so that a typo such
// as web[1:1000000] (or a hostile file) ends in an error, not in memory
// exhausted: distinct hosts, and host names produced by every pattern of
// the file together (a host listed in several groups counts each time).
const (
	maxAnsibleHosts    = 30_000
	maxAnsibleExpanded = 300_000
)

// ansibleInventory is an Ansible inventory as read, before its hosts are
// resolved: groups with their vars and children, hosts with their own vars.
type ansibleInventory struct {
	file     string // the file being read; once read, the source (a file or a folder)
	base     string // the folder whose group_vars/ and host_vars/ apply
	groups   map[string]*ansibleGroup
	hosts    map[string]*ansibleHost
	order    []string       // host names, in the order first declared
	expanded int            // host names the patterns have produced so far
	depths   map[string]int // memo of depth, filled once reading is done
}

type ansibleGroup struct {
	name     string
	line     int
	vars     map[string]ansibleVar
	priority int // ansible_group_priority: orders groups of one depth
	children []string
	parents  []string
}

type ansibleHost struct {
	name   string
	file   string // where it is first listed, at line
	line   int
	vars   map[string]ansibleVar
	groups []string // the groups that list it directly
}

// ansibleVar is a variable's value as text (what everywhere reads of it is
// text: an address, a port, a path) and where it was set.
type ansibleVar struct {
	value   string
	file    string
	line    int
	null    bool // YAML's null, Python's None: defined, with no value
	complex bool // a list or a mapping, which no variable read here may be
	unsafe  bool // tagged !unsafe: never templated
	vault   bool // tagged !vault: encrypted, which everywhere cannot read
}

// where is the variable's file:line.
func (v ansibleVar) where() string { return fmt.Sprintf("%s:%d", v.file, v.line) }

func newAnsibleInventory(file string) *ansibleInventory {
	inv := &ansibleInventory{file: file, base: filepath.Dir(file), groups: map[string]*ansibleGroup{}, hosts: map[string]*ansibleHost{}}
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
		g = &ansibleGroup{name: name, line: line, vars: map[string]ansibleVar{}, priority: 1} // Ansible's default
		inv.groups[name] = g
	}
	return g
}

// setGroupVar sets a variable of a group declared in the inventory, as
// Ansible's Group.set_variable does: ansible_group_priority is the group's
// priority, not a variable.
func (inv *ansibleInventory) setGroupVar(group, key string, v ansibleVar) error {
	g := inv.groups[group]
	if key != "ansible_group_priority" {
		g.vars[key] = v
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v.value))
	if err != nil || v.null || v.complex {
		return fmt.Errorf("%s: group %s: ansible_group_priority: %q is not a whole number", v.where(), group, v.value)
	}
	g.priority = n
	return nil
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

// descends says whether group g has ancestor among its ancestors, each
// group visited once (a ladder of diamonds has exponentially many paths).
func (inv *ansibleInventory) descends(g, ancestor string) bool {
	seen := map[string]bool{}
	stack := []string{g}
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, p := range inv.groups[name].parentsOrNone() {
			if p == ancestor {
				return true
			}
			if !seen[p] {
				seen[p] = true
				stack = append(stack, p)
			}
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

// addHosts lists the hosts a pattern names in group, each with vars. As
// in Ansible, a host's port from host:port is set when the host is first
// listed (a later listing's port is not), while vars given on any
// listing are set in turn, the last winning.
func (inv *ansibleInventory) addHosts(names []string, port int, vars map[string]ansibleVar, group string, line int) error {
	inv.expanded += len(names)
	if inv.expanded > maxAnsibleExpanded {
		return inv.errorf(line, "%v", errTooManyNames)
	}
	for _, name := range names {
		if name == "" {
			return inv.errorf(line, "a host with no name")
		}
		h := inv.hosts[name]
		if h == nil {
			if len(inv.hosts) == maxAnsibleHosts {
				return inv.errorf(line, "more than %d hosts", maxAnsibleHosts)
			}
			h = &ansibleHost{name: name, file: inv.file, line: line, vars: map[string]ansibleVar{}}
			inv.hosts[name] = h
			inv.order = append(inv.order, name)
			if port != 0 {
				h.vars["ansible_port"] = ansibleVar{value: strconv.Itoa(port), file: inv.file, line: line}
			}
		}
		for k, v := range vars {
			h.vars[k] = v
		}
		if !contains(h.groups, group) {
			h.groups = append(h.groups, group)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// computeDepths sets every group's depth: its longest path from all, as
// Ansible keeps it (a child is one deeper than its deepest parent). Groups
// no other group lists are children of all. Each group is computed once.
func (inv *ansibleInventory) computeDepths() {
	inv.depths = map[string]int{"all": 0}
	var depth func(string) int
	depth = func(name string) int {
		if d, ok := inv.depths[name]; ok {
			return d
		}
		d := 0
		for _, p := range inv.groups[name].parents {
			d = max(d, depth(p))
		}
		inv.depths[name] = d + 1
		return d + 1
	}
	for name := range inv.groups {
		depth(name)
	}
}

// memberOf is every group a host belongs to but all: those listing it
// and their ancestors. As Ansible reconciles it, a host listed in
// ungrouped and in another group is not in ungrouped.
func (inv *ansibleInventory) memberOf(h *ansibleHost) []string {
	seen := map[string]bool{"all": true}
	var groups []string
	var walk func(string)
	walk = func(g string) {
		if seen[g] {
			return
		}
		seen[g] = true
		groups = append(groups, g)
		for _, p := range inv.groups[g].parentsOrNone() {
			walk(p)
		}
	}
	for _, g := range h.groups {
		if g != "ungrouped" {
			walk(g)
		}
	}
	if len(groups) == 0 {
		groups = append(groups, "ungrouped")
	}
	return groups
}

// parseAnsible reads an inventory in one of Ansible's forms.
func parseAnsible(file string, data []byte, form Form, opts Options) (*Inventory, error) {
	inv := newAnsibleInventory(file)
	if err := inv.read(data, form); err != nil {
		return nil, err
	}
	return inv.resolve(opts)
}

func (inv *ansibleInventory) read(data []byte, form Form) error {
	if bytes.HasPrefix(data, []byte("#!")) {
		return fmt.Errorf("%s:1: a dynamic inventory script: not supported (give the hosts in an INI or YAML inventory)", inv.file)
	}
	if form == FormAnsibleINI {
		return inv.readINI(data)
	}
	return inv.readYAML(data)
}

// ignoredInInventoryDir are the names Ansible passes over in a folder
// given as the inventory: hidden ones, the vars folders, and these
// endings (its INVENTORY_IGNORE_EXTS: .ini among them).
var (
	ignoredNames   = regexp.MustCompile(`^(?:\..*|host_vars|group_vars|vars_plugins)$`)
	ignoredEndings = []string{".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".ini", ".cfg", ".retry"}
)

// parseAnsibleDir reads a folder given as the inventory, as Ansible does:
// every file in it and its sub-folders, in sorted order, into one
// inventory; the group_vars/ and host_vars/ beside those files, in the
// folder itself, apply.
func parseAnsibleDir(dir string, opts Options) (*Inventory, error) {
	inv := newAnsibleInventory(dir)
	inv.base = dir
	if err := inv.readDir(dir, 0); err != nil {
		return nil, err
	}
	inv.file = dir
	return inv.resolve(opts)
}

func (inv *ansibleInventory) readDir(dir string, depth int) error {
	if depth > maxVarsDirDepth {
		return fmt.Errorf("%s: folders nested more than %d deep (a link to itself?)", dir, maxVarsDirDepth)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	for _, e := range entries { // sorted by name, as Ansible sorts them
		name, path := e.Name(), filepath.Join(dir, e.Name())
		if ignoredNames.MatchString(name) || slices.ContainsFunc(ignoredEndings, func(end string) bool { return strings.HasSuffix(name, end) }) {
			continue
		}
		info, err := os.Stat(path)
		switch {
		case err != nil:
			return fmt.Errorf("inventory: %w", err)
		case info.IsDir():
			err = inv.readDir(path, depth+1)
		default:
			var data []byte
			if data, err = readVarsFile(path); err == nil {
				inv.file = path
				form := Detect(path, data)
				if form == FormEverywhere {
					return fmt.Errorf("%s: not an Ansible inventory (in the inventory folder %s)", path, dir)
				}
				err = inv.read(data, form)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}
