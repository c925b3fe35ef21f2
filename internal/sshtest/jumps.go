package sshtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Jumps is a bastion and two hosts behind it, each sshd in a namespace of
// its own: the machine reaches only Bastion, Bastion only Inner, and Inner
// only Target, so Target is reached in two hops or not at all.
type Jumps struct {
	Bastion, Inner, Target *OpenSSH
	TargetNetns            *Netns // where Target runs
	// SSHConfig names them bastion, inner (ProxyJump bastion) and target
	// (ProxyJump bastion,inner; port 2222), each with its own key, all with
	// KnownHosts, which holds the three host keys.
	SSHConfig, KnownHosts string
}

// StartJumps builds Jumps on 10.213.N.0/24, N+1 and N+2 (N from 200 to
// 208); tests that run at once each take their own N.
func StartJumps(t testing.TB, n int) *Jumps {
	t.Helper()
	if n < 200 || n > 208 {
		t.Fatalf("StartJumps(%d): keep to 10.213.200.0/24-10.213.210.0/24", n)
	}
	RequireOpenSSH(t)
	bastionNS, innerNS, targetNS := NewNetns(t), NewNetns(t), NewNetns(t)
	net := func(i, host int) string { return fmt.Sprintf("10.213.%d.%d", n+i, host) }
	Link(t, nil, net(0, 1)+"/24", bastionNS, net(0, 2)+"/24")
	Link(t, bastionNS, net(1, 1)+"/24", innerNS, net(1, 2)+"/24")
	Link(t, innerNS, net(2, 1)+"/24", targetNS, net(2, 2)+"/24")
	Unreachable(t, net(1, 0)+"/24")
	Unreachable(t, net(2, 0)+"/24")
	j := &Jumps{
		TargetNetns: targetNS,
		Bastion:     StartOpenSSHWith(t, Options{Netns: bastionNS, Host: net(0, 2)}),
		Inner:       StartOpenSSHWith(t, Options{Netns: innerNS, Host: net(1, 2)}),
		Target:      StartOpenSSHWith(t, Options{Netns: targetNS, Host: net(2, 2), Port: 2222}),
	}
	dir := t.TempDir()
	j.KnownHosts, j.SSHConfig = filepath.Join(dir, "known_hosts"), filepath.Join(dir, "ssh_config")
	for _, s := range []*OpenSSH{j.Bastion, j.Inner, j.Target} {
		AppendKnownHosts(t, j.KnownHosts, s.Host, s.Port, s.HostKey)
	}
	config := fmt.Sprintf(`Host bastion
  HostName %s
  IdentityFile %s
Host inner
  HostName %s
  IdentityFile %s
  ProxyJump bastion
Host target
  HostName %s
  Port %d
  User %s
  IdentityFile %s
  ProxyJump bastion,inner
Host *
  UserKnownHostsFile %s
  StrictHostKeyChecking yes
  BatchMode yes
`, j.Bastion.Host, j.Bastion.IdentityFile, j.Inner.Host, j.Inner.IdentityFile,
		j.Target.Host, j.Target.Port, j.Target.User, j.Target.IdentityFile, j.KnownHosts)
	if err := os.WriteFile(j.SSHConfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return j
}
