package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// ansibleList is what ansible-inventory --list prints: each group's hosts
// and children, and each host's variables, its groups' combined in.
type ansibleList struct {
	Meta struct {
		HostVars map[string]map[string]any `json:"hostvars"`
	} `json:"_meta"`
	groups map[string]struct {
		Hosts    []string `json:"hosts"`
		Children []string `json:"children"`
	}
}

// ansibleSummary is summary's line for each host as Ansible itself reads
// the file.
func ansibleSummary(t *testing.T, file string) []string {
	t.Helper()
	cmd := exec.Command("ansible-inventory", "-i", file, "--list")
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "ANSIBLE_HOME="+home, "ANSIBLE_LOCAL_TEMP="+home, "ANSIBLE_INVENTORY_UNPARSED_FAILED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-inventory -i %s --list: %v\n%s", file, err, stderr.String())
	}
	var list ansibleList
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&list); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &list.groups); err != nil {
		t.Fatal(err)
	}
	// Every host's groups: walk down from all, carrying the path.
	groupsOf := map[string]map[string]bool{}
	var order []string
	var walk func(group string, above []string)
	walk = func(group string, above []string) {
		path := append(append([]string(nil), above...), group)
		for _, h := range list.groups[group].Hosts {
			if groupsOf[h] == nil {
				groupsOf[h] = map[string]bool{}
				order = append(order, h)
			}
			for _, g := range path {
				groupsOf[h][g] = true
			}
		}
		for _, c := range list.groups[group].Children {
			walk(c, path)
		}
	}
	walk("all", nil)
	var lines []string
	for _, h := range order {
		vars := list.Meta.HostVars[h]
		get := func(k, fallback string) string {
			if v, ok := vars[k]; ok {
				return fmt.Sprint(v)
			}
			return fallback
		}
		var labels []string
		for g := range groupsOf[h] {
			if g != "all" && g != "ungrouped" {
				labels = append(labels, g)
			}
		}
		sort.Strings(labels)
		line := fmt.Sprintf("%s %s:%s arch=%s labels=%s", h, get("ansible_host", h), get("ansible_port", "22"), get("arch", "detect"), strings.Join(labels, ","))
		if u := get("ansible_user", currentUser()); u != currentUser() {
			line += " user=" + u
		}
		if k := get("ansible_ssh_private_key_file", ""); k != "" {
			line += " identity=" + k
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	return lines
}

// TestAnsibleAgrees reads every test inventory with Ansible itself
// (ansible-inventory, from Debian's ansible-core) and with ours: the same
// hosts, groups, addresses, ports, users, keys and arch.
func TestAnsibleAgrees(t *testing.T) {
	if _, err := exec.LookPath("ansible-inventory"); err != nil {
		t.Skip("ansible-inventory not installed (apt-get install ansible-core; scripts/install-deps bench installs ansible)")
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "ansible", "*"))
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want := ansibleSummary(t, file)
			got := summary(loadAnsible(t, filepath.Base(file)))
			sort.Strings(got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("everywhere reads\n%s\nansible-inventory reads\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
