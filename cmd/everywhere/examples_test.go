package main

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"

	"everywhere/internal/inventory"
	"everywhere/internal/lab"
	"everywhere/internal/plan"
)

// TestHelpExamplesParse reads every command's --help examples as a shell
// does (mvdan.cc/sh's parser) and checks that each everywhere command line
// in them names a command, takes its flags and its count of arguments, and
// that the lab's inventory is named where `lab up` writes it, a plan
// named without a path is a built-in one, and --hosts on the lab selects
// some of the lab's hosts: the examples run as written.
func TestHelpExamplesParse(t *testing.T) {
	root, _ := newRootCommand(&bytes.Buffer{}, &bytes.Buffer{})
	labInventory := filepath.Join(lab.DefaultDir, "inventory.yaml")
	labConfig := lab.Config{}.WithDefaults()
	labHosts := &inventory.Inventory{File: labInventory}
	for _, h := range labConfig.Hosts() {
		labHosts.Hosts = append(labHosts.Hosts, inventory.Host{Name: h.Name, Arch: h.Arch, Labels: []string{"lab"}})
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.Hidden {
			return
		}
		if c.Example == "" && c.HasParent() {
			t.Errorf("%s has no example in its --help", c.CommandPath())
			return
		}
		file, err := syntax.NewParser().Parse(strings.NewReader(c.Example), c.CommandPath())
		if err != nil {
			t.Errorf("%s: its examples do not parse as shell: %v", c.CommandPath(), err)
			return
		}
		syntax.Walk(file, func(node syntax.Node) bool {
			call, ok := node.(*syntax.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			words, err := expand.Fields(nil, call.Args...)
			if err != nil || words[0] != "everywhere" {
				return true
			}
			line := strings.Join(words, " ")
			fresh, _ := newRootCommand(&bytes.Buffer{}, &bytes.Buffer{})
			cmd, rest, err := fresh.Find(words[1:])
			if err != nil {
				t.Errorf("%s example %q: %v", c.CommandPath(), line, err)
				return true
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("%s example %q: %v", c.CommandPath(), line, err)
				return true
			}
			if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
				t.Errorf("%s example %q: %v", c.CommandPath(), line, err)
			}
			inv, _ := cmd.Flags().GetString("inventory")
			if strings.Contains(inv, "/everywhere/lab") && inv != labInventory {
				t.Errorf("%s example %q: the lab's inventory is %s", c.CommandPath(), line, labInventory)
			}
			if p, err := cmd.Flags().GetString("plan"); err == nil && !strings.ContainsAny(p, "/.") && !slices.Contains(plan.Builtins(), p) {
				t.Errorf("%s example %q: no built-in plan %q (built in: %s)", c.CommandPath(), line, p, strings.Join(plan.Builtins(), ", "))
			}
			if sel, err := cmd.Flags().GetString("hosts"); err == nil && inv == labInventory {
				if _, err := labHosts.Select(sel); err != nil {
					t.Errorf("%s example %q on the lab: %v", c.CommandPath(), line, err)
				}
			}
			return true
		})
	}
	walk(root)
}
