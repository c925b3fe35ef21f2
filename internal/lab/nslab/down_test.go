package nslab_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/lab"
	"everywhere/internal/lab/labkit"
	"everywhere/internal/lab/labtest"
	"everywhere/internal/lab/nslab"
)

// idleLab is a lab folder of the test's own, with names of its own, that is
// never brought up: Down has only what the test puts there to look at.
func idleLab(t *testing.T, prefix string) labkit.Config {
	t.Helper()
	dir := t.TempDir()
	c := labkit.Config{Dir: dir, Prefix: prefix, Archs: []host.Arch{host.AMD64}, Subnet: netip.MustParsePrefix("10.213.3.0/24"),
		LXDSubnet: netip.MustParsePrefix("10.213.103.0/24"), Log: labtest.Log{T: t}}.WithDefaults()
	t.Cleanup(func() {
		if err := labkit.RemoveCgroup(c.Cgroup()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return c
}

// A tail -f of a lab log names a lab host's folder on its command line: the
// lab did not start it, so lab down must leave it alone.
func TestDownSparesBystanderProcess(t *testing.T) {
	labtest.RequireRoot(t)
	c := idleLab(t, "ewb")
	log := filepath.Join(c.Hosts()[0].Dir(), "sshd.log")
	labtest.WriteFile(t, log, "")
	tail := labtest.StartBystander(t, "tail", "-f", log)
	sleep := labtest.StartBystander(t, "sh", "-c", "exec sleep 600", filepath.Join(nslab.HostRoot(c.Hosts()[0]), "etc")+"/")
	if err := lab.Down(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	tail.CheckAlive(t)
	sleep.CheckAlive(t)
}

// lxd.pid may name a pid reused by another process whose command line
// happens to hold "lxd": lab down must not end it.
func TestDownSparesProcessOnReusedLXDPid(t *testing.T) {
	labtest.RequireRoot(t)
	c := idleLab(t, "ewp")
	notes := filepath.Join(t.TempDir(), "lxd-notes.txt")
	labtest.WriteFile(t, notes, "")
	tail := labtest.StartBystander(t, "tail", "-f", notes)
	labtest.WriteFile(t, filepath.Join(c.Dir, "lxd.pid"), strconv.Itoa(tail.Cmd.Process.Pid)+"\n")
	if err := lab.Down(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	tail.CheckAlive(t)
}

// What a lab daemon forks stays the lab's, even once orphaned (a session's
// nohup'd job): lab down ends it and removes the lab's cgroups.
func TestDownStopsOrphansOfLabDaemons(t *testing.T) {
	labtest.RequireRoot(t)
	if _, err := labkit.Cgroup2Root(); err != nil {
		t.Skip(err)
	}
	c := idleLab(t, "ewo")
	h := c.Hosts()[0]
	orphanFile := filepath.Join(t.TempDir(), "orphan.pid")
	labtest.WriteFile(t, filepath.Join(h.Dir(), "sshd.log"), "")
	d, err := labkit.Spawn(h.Cgroup("sshd"), filepath.Join(h.Dir(), "sshd.log"), nslab.PidFile(h), nil,
		"sh", "-c", `(sleep 600 & echo $! > "$0"); exec sleep 600`, orphanFile)
	if err != nil {
		t.Fatal(err)
	}
	var orphan int
	for deadline := time.Now().Add(10 * time.Second); orphan == 0; time.Sleep(20 * time.Millisecond) {
		data, _ := os.ReadFile(orphanFile)
		orphan, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		if time.Now().After(deadline) {
			t.Fatal("the daemon's orphan did not start")
		}
	}
	if !labkit.InCgroup(orphan, h.Cgroup("sshd")) || nslab.RunningPID(h) == 0 {
		t.Fatalf("orphan %d or daemon %d not in the lab's cgroup", orphan, nslab.RunningPID(h))
	}
	if err := lab.Down(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Exited:
	case <-time.After(5 * time.Second):
		t.Error("the lab daemon survived lab down")
	}
	if alive(orphan) {
		t.Errorf("the daemon's orphan %d survived lab down", orphan)
		_ = syscall.Kill(orphan, syscall.SIGKILL)
	}
	labtest.CheckNoCgroupLeft(t, c)
}

// alive says whether pid runs (a zombie has ended).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(data), ") ")
	return !strings.HasPrefix(after, "Z")
}

// A lab brought up before the lab had cgroups left its daemons in its hosts'
// network namespaces: lab down still ends them.
func TestDownStopsProcessesOfHostNamespace(t *testing.T) {
	labtest.RequireRoot(t)
	c := idleLab(t, "ewn")
	h := c.Hosts()[0]
	if err := labkit.Command(context.Background(), "ip", "netns", "add", nslab.Netns(h)); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { _ = nslab.RemoveHostNetwork(context.Background(), h) })
	daemon := labtest.StartBystander(t, "nsenter", "--net=/run/netns/"+nslab.Netns(h), "--", "sleep", "600")
	for deadline := time.Now().Add(5 * time.Second); len(nslab.InNamespace(nslab.Netns(h))) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stand-in daemon did not enter the namespace")
		}
	}
	if err := lab.Down(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if !daemon.Ended(5 * time.Second) {
		t.Error("a process in the lab host's namespace survived lab down")
	}
}
