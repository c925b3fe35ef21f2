package inventory

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"everywhere/internal/sshconfig"
)

// ansibleCase is one inventory of the corpus: a file of testdata/ansible,
// or a folder of testdata/ansible/corpus holding one inventory file (or
// an inventory/ folder of them) beside its group_vars/ and host_vars/,
// and perhaps a playbook/ folder with its own (read as with
// --ansible-playbook-dir).
type ansibleCase struct {
	name, file, playbookDir string
}

func ansibleCases(t *testing.T) []ansibleCase {
	t.Helper()
	var cases []ansibleCase
	files, _ := filepath.Glob(filepath.Join("testdata", "ansible", "*"))
	for _, f := range files {
		if info, err := os.Stat(f); err == nil && info.Mode().IsRegular() {
			cases = append(cases, ansibleCase{name: filepath.Base(f), file: f})
		}
	}
	dirs, _ := filepath.Glob(filepath.Join("testdata", "ansible", "corpus", "*"))
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		c := ansibleCase{name: filepath.Base(dir)}
		for _, e := range entries {
			switch {
			case e.Name() == "playbook" && e.IsDir():
				c.playbookDir = filepath.Join(dir, e.Name())
			case e.Type().IsRegular() || e.Name() == "inventory" && e.IsDir(): // a file, or a folder of them
				if c.file != "" {
					t.Fatalf("%s: two inventories, %s and %s", dir, c.file, e.Name())
				}
				c.file = filepath.Join(dir, e.Name())
			}
		}
		if c.file == "" {
			t.Fatalf("%s: no inventory file", dir)
		}
		cases = append(cases, c)
	}
	return cases
}

// ansibleEnv runs Ansible apart from the machine's own settings and
// state: no ansible.cfg, its files under dir.
func ansibleEnv(t *testing.T, dir string) []string {
	cfg := filepath.Join(dir, "ansible.cfg")
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "ANSIBLE_CONFIG="+cfg, "ANSIBLE_HOME="+dir, "ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
		"ANSIBLE_SSH_CONTROL_PATH_DIR="+filepath.Join(dir, "cp"), "ANSIBLE_INVENTORY_UNPARSED_FAILED=1",
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_RETRY_FILES_ENABLED=0")
}

