package inventory

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/yamlfile"
)

// readYAML reads Ansible's YAML form: top-level groups (usually all:), each
// a mapping of hosts: (host patterns, each with its vars), children:
// (groups, recursively) and vars:.
func (inv *ansibleInventory) readYAML(data []byte) error {
	root, err := yamlfile.Parse(inv.file, data)
	if err != nil {
		return err
	}
	root = resolveAlias(root)
	if v := mappingValue(root, "plugin"); v != nil {
		return yamlfile.Errorf(inv.file, v, "plugin: %s: inventory plugins are not supported (give the hosts in an INI or YAML inventory)", v.Value)
	}
	groups, err := yamlPairs(inv.file, root)
	if err != nil {
		return err
	}
	for _, p := range groups {
		if err := inv.yamlGroup(p.key, p.value, 0); err != nil {
			return err
		}
	}
	return nil
}

// maxGroupNesting bounds how deep children: may nest in the YAML form,
// so that a hostile file ends in an error, not a stack overflow.
const maxGroupNesting = 1000

func (inv *ansibleInventory) yamlGroup(key, node *yaml.Node, depth int) error {
	name := key.Value
	if depth > maxGroupNesting {
		return yamlfile.Errorf(inv.file, key, "group %s: children nested more than %d deep", name, maxGroupNesting)
	}
	inv.group(name, key.Line)
	if node.Tag == "!!null" {
		return nil
	}
	if node.Kind != yaml.MappingNode {
		return yamlfile.Errorf(inv.file, node, "group %s: want a mapping of hosts:, children: and vars:", name)
	}
	sections, err := yamlPairs(inv.file, node)
	if err != nil {
		return err
	}
	for _, s := range sections {
		k, v := s.key, s.value
		if k.Value != "hosts" && k.Value != "children" && k.Value != "vars" {
			return yamlfile.Errorf(inv.file, k, "group %s: %s: unknown (a group has hosts:, children: and vars:)", name, k.Value)
		}
		if v.Tag == "!!null" {
			continue
		}
		if k.Value == "hosts" && v.Kind == yaml.ScalarNode {
			// Ansible takes `hosts: web1` (a colon forgotten) as one host.
			v = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{v, {Tag: "!!null", Line: v.Line}}}
		}
		if v.Kind != yaml.MappingNode {
			return yamlfile.Errorf(inv.file, v, "group %s: %s: want a mapping", name, k.Value)
		}
		entries, err := yamlPairs(inv.file, v)
		if err != nil {
			return err
		}
		for _, e := range entries {
			switch k.Value {
			case "vars":
				err = inv.setGroupVar(name, e.key.Value, yamlVar(inv.file, e.key, e.value))
			case "children":
				if err = inv.yamlGroup(e.key, e.value, depth+1); err == nil {
					err = inv.addChild(name, e.key.Value, e.key.Line)
				}
			case "hosts":
				err = inv.yamlHost(name, e.key, e.value)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (inv *ansibleInventory) yamlHost(group string, key, node *yaml.Node) error {
	names, port, err := expandHostPattern(key.Value, maxAnsibleExpanded-inv.expanded)
	if err != nil {
		return yamlfile.Errorf(inv.file, key, "%v", err)
	}
	vars := map[string]ansibleVar{}
	switch {
	case node.Tag == "!!null":
	case node.Kind != yaml.MappingNode:
		return yamlfile.Errorf(inv.file, node, "host %s: want its variables as a mapping, or nothing", key.Value)
	default:
		pairs, err := yamlPairs(inv.file, node)
		if err != nil {
			return err
		}
		for _, p := range pairs {
			vars[p.key.Value] = yamlVar(inv.file, p.key, p.value)
		}
	}
	if err := inv.addHosts(names, port, vars, group, key.Line); err != nil {
		return yamlfile.Errorf(inv.file, key, "%v", strings.TrimPrefix(err.Error(), fmt.Sprintf("%s:%d: ", inv.file, key.Line)))
	}
	return nil
}

// yamlPair is one key of a mapping and its value, aliases resolved.
type yamlPair struct{ key, value *yaml.Node }

// maxMergedPairs bounds the keys a mapping's merge keys (<<) may bring
// in, merges of merges included: a few lines can otherwise ask for
// exponentially many.
const maxMergedPairs = 100_000

// yamlPairs are a mapping's keys in the order that, applied one after the
// other with the last winning, gives the mapping as YAML 1.1 defines it
// (and PyYAML, Ansible's parser, builds it): the keys merged in with
// `<<: *a` or `<<: [*a, *b]` first (of several, the first winning), then
// the mapping's own, a key given twice taking its last value.
func yamlPairs(file string, node *yaml.Node) ([]yamlPair, error) {
	budget := maxMergedPairs
	return flattenMapping(file, node, &budget, 0)
}

func flattenMapping(file string, node *yaml.Node, budget *int, depth int) ([]yamlPair, error) {
	if depth > 100 {
		return nil, yamlfile.Errorf(file, node, "merge keys (<<) nested more than 100 deep")
	}
	var merged, own []yamlPair
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], resolveAlias(node.Content[i+1])
		if k.Value != "<<" || k.Tag != "!!merge" {
			own = append(own, yamlPair{k, v})
			continue
		}
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = nil
			for j := len(v.Content) - 1; j >= 0; j-- { // the first listed wins: applied last
				sources = append(sources, resolveAlias(v.Content[j]))
			}
		}
		for _, src := range sources {
			if src.Kind != yaml.MappingNode {
				return nil, yamlfile.Errorf(file, src, "<<: want a mapping (or a list of mappings) to merge")
			}
			pairs, err := flattenMapping(file, src, budget, depth+1)
			if err != nil {
				return nil, err
			}
			merged = append(merged, pairs...)
		}
	}
	*budget -= len(merged) + len(own)
	if *budget < 0 {
		return nil, yamlfile.Errorf(file, node, "merge keys (<<) bring in more than %d keys", maxMergedPairs)
	}
	return append(merged, own...), nil
}

