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
	a, b, key, known := twoSSHDs(t, dir, "known_hosts")
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

// twoSSHDs starts two sshds, on 127.0.0.1 and 127.0.0.2, that take one
// user key (its file returned), their host keys in dir/knownHostsName.
func twoSSHDs(t *testing.T, dir, knownHostsName string) (a, b *sshtest.OpenSSH, key, known string) {
	t.Helper()
	signer, key := sshtest.NewUserKey(t, dir)
	a = sshtest.StartOpenSSHWith(t, sshtest.Options{Host: "127.0.0.1", UserKey: &sshtest.UserKey{Signer: signer, IdentityFile: key}})
	b = sshtest.StartOpenSSHWith(t, sshtest.Options{Host: "127.0.0.2", UserKey: &sshtest.UserKey{Signer: signer, IdentityFile: key}})
	known = filepath.Join(dir, knownHostsName)
	sshtest.WriteKnownHosts(t, known, a.Host, a.Port, a.HostKey)
	sshtest.AppendKnownHosts(t, known, b.Host, b.Port, b.HostKey)
	return a, b, key, known
}

func readFile(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestAnsibleGroupVarsAndLeftOut runs through an Ansible inventory whose
// connection settings live in group_vars/ beside it and host_vars/ of a
// playbook folder (--ansible-playbook-dir), with ssh options in
// ansible_ssh_common_args and an address from {{ ip }}, on two real sshds;
// the hosts Ansible would reach locally or by WinRM are left out with a
// warning naming their line, and --strict-inventory refuses them instead.
func TestAnsibleGroupVarsAndLeftOut(t *testing.T) {
	dir := t.TempDir()
	a, b, key, known := twoSSHDs(t, dir, "fleet known_hosts")
	inv := filepath.Join(dir, "hosts")
	writeFile(t, inv, fmt.Sprintf(`[web]
web1 ip=%s ansible_port=%d

[db]
db1 ansible_host=%s

[deployment]
localhost ansible_connection=local

[windows]
win1 ansible_connection=winrm ansible_password=secret
`, a.Host, a.Port, b.Host))
	for file, content := range map[string]string{
		"group_vars/all/connection.yml": fmt.Sprintf("ansible_user: %s\nansible_ssh_private_key_file: %s\nansible_ssh_common_args: >-\n  -o StrictHostKeyChecking=yes -o 'UserKnownHostsFile=\"%s\"'\n", a.User, key, known),
		"group_vars/web.yml":            "ansible_host: \"{{ ip }}\"\n",
		"playbook/host_vars/db1.yml":    fmt.Sprintf("ansible_port: %d\n", b.Port),
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, file)), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, file), content)
	}
	code, res, _ := runSaved(t, "exec", "-i", inv, "--ssh-config", "none", "--ansible-playbook-dir", filepath.Join(dir, "playbook"), "--", "echo", "hello")
	var names []string
	for _, h := range res.Hosts {
		names = append(names, h.Name)
		if h.Status != result.OK || h.Steps[0].Stdout != "hello\n" {
			t.Errorf("%s: status %s error %q stdout %q", h.Name, h.Status, h.Error, h.Steps[0].Stdout)
		}
	}
	if code != 0 || strings.Join(names, ",") != "web1,db1" {
		t.Errorf("exit %d, hosts %v; want 0 and web1,db1", code, names)
	}
	_, _, stderr := everywhere(context.Background(), "exec", "-i", inv, "--ssh-config", "none", "--no-progress", "-o", t.TempDir(), "--ansible-playbook-dir", filepath.Join(dir, "playbook"), "--", "true")
	for _, want := range []string{
		"everywhere: warning: " + inv + `:8: host "localhost" left out: ansible_connection local: everywhere reaches hosts over ssh only`,
		"everywhere: warning: " + inv + `:11: host "win1" left out: ansible_connection winrm: everywhere reaches hosts over ssh only`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	code, _, stderr = everywhere(context.Background(), "exec", "-i", inv, "--ssh-config", "none", "--strict-inventory", "--no-progress", "-o", t.TempDir(), "--", "true")
	if code != 2 || !strings.Contains(stderr, `host "localhost" left out`) || !strings.Contains(stderr, "--strict-inventory") {
		t.Errorf("--strict-inventory: exit %d\n%s", code, stderr)
	}
}
