package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/yamlfile"
)

// varsDir reads the group_vars/ and host_vars/ of one folder (the
// inventory's, or a playbook's) as Ansible's host_group_vars plugin does.
type varsDir struct {
	dir    string
	cache  map[string]map[string]ansibleVar // "group_vars/web" → its vars
	absent []string                         // group_vars, host_vars: not a folder here
	warn   func(Warning)
}

// varsExtensions are the names Ansible tries after NAME itself, in order.
var varsExtensions = []string{"", ".yml", ".yaml", ".json"}

// maxVarsDirDepth bounds the folders nested under group_vars/NAME/: a
// symbolic link to its own folder would otherwise be read forever.
const maxVarsDirDepth = 40

// vars are the variables of group or host name (sub is group_vars or
// host_vars): those of NAME, else NAME.yml, NAME.yaml or NAME.json, the
// first that exists; a folder's files (every file of no extension or one
// of those, at any depth, hidden ones and backups~ passed over) combined
// in sorted order, the last winning.
func (d *varsDir) vars(sub, name string) (map[string]ansibleVar, error) {
	if d == nil || name == "" || strings.HasPrefix(name, "/") {
		return nil, nil
	}
	key := sub + "/" + name
	if v, ok := d.cache[key]; ok {
		return v, nil
	}
	d.cache[key] = nil
	base := filepath.Join(d.dir, sub)
	if _, seen := d.cache[sub]; !seen { // the folder itself, looked at once
		d.cache[sub] = nil
		info, err := os.Stat(base)
		switch {
		case err != nil:
			d.absent = append(d.absent, sub)
		case !info.IsDir():
			d.absent = append(d.absent, sub)
			d.warn(Warning{File: base, Msg: "not a folder: passed over, as Ansible passes it over"})
		}
	}
	if contains(d.absent, sub) {
		return nil, nil
	}
	var files []string
	for _, ext := range varsExtensions {
		path := filepath.Join(base, name) + ext
		info, err := os.Stat(path)
		if err != nil {
			continue
		}
		switch {
		case info.IsDir():
			if files, err = varsDirFiles(path, 0); err != nil {
				return nil, err
			}
		case info.Mode().IsRegular():
			files = []string{path}
		}
		break
	}
	vars := map[string]ansibleVar{}
	for _, file := range files {
		data, err := readVarsFile(file)
		if err != nil {
			return nil, err
		}
		fileVars, err := parseVarsFile(file, data)
		if errors.Is(err, errVault) {
			d.warn(Warning{File: file, Msg: "encrypted with ansible-vault: passed over (everywhere cannot read it; connection variables kept there are not followed)"})
			continue
		}
		if err != nil {
			return nil, err
		}
		for k, v := range fileVars {
			vars[k] = v
		}
	}
	d.cache[key] = vars
	return vars, nil
}

// maxVarsFile bounds a vars file read: variables, not data.
const maxVarsFile = 16 << 20

func readVarsFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxVarsFile+1))
	if err == nil && len(data) > maxVarsFile {
		err = fmt.Errorf("%s: larger than %d MiB: not a vars file", file, maxVarsFile>>20)
	}
	return data, err
}

func varsDirFiles(dir string, depth int) ([]string, error) {
	if depth > maxVarsDirDepth {
		return nil, fmt.Errorf("%s: folders nested more than %d deep (a link to itself?)", dir, maxVarsDirDepth)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var files []string
	for _, name := range names {
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
			continue
		}
		path, ext := filepath.Join(dir, name), filepath.Ext(name)
		info, err := os.Stat(path)
		switch {
		case err != nil:
			continue // a broken link, as Ansible passes it over
		case info.IsDir() && ext == "":
			more, err := varsDirFiles(path, depth+1)
			if err != nil {
				return nil, err
			}
			files = append(files, more...)
		case info.Mode().IsRegular() && (ext == "" || contains(varsExtensions, ext)):
			files = append(files, path)
		}
	}
	return files, nil
}

var errVault = errors.New("encrypted with ansible-vault")

// parseVarsFile reads a group_vars or host_vars file: one YAML (or JSON)
// document, a mapping of variables; an empty one has none.
func parseVarsFile(file string, data []byte) (map[string]ansibleVar, error) {
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("$ANSIBLE_VAULT;")) {
		return nil, errVault
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return nil, nil
	case err != nil:
		_, err = yamlfile.Parse(file, data) // the same error, with its line
		return nil, err
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		line := next.Line
		if err != nil {
			line = 0
		}
		return nil, &yamlfile.Error{File: file, Line: line, Msg: "more than one YAML document: Ansible reads a vars file as one"}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := resolveAlias(doc.Content[0])
	if root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, yamlfile.Errorf(file, root, "want a mapping of variables (name: value)")
	}
	pairs, err := yamlPairs(file, root)
	if err != nil {
		return nil, err
	}
	vars := make(map[string]ansibleVar, len(pairs))
	for _, p := range pairs {
		vars[p.key.Value] = yamlVar(file, p.key, p.value)
	}
	return vars, nil
}

