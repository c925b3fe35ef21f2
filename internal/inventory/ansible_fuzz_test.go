package inventory

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuzzInput is the largest input the fuzz targets read: an inventory
// or vars file of up to 1 MB must end in a value or an error.
const maxFuzzInput = 1 << 20

// seedAnsible adds to f every file of testdata/ansible that keep says to.
func seedAnsible(f *testing.F, keep func(path string, data []byte) bool) {
	err := filepath.WalkDir(filepath.Join("testdata", "ansible"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil && keep(path, data) {
			f.Add(data)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
}

func isInventory(path string) bool {
	return !strings.Contains(path, "_vars"+string(filepath.Separator)) && !strings.Contains(path, string(filepath.Separator)+"keys"+string(filepath.Separator))
}

// checkParsed: an inventory read is either an error naming the file, or
// hosts each with a name, an address and a port, and warnings each
// naming a file.
func checkParsed(t *testing.T, file string, inv *Inventory, err error) {
	t.Helper()
	if err != nil {
		if !strings.HasPrefix(err.Error(), file+":") && !strings.HasPrefix(err.Error(), "group_vars") {
			t.Fatalf("error names no file: %v", err)
		}
		return
	}
	for _, h := range inv.Hosts {
		if h.Name == "" || h.Address == "" || h.Port < 1 || h.Port > 65535 {
			t.Fatalf("host %+v", h)
		}
	}
	for _, w := range inv.Warnings {
		if w.File == "" || w.Msg == "" {
			t.Fatalf("warning %+v", w)
		}
	}
}

// FuzzAnsibleINI reads anything as Ansible's INI form.
func FuzzAnsibleINI(f *testing.F) {
	seedAnsible(f, func(path string, data []byte) bool {
		return isInventory(path) && Detect(path, data) == FormAnsibleINI
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		inv, err := parseAnsible("hosts", data, FormAnsibleINI, noSSHConfig)
		checkParsed(t, "hosts", inv, err)
	})
}

// FuzzAnsibleYAML reads anything as Ansible's YAML form.
func FuzzAnsibleYAML(f *testing.F) {
	seedAnsible(f, func(path string, data []byte) bool {
		return isInventory(path) && Detect(path, data) == FormAnsibleYAML
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		inv, err := parseAnsible("hosts.yml", data, FormAnsibleYAML, noSSHConfig)
		checkParsed(t, "hosts.yml", inv, err)
	})
}

// FuzzAnsibleGroupVars reads anything as a group_vars file, and resolves
// hosts with what it sets: templates, ssh options and all.
func FuzzAnsibleGroupVars(f *testing.F) {
	seedAnsible(f, func(path string, _ []byte) bool { return !isInventory(path) })
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		vars, err := parseVarsFile("group_vars/all.yml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "group_vars/all.yml") && err != errVault {
				t.Fatalf("error names no file: %v", err)
			}
			return
		}
		inv := newAnsibleInventory("hosts")
		if err := inv.readINI([]byte("[web]\nw1\nw2 ansible_host=192.0.2.1 ansible_port=2222\n[db]\nd1\n")); err != nil {
			t.Fatal(err)
		}
		for k, v := range vars {
			inv.groups["all"].vars[k] = v
		}
		got, err := inv.resolve(noSSHConfig)
		checkParsed(t, "hosts", got, err)
	})
}
