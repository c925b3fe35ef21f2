package inventory

import (
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
	for i := 0; i+1 < len(root.Content); i += 2 {
		if err := inv.yamlGroup(root.Content[i], resolveAlias(root.Content[i+1])); err != nil {
			return err
		}
	}
	return nil
}

func (inv *ansibleInventory) yamlGroup(key, node *yaml.Node) error {
	name := key.Value
	inv.group(name, key.Line)
	if node.Tag == "!!null" {
		return nil
	}
	if node.Kind != yaml.MappingNode {
		return yamlfile.Errorf(inv.file, node, "group %s: want a mapping of hosts:, children: and vars:", name)
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], resolveAlias(node.Content[i+1])
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
		for j := 0; j+1 < len(v.Content); j += 2 {
			ek, ev := v.Content[j], resolveAlias(v.Content[j+1])
			var err error
			switch k.Value {
			case "vars":
				inv.groups[name].vars[ek.Value] = yamlVar(ek, ev)
			case "children":
				if err = inv.yamlGroup(ek, ev); err == nil {
					err = inv.addChild(name, ek.Value, ek.Line)
				}
			case "hosts":
				err = inv.yamlHost(name, ek, ev)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (inv *ansibleInventory) yamlHost(group string, key, node *yaml.Node) error {
	names, port, err := expandHostPattern(key.Value)
	if err != nil {
		return yamlfile.Errorf(inv.file, key, "%v", err)
	}
	vars := map[string]ansibleVar{}
	switch {
	case node.Tag == "!!null":
	case node.Kind != yaml.MappingNode:
		return yamlfile.Errorf(inv.file, node, "host %s: want its variables as a mapping, or nothing", key.Value)
	default:
		for i := 0; i+1 < len(node.Content); i += 2 {
			vars[node.Content[i].Value] = yamlVar(node.Content[i], resolveAlias(node.Content[i+1]))
		}
	}
	for _, name := range names {
		inv.addHost(name, port, vars, group, key.Line)
	}
	return nil
}

func yamlVar(key, value *yaml.Node) ansibleVar {
	return ansibleVar{value: value.Value, line: key.Line, complex: value.Kind != yaml.ScalarNode}
}