// hostVars are a host's variables combined as Ansible's VariableManager
// combines them, each layer replacing the keys of those before:
// all's (inventory file, then group_vars/all beside the inventory, then
// beside the playbook), every other group's from the inventory file, then
// their group_vars/ (inventory's, then playbook's), the groups ordered by
// depth, ansible_group_priority and name; then the host's own from the
// inventory file, then host_vars/ (inventory's, then playbook's). Also
// the host's labels: its groups but all and ungrouped, sorted.
func (inv *ansibleInventory) hostVars(h *ansibleHost, dirs []*varsDir) (map[string]ansibleVar, []string, error) {
	groups := inv.memberOf(h)
	sort.Slice(groups, func(i, j int) bool {
		a, b := inv.groups[groups[i]], inv.groups[groups[j]]
		if da, db := inv.depths[a.name], inv.depths[b.name]; da != db {
			return da < db
		}
		if a.priority != b.priority {
			return a.priority < b.priority
		}
		return a.name < b.name
	})
	vars := map[string]ansibleVar{}
	set := func(layer map[string]ansibleVar) {
		for k, v := range layer {
			vars[k] = v
		}
	}
	fromDirs := func(sub, name string) error {
		for _, d := range dirs {
			layer, err := d.vars(sub, name)
			if err != nil {
				return err
			}
			set(layer)
		}
		return nil
	}
	set(inv.groups["all"].vars)
	if err := fromDirs("group_vars", "all"); err != nil {
		return nil, nil, err
	}
	var labels []string
	for _, g := range groups {
		set(inv.groups[g].vars)
		if g != "ungrouped" {
			labels = append(labels, g)
		}
	}
	for _, d := range dirs {
		for _, g := range groups {
			layer, err := d.vars("group_vars", g)
			if err != nil {
				return nil, nil, err
			}
			set(layer)
		}
	}
	set(h.vars)
	if err := fromDirs("host_vars", h.name); err != nil {
		return nil, nil, err
	}
	sort.Strings(labels)
	return vars, labels, nil
}

// templating: the one form of Jinja followed, {{ name }}.
var (
	jinjaExpr = regexp.MustCompile(`\{\{(.*?)\}\}`)
	jinjaName = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*$`)
)

// maxTemplateDepth bounds variables referring to variables: a loop ends
// in an error, as in Ansible.
const maxTemplateDepth = 20

// maxTemplateOutput bounds what a value renders to: a few variables each
// referring twice to the next would otherwise double it at every level.
const maxTemplateOutput = 64 << 10

// templater renders the {{ variable }} references of a host's connection
// variables from its other variables, as Ansible renders them when it
// connects. Anything else of Jinja (filters, lookups, expressions,
// attributes) is refused: following it would mean running Ansible.
type templater struct {
	vars  map[string]ansibleVar
	magic map[string]string // inventory_hostname and the like
}

func (t templater) render(name string, v ansibleVar, depth int) (string, error) {
	if v.vault {
		return "", fmt.Errorf("%s is encrypted with ansible-vault, which everywhere cannot read", name)
	}
	if v.complex {
		return "", fmt.Errorf("%s is a list or a mapping, not a string", name)
	}
	if v.null {
		return "", nil
	}
	if v.unsafe || !strings.Contains(v.value, "{") {
		return v.value, nil
	}
	if depth > maxTemplateDepth {
		return "", fmt.Errorf("%s: variables refer to each other more than %d deep (a loop?)", name, maxTemplateDepth)
	}
	var failed error
	size := len(v.value)
	out := jinjaExpr.ReplaceAllStringFunc(v.value, func(expr string) string {
		m := jinjaName.FindStringSubmatch(expr[2 : len(expr)-2])
		if failed != nil {
			return ""
		}
		if size > maxTemplateOutput {
			failed = fmt.Errorf("%s: renders to more than %d bytes", name, maxTemplateOutput)
			return ""
		}
		if m == nil {
			failed = fmt.Errorf("%s: %q: Jinja beyond {{ variable }} is not followed by everywhere (give the value itself)", name, v.value)
			return ""
		}
		if s, ok := t.magic[m[1]]; ok {
			return s
		}
		ref, ok := t.vars[m[1]]
		if !ok {
			failed = fmt.Errorf("%s: %q: %s is undefined", name, v.value, m[1])
			return ""
		}
		s, err := t.render(m[1], ref, depth+1)
		failed, size = err, size+len(s)
		return s
	})
	if failed != nil {
		return "", failed
	}
	if strings.Contains(out, "{{") || strings.Contains(v.value, "{%") || strings.Contains(v.value, "{#") {
		return "", fmt.Errorf("%s: %q: Jinja beyond {{ variable }} is not followed by everywhere (give the value itself)", name, v.value)
	}
	return out, nil
}
