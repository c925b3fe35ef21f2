package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"everywhere/internal/golden"
	"everywhere/internal/sshconfig"
)

// TestHostsResolve: hosts --resolve shows, without connecting, what each
// host resolves to and where each value came from, the same with either
// resolver; a config ssh refuses is refused with its file:line, exit 2.
func TestHostsResolve(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "ssh_config")
	content := `Host web1
  HostName 10.213.200.5
  User deploy
  Port 2222
  IdentityFile ` + dir + `/keys/%r@%h
  CertificateFile ` + dir + `/keys/deploy-cert.pub
  ProxyJump bastion
Host bastion
  HostName 10.213.200.1
  HostKeyAlias bastion.lab
  User ops
  IdentityFile ` + dir + `/keys/bastion
Host *
  UserKnownHostsFile ` + dir + `/known_hosts "` + dir + `/team hosts"
  GlobalKnownHostsFile none
`
	inv := filepath.Join(dir, "inv.yaml")
	writeFile(t, inv, "defaults: {ssh_config: ssh_config}\nhosts:\n  - {name: web1, address: web1, arch: amd64, labels: [web, prod]}\n  - {name: db, address: 10.213.200.9, user: root, port: 2200, arch: arm64}\n")
	resolvers := []string{sshconfig.ResolverBuiltin}
	if _, err := exec.LookPath("ssh"); err == nil {
		resolvers = append(resolvers, sshconfig.ResolverOpenSSH)
	}
	home, _ := os.UserHomeDir()
	for _, r := range resolvers {
		writeFile(t, config, content)
		for _, format := range []string{"table", "json"} {
			code, stdout, stderr := everywhere(context.Background(), "hosts", "-i", inv, "--resolve", "--ssh-resolver", r, "--format", format)
			if code != 0 {
				t.Fatalf("%s: exit %d: %s", r, code, stderr)
			}
			out := strings.NewReplacer(dir, "$DIR", home, "$HOME", "ssh config resolved by ssh -G", "ssh config resolved by R",
				"ssh config resolved by everywhere's own resolver", "ssh config resolved by R", `"resolver": "`+r+`"`, `"resolver": "R"`).Replace(stdout)
			// Columns are as wide as the temporary folder's name, which varies.
			out = regexp.MustCompile(`(\S)  +`).ReplaceAllString(out, "$1  ")
			golden.Check(t, "hosts-resolve."+format, []byte(out))
		}
		writeFile(t, config, "Host other\n  Port 99999\n")
		code, _, stderr := everywhere(context.Background(), "hosts", "-i", inv, "--resolve", "--ssh-resolver", r)
		if code != 2 || !strings.Contains(stderr, config+":2: Bad port '99999'.") {
			t.Errorf("%s: a config ssh refuses: exit %d, %s", r, code, stderr)
		}
	}
}
