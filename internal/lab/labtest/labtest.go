// Package labtest helps the lab's tests: folders and labs of a test's own,
// a plan run against a lab, processes the lab did not start, and mounts
// a lab must not cross. Only tests import it.
package labtest

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"everywhere/internal/drivers"
	"everywhere/internal/inventory"
	"everywhere/internal/lab/labkit"
	"everywhere/internal/plan"
	"everywhere/internal/result"
	"everywhere/internal/run"
	"everywhere/internal/sshconn"
)

// RequireRoot skips tests that mount or signal as root, except under CI.
func RequireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("these tests need root under CI")
	}
	t.Skip("needs root")
}

// Require skips where a lab of c's kind cannot run (requirements, the
// kind's, says why), except under CI, where that is a broken setup and
// fails.
func Require(t *testing.T, requirements func(labkit.Config) error, c labkit.Config) {
	t.Helper()
	var why string
	if os.Geteuid() != 0 {
		why = "the lab needs root"
	} else if err := requirements(c.WithDefaults()); err != nil {
		why = err.Error()
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("lab unavailable under CI: %s", why)
	}
	t.Skip(why)
}

// NewLab is a lab of the test's own: its own folder, names and subnet, and
// the shared rootfs cache (so a machine builds each rootfs once).
func NewLab(t *testing.T) labkit.Config {
	// Not t.TempDir: LXD's unprivileged containers must traverse the path.
	dir, err := os.MkdirTemp("/var/tmp", "everywhere-lab-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { RemoveTestDir(t, dir) })
	return labkit.Config{Dir: dir, Prefix: "ewt", Subnet: netip.MustParsePrefix("10.213.1.0/24"),
		LXDSubnet: netip.MustParsePrefix("10.213.101.0/24"), Log: Log{t}}.WithDefaults()
}

// RemoveTestDir deletes a test's lab folder without crossing a mount left
// by a failed down (a host's root/dev is the machine's /dev).
func RemoveTestDir(t *testing.T, dir string) {
	if err := labkit.RemoveTree(dir); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// Log writes a lab's progress into the test's log.
type Log struct{ T *testing.T }

func (l Log) Write(p []byte) (int, error) {
	l.T.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Up brings c up with up (the lab package's) and returns its inventory's
// hosts.
func Up(t *testing.T, c labkit.Config, up func(context.Context, labkit.Config) error) []inventory.Host {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute) // a cold rootfs cache builds six
	defer cancel()
	if err := up(ctx, c); err != nil {
		t.Fatal(err)
	}
	inv, err := LoadInventory(c)
	if err != nil {
		t.Fatal(err)
	}
	return inv.Hosts
}

// LoadInventory reads the inventory c's up wrote as everywhere run reads
// it: the lab of machines' holds the runner's blocks (emulated:,
// timeout_scale:).
func LoadInventory(c labkit.Config) (*inventory.Inventory, error) {
	return inventory.Load(filepath.Join(c.Dir, labkit.InventoryFile), inventory.Options{Blocks: append(drivers.All().Blocks(), run.Blocks()...)})
}

// DefaultPlan is the built-in default plan.
func DefaultPlan(t *testing.T) *plan.Plan {
	t.Helper()
	p, err := plan.Default(drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// RunPlan runs p on targets over SSH, as everywhere run does.
func RunPlan(t *testing.T, targets []inventory.Host, p *plan.Plan, events chan<- result.Event) *result.Result {
	t.Helper()
	r := &run.Runner{Connect: run.Connector(sshconn.NewDialer(false, 0).Dial), OutputLimit: 1 << 16, Events: events}
	return r.Run(context.Background(), targets, p)
}

// Bystander is a process the test started, not the lab.
type Bystander struct {
	Cmd    *exec.Cmd
	exited chan error
}

// StartBystander starts args, and ends it at cleanup if it still runs.
func StartBystander(t *testing.T, args ...string) *Bystander {
	t.Helper()
	b := &Bystander{Cmd: exec.Command(args[0], args[1:]...), exited: make(chan error, 1)}
	if err := b.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.exited <- b.Cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case err := <-b.exited: // ended already; CheckAlive said so
			b.exited <- err
		default:
			_ = b.Cmd.Process.Kill() // by its pid (a pidfd: never a reused one)
			<-b.exited
		}
	})
	return b
}

// Ended says whether the process ends within wait.
func (b *Bystander) Ended(wait time.Duration) bool {
	select {
	case err := <-b.exited:
		b.exited <- err // for the next look, and cleanup
		return true
	case <-time.After(wait):
		return false
	}
}

// CheckAlive fails the test when the process has ended.
func (b *Bystander) CheckAlive(t *testing.T) {
	t.Helper()
	if b.Ended(200 * time.Millisecond) {
		t.Errorf("bystander %d (%s) was ended", b.Cmd.Process.Pid, strings.Join(b.Cmd.Args, " "))
	}
}

// WriteFile writes content to file, making its folder.
func WriteFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// CheckNoCgroupLeft checks that no hierarchy holds c's cgroup tree.
func CheckNoCgroupLeft(t *testing.T, c labkit.Config) {
	t.Helper()
	mounts, err := labkit.ReadMounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if m.FSType != "cgroup" && m.FSType != "cgroup2" {
			continue
		}
		if _, err := os.Stat(filepath.Join(m.Point, c.Cgroup())); err == nil {
			t.Errorf("cgroup %s left in %s", c.Cgroup(), m.Point)
		}
	}
}

// MountTmpfs mounts a small tmpfs of the test's own at dir, with a
// sentinel file in it, and unmounts it at cleanup.
func MountTmpfs(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mounting a tmpfs at %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("cleanup: unmounting %s: %v", dir, err)
		}
	})
	sentinel := filepath.Join(dir, "sentinel")
	WriteFile(t, sentinel, "must survive\n")
	return sentinel
}

// BindMount binds a fresh folder of the test's own (same filesystem) at dir.
func BindMount(t *testing.T, dir string) string {
	t.Helper()
	src := t.TempDir()
	sentinel := filepath.Join(src, "sentinel")
	WriteFile(t, sentinel, "must survive\n")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(src, dir, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("binding %s at %s: %v", src, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("cleanup: unmounting %s: %v", dir, err)
		}
	})
	return sentinel
}
