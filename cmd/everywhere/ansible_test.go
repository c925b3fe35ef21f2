package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"everywhere/internal/host"
	"everywhere/internal/result"
	"everywhere/internal/sshtest"
)

// TestAnsibleINIInventory runs a command through an Ansible INI inventory
// on two real sshds: hosts named as Ansible names them, reached through
// ansible_host/ansible_port/ansible_user and a group's key file, one arch
// from a group var and one detected, and groups selecting as labels.
func TestAnsibleINIInventory(t *testing.T) {
	dir := t.TempDir()
	signer, key := sshtest.NewUserKey(t, dir)
	a := sshtest.StartOpenSSHWith(t, sshtest.Options{Host: "127.0.0.1", UserKey: &sshtest.UserKey{Signer: signer, IdentityFile: key}})
	b := sshtest.StartOpenSSHWith(t, sshtest.Options{Host: "127.0.0.2", UserKey: &sshtest.UserKey{Signer: signer, IdentityFile: key}})
	known := filepath.Join(dir, "known_hosts")
	sshtest.WriteKnownHosts(t, known, a.Host, a.Port, a.HostKey)
	sshtest.AppendKnownHosts(t, known, b.Host, b.Port, b.HostKey)
	config := filepath.Join(dir, "ssh_config")
	writeFile(t, config, "Host *\n  UserKnownHostsFile "+known+"\n")
	arch, err := host.ParseArch(runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(dir, "hosts")
	writeFile(t, inv, fmt.Sprintf(`# an Ansible inventory, as ansible -i hosts reads it
[web]
web1 ansible_host=%s ansible_port=%d

[db]
db1 ansible_host=%s ansible_port=%d arch=%s

[prod:children]
web
db

[prod:vars]
ansible_user=%s
ansible_ssh_private_key_file=%s
`, a.Host, a.Port, b.Host, b.Port, arch, a.User, key))

	for _, tt := range []struct {
		sel   string
		hosts []string
	}{{"", []string{"web1", "db1"}}, {"label=db", []string{"db1"}}} {
		args := []string{"exec", "-i", inv, "--ssh-config", config}
		if tt.sel != "" {
			args = append(args, "--hosts", tt.sel)
		}
		code, res, _ := runSaved(t, append(args, "--", "echo", "hello from $(hostname)")...)
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		var names []string
		for _, h := range res.Hosts {
			names = append(names, h.Name)
			if h.Status != result.OK || !strings.HasPrefix(h.Steps[0].Stdout, "hello from ") || h.Arch != string(arch) || h.ArchDetected != (h.Name == "web1") {
				t.Errorf("%s: status %s arch %s detected %v stdout %q", h.Name, h.Status, h.Arch, h.ArchDetected, h.Steps[0].Stdout)
			}
		}
		if strings.Join(names, ",") != strings.Join(tt.hosts, ",") {
			t.Errorf("--hosts %q ran on %v, want %v", tt.sel, names, tt.hosts)
		}
	}
	// The wrong key file, from the group's vars, is what the hosts are refused for.
	writeFile(t, inv, strings.Replace(readFile(t, inv), key, filepath.Join(dir, "missing-key"), 1))
	code, stdout, _ := everywhere(context.Background(), "exec", "-i", inv, "--ssh-config", config, "--no-progress", "--color", "never", "-o", t.TempDir(), "--", "true")
	if code == 0 || !strings.Contains(stdout, "missing-key") {
		t.Errorf("with a missing key file: exit %d\n%s", code, stdout)
	}
}

func readFile(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
