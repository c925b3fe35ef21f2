package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"everywhere/internal/host"
)

// requireRoot skips tests that mount or signal as root, except under CI.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("these tests need root under CI")
	}
	t.Skip("needs root")
}

// idleLab is a lab folder of the test's own, with names of its own, that is
// never brought up: Down has only what the test puts there to look at.
func idleLab(t *testing.T, prefix string) Config {
	t.Helper()
	dir := t.TempDir()
	c := Config{Dir: dir, Prefix: prefix, Archs: []host.Arch{host.AMD64}, Subnet: netip.MustParsePrefix("10.213.3.0/24"),
		LXDSubnet: netip.MustParsePrefix("10.213.103.0/24"), Log: testLog{t}}.WithDefaults()
	t.Cleanup(func() {
		if err := removeCgroup(c.cgroup()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return c
}

// bystander is a process the test started, not the lab.
type bystander struct {
	cmd    *exec.Cmd
	exited chan error
}

func startBystander(t *testing.T, args ...string) *bystander {
	t.Helper()
	b := &bystander{cmd: exec.Command(args[0], args[1:]...), exited: make(chan error, 1)}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.exited <- b.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case err := <-b.exited: // ended already; checkAlive said so
			b.exited <- err
		default:
			_ = b.cmd.Process.Kill() // by its pid (a pidfd: never a reused one)
			<-b.exited
		}
	})
	return b
}

// ended says whether the process ends within wait.
func (b *bystander) ended(wait time.Duration) bool {
	select {
	case err := <-b.exited:
		b.exited <- err // for the next look, and cleanup
		return true
	case <-time.After(wait):
		return false
	}
}

func (b *bystander) checkAlive(t *testing.T) {
	t.Helper()
	if b.ended(200 * time.Millisecond) {
		t.Errorf("bystander %d (%s) was ended", b.cmd.Process.Pid, strings.Join(b.cmd.Args, " "))
	}
}

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A tail -f of a lab log names a lab host's folder on its command line: the
// lab did not start it, so lab down must leave it alone.
func TestDownSparesBystanderProcess(t *testing.T) {
	requireRoot(t)
	c := idleLab(t, "ewb")
	log := filepath.Join(c.Hosts()[0].dir(), "sshd.log")
	writeFile(t, log, "")
	tail := startBystander(t, "tail", "-f", log)
	sleep := startBystander(t, "sh", "-c", "exec sleep 600", filepath.Join(c.Hosts()[0].root(), "etc")+"/")
	if err := Down(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	tail.checkAlive(t)
	sleep.checkAlive(t)
}

// lxd.pid may name a pid reused by another process whose command line
// happens to hold "lxd": lab down must not end it.
func TestDownSparesProcessOnReusedLXDPid(t *testing.T) {
	requireRoot(t)
	c := idleLab(t, "ewp")
	notes := filepath.Join(t.TempDir(), "lxd-notes.txt")
	writeFile(t, notes, "")
	tail := startBystander(t, "tail", "-f", notes)
	writeFile(t, filepath.Join(c.Dir, "lxd.pid"), strconv.Itoa(tail.cmd.Process.Pid)+"\n")
	if err := Down(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	tail.checkAlive(t)
}

// What a lab daemon forks stays the lab's, even once orphaned (a session's
// nohup'd job): lab down ends it and removes the lab's cgroups.
func TestDownStopsOrphansOfLabDaemons(t *testing.T) {
	requireRoot(t)
	if _, err := cgroup2Root(); err != nil {
		t.Skip(err)
	}
	c := idleLab(t, "ewo")
	h := c.Hosts()[0]
	orphanFile := filepath.Join(t.TempDir(), "orphan.pid")
	writeFile(t, filepath.Join(h.dir(), "sshd.log"), "")
	d, err := spawn(h.cgroup("sshd"), filepath.Join(h.dir(), "sshd.log"), h.pidFile(), nil,
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
	if !inCgroup(orphan, h.cgroup("sshd")) || runningPID(h) == 0 {
		t.Fatalf("orphan %d or daemon %d not in the lab's cgroup", orphan, runningPID(h))
	}
	if err := Down(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(5 * time.Second):
		t.Error("the lab daemon survived lab down")
	}
	if alive(orphan) {
		t.Errorf("the daemon's orphan %d survived lab down", orphan)
		_ = syscall.Kill(orphan, syscall.SIGKILL)
	}
	checkNoCgroupLeft(t, c)
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

// checkNoCgroupLeft checks that no hierarchy holds c's cgroup tree.
func checkNoCgroupLeft(t *testing.T, c Config) {
	t.Helper()
	mounts, err := readMounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if m.fstype != "cgroup" && m.fstype != "cgroup2" {
			continue
		}
		if _, err := os.Stat(filepath.Join(m.point, c.cgroup())); err == nil {
			t.Errorf("cgroup %s left in %s", c.cgroup(), m.point)
		}
	}
}

// A lab brought up before the lab had cgroups left its daemons in its hosts'
// network namespaces: lab down still ends them.
func TestDownStopsProcessesOfHostNamespace(t *testing.T) {
	requireRoot(t)
	c := idleLab(t, "ewn")
	h := c.Hosts()[0]
	if err := command(context.Background(), "ip", "netns", "add", h.netns()); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { _ = removeHostNetwork(context.Background(), h) })
	daemon := startBystander(t, "nsenter", "--net=/run/netns/"+h.netns(), "--", "sleep", "600")
	for deadline := time.Now().Add(5 * time.Second); len(inNamespace(h.netns())) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stand-in daemon did not enter the namespace")
		}
	}
	if err := Down(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if !daemon.ended(5 * time.Second) {
		t.Error("a process in the lab host's namespace survived lab down")
	}
}