// ansibleGroups are the groups of every host (all and ungrouped left
// out) as ansible-inventory --list reads the inventory.
func ansibleGroups(t *testing.T, c ansibleCase, dir string) map[string][]string {
	t.Helper()
	args := []string{"-i", c.file, "--list"}
	if c.playbookDir != "" {
		args = append(args, "--playbook-dir", c.playbookDir)
	}
	cmd := exec.Command("ansible-inventory", args...)
	cmd.Env = ansibleEnv(t, dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-inventory %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var list map[string]struct {
		Hosts    []string `json:"hosts"`
		Children []string `json:"children"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatal(err)
	}
	groups := map[string]map[string]bool{}
	var walk func(group string, above []string, depth int)
	walk = func(group string, above []string, depth int) {
		if depth > 100 {
			t.Fatalf("ansible-inventory: groups nested over 100 deep under %s", group)
		}
		path := append(append([]string(nil), above...), group)
		for _, h := range list[group].Hosts {
			if groups[h] == nil {
				groups[h] = map[string]bool{}
			}
			for _, g := range path {
				if g != "all" && g != "ungrouped" {
					groups[h][g] = true
				}
			}
		}
		for _, c := range list[group].Children {
			walk(c, path, depth+1)
		}
	}
	walk("all", nil, 0)
	sorted := map[string][]string{}
	for h, set := range groups {
		sorted[h] = []string{}
		for g := range set {
			sorted[h] = append(sorted[h], g)
		}
		sort.Strings(sorted[h])
	}
	return sorted
}

// fakeSSH stands in for ssh: it writes the arguments Ansible gives it,
// one per NUL, to $EVERYWHERE_FAKE_SSH_OUT/NAME (NAME: its own name, a
// host's), and fails as an unreachable host does. Nothing is dialled.
const fakeSSH = `#!/bin/sh
out="$EVERYWHERE_FAKE_SSH_OUT/$(basename "$0")"
[ -e "$out" ] || for a in "$@"; do printf '%s\0' "$a"; done > "$out"
echo "ssh: connect to host: no route (everywhere's fake ssh)" >&2
exit 255
`

// ansibleSSHCommands runs a module on every host with Ansible, ssh
// replaced by fakeSSH, and returns the ssh command Ansible built for each
// host it would reach over ssh.
func ansibleSSHCommands(t *testing.T, c ansibleCase, hosts []string, dir string) map[string][]string {
	t.Helper()
	bin, out := filepath.Join(dir, "bin"), filepath.Join(dir, "out")
	for _, d := range []string{bin, out} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(dir, "fake-ssh")
	if err := os.WriteFile(script, []byte(fakeSSH), 0o700); err != nil {
		t.Fatal(err)
	}
	byHash := map[string]string{}
	for _, h := range hosts {
		sum := md5.Sum([]byte(h))
		name := hex.EncodeToString(sum[:])
		byHash[name] = h
		if err := os.Symlink(script, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	extra, _ := json.Marshal(map[string]string{"ansible_ssh_executable": bin + "/{{ inventory_hostname | md5 }}"})
	args := []string{"all", "-i", c.file, "-m", "ping", "-f", "32", "-e", string(extra)}
	if c.playbookDir != "" {
		args = append(args, "--playbook-dir", c.playbookDir)
	}
	cmd := exec.Command("ansible", args...)
	cmd.Env = append(ansibleEnv(t, dir), "EVERYWHERE_FAKE_SSH_OUT="+out)
	output, _ := cmd.CombinedOutput() // unreachable hosts fail it: that is the point
	commands := map[string][]string{}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		commands[byHash[e.Name()]] = strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
	}
	if len(commands) == 0 && testing.Verbose() {
		t.Logf("ansible %s: no ssh command for any host\n%s", strings.Join(args, " "), output)
	}
	return commands
}

// sshG is what ssh -G resolves from Ansible's ssh command, no config
// read (as everywhere reads none here): a line of the settings compared.
func sshG(t *testing.T, name string, command []string, groups []string) (string, bool) {
	t.Helper()
	cmd := exec.Command("ssh", append([]string{"-G", "-F", "/dev/null"}, command...)...)
	out, err := cmd.Output()
	if err != nil {
		return "", false // ssh refuses the command: so would it connect
	}
	g := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, " ")
		g[k] = append(g[k], v)
	}
	one := func(k string) string { return strings.Join(g[k], ",") }
	home, _ := os.UserHomeDir()
	var keys []string
	for _, k := range g["identityfile"] {
		if !strings.HasPrefix(k, "~/.ssh/id_") { // not one of ssh's defaults
			keys = append(keys, resolvePath("", strings.Replace(k, "~", home, 1)))
		}
	}
	strict := map[string]string{"ask": "", "true": "yes", "false": "no", "accept-new": "accept-new"}[one("stricthostkeychecking")]
	jump := ""
	if j := one("proxyjump"); j != "" {
		var hops []string
		for _, hop := range strings.Split(j, ",") {
			own, host, err := parseHop(hop)
			if err != nil {
				t.Fatalf("ssh -G proxyjump %q: %v", j, err)
			}
			hops = append(hops, fmt.Sprintf("%s@%s:%d", first(own.User, currentUser()), host, first(own.Port, DefaultPort)))
		}
		jump = strings.Join(hops, ",")
	}
	proxy := one("proxycommand")
	if proxy != "" {
		port := 0
		fmt.Sscan(one("port"), &port)
		var err error
		if proxy, err = sshconfig.Expand(proxy, sshconfig.Tokens{Alias: one("hostname"), HostName: one("hostname"), Port: port, User: one("user")}); err != nil {
			t.Fatalf("ssh -G proxycommand %q: %v", proxy, err)
		}
	}
	timeout := one("connecttimeout")
	if timeout == "none" {
		timeout = DefaultConnectTimeout.String()
	} else {
		timeout += "s"
	}
	known := strings.Fields(one("userknownhostsfile"))
	return compareLine(name, one("hostname"), one("port"), one("user"), keys, jump, proxy, strict, known[0], timeout, groups), true
}

// compareLine is one host as compared: its address, port, user, keys,
// route, host key checking, known_hosts file, connect timeout and groups.
func compareLine(name, address, port, user string, keys []string, jump, proxy, strict, known, timeout string, groups []string) string {
	return fmt.Sprintf("%s address=%s port=%s user=%s keys=%s jump=%s proxy=%q strict=%s known_hosts=%s timeout=%s groups=%s",
		name, address, port, user, strings.Join(keys, ","), jump, proxy, strict, known, timeout, strings.Join(groups, ","))
}

// everywhereLine is compareLine of a Host as everywhere resolved it.
func everywhereLine(name string, h Host) string {
	keys := h.ConfigIdentities
	if h.Identity != "" {
		keys = []string{h.Identity}
	}
	// ssh's default identities are left out on both sides (see sshG).
	home, _ := os.UserHomeDir()
	keys = slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return strings.HasPrefix(k, filepath.Join(home, ".ssh", "id_")) })
	var hops []string
	for _, j := range h.Jumps {
		hops = append(hops, fmt.Sprintf("%s@%s:%d", j.User, j.Address, j.Port))
	}
	timeout := (h.ConnectTimeout / time.Second * time.Second).String()
	return compareLine(name, h.Address, fmt.Sprint(h.Port), h.User, keys, strings.Join(hops, ","), h.ProxyCommand, h.HostKeyPolicy, h.KnownHosts, timeout, h.Labels)
}

// TestAnsibleAgrees reads every inventory of the corpus with Ansible
// itself (Debian's ansible-core) and with everywhere. For every host
// Ansible lists: its groups (ansible-inventory --list), and how it is
// reached, from the ssh command Ansible builds for it (ssh replaced by a
// stand-in that records it) as ssh -G reads that command: address, port,
// user, keys, ProxyJump, ProxyCommand, StrictHostKeyChecking,
// UserKnownHostsFile, ConnectTimeout. A host that Ansible reaches
// otherwise than by ssh, or whose command ssh refuses, is one everywhere
// must leave out with a warning; one everywhere leaves out as "not
// followed" (an ssh option it does not apply) is reported, not failed.
func TestAnsibleAgrees(t *testing.T) {
	for _, tool := range []string{"ansible-inventory", "ansible", "ssh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install ansible-core openssh-client; scripts/install-deps installs both): the corpus cannot be compared", tool)
		}
	}
	for _, c := range ansibleCases(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			groups := ansibleGroups(t, c, dir)
			names := make([]string, 0, len(groups))
			for h := range groups {
				names = append(names, h)
			}
			sort.Strings(names)
			commands := ansibleSSHCommands(t, c, names, dir)

			inv, err := Load(c.file, Options{SSHConfig: sshconfig.None, PlaybookDir: c.playbookDir})
			if err != nil && strings.Contains(err.Error(), "no host everywhere can reach") {
				for _, name := range names {
					if cmd, ok := commands[name]; ok {
						if line, reached := sshG(t, name, cmd, groups[name]); reached {
							t.Errorf("Ansible reaches %s as\n  %s\nbut everywhere: %v", name, line, err)
						}
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ours, leftOut := map[string]Host{}, map[string]string{}
			for i, h := range inv.Hosts {
				ours[h.Name] = inv.Hosts[i]
			}
			for _, w := range inv.Warnings {
				if w.Host != "" {
					leftOut[hostName(w.Host)] = w.String()
				}
			}
			var want, got []string
			for _, name := range names {
				line, reached := "", false
				if cmd, ok := commands[name]; ok {
					line, reached = sshG(t, name, cmd, groups[name])
				}
				h, kept := ours[hostName(name)]
				why := leftOut[hostName(name)]
				switch {
				case !reached && !kept:
					continue // left out by both
				case !reached:
					t.Errorf("%s: Ansible does not reach it by ssh, but everywhere keeps it: %s", name, everywhereLine(name, h))
				case !kept && strings.Contains(why, "not followed by everywhere"):
					t.Logf("%s: left out as not followed (%s); Ansible reaches it as %s", name, why, line)
				case !kept:
					t.Errorf("%s: Ansible reaches it as\n  %s\nbut everywhere left it out: %s", name, line, why)
				default:
					want, got = append(want, line), append(got, everywhereLine(name, h))
				}
			}
			for i := range want {
				if want[i] != got[i] {
					t.Errorf("host resolved differently\nansible:    %s\neverywhere: %s", want[i], got[i])
				}
			}
			t.Logf("%d hosts compared, %d left out by both", len(want), len(names)-len(want))
		})
	}
}
