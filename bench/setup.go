package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"everywhere/internal/sshconn"
)

// benchUser runs the commands on the OpenSSH target: an unprivileged user
// whose shell is /bin/sh, so no heavy login files are timed.
const benchUser = "everywhere-bench"

type keys struct {
	signer       ssh.Signer
	identityFile string
	host         ssh.Signer
	hostKeyFile  string
}

func newKeys(dir string) (*keys, error) {
	k := &keys{identityFile: filepath.Join(dir, "id_ed25519"), hostKeyFile: filepath.Join(dir, "ssh_host_ed25519_key")}
	var err error
	if k.signer, err = sshconn.WriteNewKey(k.identityFile, ""); err != nil {
		return nil, err
	}
	if k.host, err = sshconn.WriteNewKey(k.hostKeyFile, ""); err != nil {
		return nil, err
	}
	return k, nil
}

type sshd struct {
	cmds    []*exec.Cmd
	port    int
	hostKey ssh.PublicKey
}

func (s *sshd) stop() {
	for _, cmd := range s.cmds {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// listenLimit is OpenSSH's MAX_LISTEN_SOCKS: one sshd listens on at most
// 16 addresses, so a fleet of n addresses takes n/16 of them.
const listenLimit = 16

// startSSHD runs the machine's OpenSSH sshd on a free port of n loopback
// addresses, for benchUser only, with keys only.
func startSSHD(dir string, k *keys, n int) (*sshd, error) {
	if exec.Command("id", benchUser).Run() != nil {
		if out, err := exec.Command("useradd", "--system", "--create-home", "--shell", "/bin/sh", benchUser).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("useradd %s: %v: %s", benchUser, err, out)
		}
	}
	// No password, but not locked: sshd without PAM refuses locked accounts.
	if out, err := exec.Command("usermod", "-p", "*", benchUser).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("usermod %s: %v: %s", benchUser, err, out)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // sshd reads authorized_keys as the user
		return nil, err
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(k.signer.PublicKey()), 0o644); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, err
	}
	s := &sshd{port: port, hostKey: k.host.PublicKey()}
	for first := 0; first < n; first += listenLimit {
		lines := []string{"HostKey " + k.hostKeyFile, "AuthorizedKeysFile " + authorized, "AllowUsers " + benchUser, "PidFile none",
			"StrictModes no", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
			"MaxStartups 2000", "MaxSessions 100", "LogLevel ERROR"}
		for i := first; i < min(first+listenLimit, n); i++ {
			lines = append(lines, fmt.Sprintf("ListenAddress %s:%d", loopback(i), port))
		}
		config := filepath.Join(dir, fmt.Sprintf("sshd_config.%d", first))
		if err := os.WriteFile(config, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			return nil, err
		}
		cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", config)
		if err := cmd.Start(); err != nil {
			s.stop()
			return nil, err
		}
		s.cmds = append(s.cmds, cmd)
	}
	for i := 0; i < n; i += listenLimit {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if c, err := net.Dial("tcp", net.JoinHostPort(loopback(i), fmt.Sprint(port))); err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				s.stop()
				return nil, fmt.Errorf("sshd did not listen on %s:%d", loopback(i), port)
			}
		}
	}
	return s, nil
}

// fleet is one fleet described for every tool.
type fleet struct {
	dir, user                                         string
	inventory, plan, psshHosts, pdshHosts, knownHosts string
	ansibleInventory, sshArgs                         string
}

func writeFleet(base, name string, n, port int, user string, k *keys, hostKey ssh.PublicKey) (*fleet, error) {
	dir := filepath.Join(base, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f := &fleet{dir: dir, user: user, inventory: filepath.Join(dir, "inventory.yaml"), plan: filepath.Join(dir, "plan.yaml"),
		psshHosts: filepath.Join(dir, "pssh-hosts"), pdshHosts: filepath.Join(dir, "pdsh-hosts"), knownHosts: filepath.Join(dir, "known_hosts"),
		ansibleInventory: filepath.Join(dir, "ansible.ini")}
	f.sshArgs = fmt.Sprintf("-i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes -p %d", k.identityFile, f.knownHosts, port)
	var inv, pssh, pdsh, known, ansible strings.Builder
	fmt.Fprintf(&inv, "defaults: {user: %s, identity: %s, known_hosts: %s, port: %d, connect_timeout: 60s}\nhosts:\n", user, k.identityFile, f.knownHosts, port)
	ansible.WriteString("[all]\n")
	archs := []string{"armhf", "arm64", "i686", "amd64", "ppc64el", "s390x"}
	for i := 0; i < n; i++ {
		addr := loopback(i)
		fmt.Fprintf(&inv, "  - {name: h%d, arch: %s, address: %s}\n", i, archs[i%6], addr)
		fmt.Fprintf(&pssh, "%s:%d\n", addr, port)
		fmt.Fprintf(&pdsh, "%s\n", addr)
		fmt.Fprintln(&known, knownhosts.Line([]string{knownhosts.Normalize(fmt.Sprintf("%s:%d", addr, port))}, hostKey))
		fmt.Fprintf(&ansible, "%s ansible_port=%d ansible_user=%s ansible_ssh_private_key_file=%s\n", addr, port, user, k.identityFile)
	}
	plan := "name: three-steps\nsteps:\n  - {shell: uname -a}\n  - {shell: uname -m}\n  - {shell: cat /etc/os-release}\n"
	for file, content := range map[string]string{f.inventory: inv.String(), f.plan: plan, f.psshHosts: pssh.String(),
		f.pdshHosts: pdsh.String(), f.knownHosts: known.String(), f.ansibleInventory: ansible.String()} {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	return f, nil
}