// YAML 1.1 scalars (PyYAML's, so Ansible's) that YAML 1.2 reads otherwise.
var (
	yaml11Bool = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	yaml11Int  = regexp.MustCompile(`^[-+]?(?:0b[0-1_]+|0[0-7_]+|(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
)

// yamlVar is a variable's value as Ansible reads it: plain scalars as YAML
// 1.1 types them (yes is true, 010 is 8), as Python prints them.
func yamlVar(file string, key, value *yaml.Node) ansibleVar {
	v := ansibleVar{value: value.Value, file: file, line: key.Line, complex: value.Kind != yaml.ScalarNode, unsafe: value.Tag == "!unsafe", vault: value.Tag == "!vault"}
	if value.Kind != yaml.ScalarNode || value.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return v
	}
	switch s := value.Value; {
	case value.Tag == "!!null":
		v.null = true
	case value.Tag == "!!str" && value.Style&yaml.TaggedStyle != 0, value.Tag == "!unsafe", value.Tag == "!vault":
	case yaml11Bool.MatchString(s):
		v.value = "False"
		if strings.Contains("yYtTo", s[:1]) && !strings.EqualFold(s, "off") {
			v.value = "True"
		}
	case yaml11Int.MatchString(s):
		if n, ok := parseYAML11Int(s); ok {
			v.value = strconv.FormatInt(n, 10)
		}
	}
	return v
}

// parseYAML11Int reads an integer as YAML 1.1 writes it: _ separators,
// 0b binary, 0 octal, 0x hex, and base 60 (1:30 is 90).
func parseYAML11Int(s string) (int64, bool) {
	s = strings.ReplaceAll(s, "_", "")
	sign := int64(1)
	if s != "" && (s[0] == '-' || s[0] == '+') {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	var n int64
	var err error
	switch {
	case strings.Contains(s, ":"):
		for _, part := range strings.Split(s, ":") {
			d, e := strconv.ParseInt(part, 10, 64)
			if e != nil || n > (1<<62)/60 {
				return 0, false
			}
			n = n*60 + d
		}
	case strings.HasPrefix(s, "0b"):
		n, err = strconv.ParseInt(s[2:], 2, 64)
	case strings.HasPrefix(s, "0x"):
		n, err = strconv.ParseInt(s[2:], 16, 64)
	case len(s) > 1 && s[0] == '0':
		n, err = strconv.ParseInt(s[1:], 8, 64)
	default:
		n, err = strconv.ParseInt(s, 10, 64)
	}
	return sign * n, err == nil
}
