package sshtest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// Netns is a network namespace of the test's own: hosts that the machine
// reaches only through another (a bastion) live in one. Tests keep their
// addresses in 10.213.200.0/24-10.213.210.0/24, and nothing is routed or
// forwarded off the machine.
type Netns struct {
	Name string
}

var netnsCount atomic.Int32

// RequireNetns skips the test where network namespaces cannot be made (not
// root, no ip), except under CI, where that is a broken setup and fails it.
func RequireNetns(t testing.TB) {
	t.Helper()
	err := exec.Command("ip", "netns", "list").Run()
	if err == nil && os.Geteuid() == 0 {
		return
	}
	why := fmt.Sprintf("network namespaces need root and iproute2 (euid %d, ip netns list: %v)", os.Geteuid(), err)
	if os.Getenv("CI") != "" {
		t.Fatal(why + " under CI")
	}
	t.Skip(why)
}

// NewNetns makes a namespace, deleted at the end of the test.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	RequireNetns(t)
	ns := &Netns{Name: fmt.Sprintf("evw-%d-%d", os.Getpid(), netnsCount.Add(1))}
	run(t, "ip", "netns", "add", ns.Name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns.Name).Run() })
	ns.ip(t, "link", "set", "lo", "up")
	return ns
}

// Link joins a and b (nil: the machine's own namespace) with a veth pair,
// giving a's end aCIDR and b's bCIDR, such as 10.213.200.1/24. Namespaces
// forward nothing, so a link reaches only the namespace at its other end.
func Link(t testing.TB, a *Netns, aCIDR string, b *Netns, bCIDR string) {
	t.Helper()
	n := netnsCount.Add(1)
	// Interface names are at most 15 bytes.
	aEnd, bEnd := fmt.Sprintf("ev%x%da", os.Getpid()&0xffff, n), fmt.Sprintf("ev%x%db", os.Getpid()&0xffff, n)
	run(t, "ip", "link", "add", aEnd, "type", "veth", "peer", "name", bEnd)
	// Deleting either end deletes the pair; when its namespace went first
	// the link is already gone and this fails, harmlessly.
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", aEnd).Run() })
	for _, end := range []struct {
		ns         *Netns
		name, cidr string
	}{{a, aEnd, aCIDR}, {b, bEnd, bCIDR}} {
		if end.ns != nil {
			run(t, "ip", "link", "set", end.name, "netns", end.ns.Name)
		}
		end.ns.ip(t, "addr", "add", end.cidr, "dev", end.name)
		end.ns.ip(t, "link", "set", end.name, "up")
	}
}

// Unreachable makes the machine refuse to route to cidr for the test: the
// subnets behind a bastion must not leak to the default route, off the
// machine, when something dials them directly.
func Unreachable(t testing.TB, cidr string) {
	t.Helper()
	run(t, "ip", "route", "add", "unreachable", cidr)
	t.Cleanup(func() { _ = exec.Command("ip", "route", "del", "unreachable", cidr).Run() })
}

// ip runs ip(8) in ns (nil: the machine's own namespace).
func (ns *Netns) ip(t testing.TB, args ...string) {
	t.Helper()
	if ns != nil {
		args = append([]string{"-n", ns.Name}, args...)
	}
	run(t, "ip", args...)
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}
