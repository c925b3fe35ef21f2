package labkit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The lab knows its processes by cgroup: every daemon it starts is born
// into a cgroup of the lab's own (clone3 with CLONE_INTO_CGROUP, so there is
// no moment outside it), everything the daemon forks stays there, and Docker
// keeps its containers there too (--cgroup-parent). Stopping the lab ends
// exactly the members of its cgroups: a process started by anyone else
// survives, whatever its command line names, and a recycled pid is never
// mistaken for a lab daemon. The cgroup2 hierarchy is used for tracking
// only (no controller is enabled by the lab), so it works alike on unified
// and hybrid machines.

// cgroupTop holds every lab's tree on this machine, one per prefix.
const cgroupTop = "everywhere-lab"

// Cgroup is the lab's cgroup tree, relative to a hierarchy's root.
func (c *Config) Cgroup() string { return path.Join(cgroupTop, c.Prefix) }

// LXDCgroup is the cgroup of a namespace lab's LXD.
func (c *Config) LXDCgroup() string { return path.Join(c.Cgroup(), "lxd") }

// Cgroup is one of h's cgroups (unit "" is the host's whole tree).
func (h Host) Cgroup(unit string) string { return path.Join(h.lab.Cgroup(), "hosts", h.Name, unit) }

// Cgroup2Root is where the cgroup2 hierarchy is mounted: /sys/fs/cgroup on
// unified machines, /sys/fs/cgroup/unified on hybrid ones.
func Cgroup2Root() (string, error) {
	mounts, err := ReadMounts()
	if err != nil {
		return "", err
	}
	for _, m := range mounts {
		if m.FSType == "cgroup2" {
			return m.Point, nil
		}
	}
	return "", errors.New("no cgroup2 hierarchy is mounted, which the lab tracks its processes with (mount -t cgroup2 none /sys/fs/cgroup/unified)")
}

// openCgroup creates the cgroup rel (and its parents) and opens it for
// starting a process inside it.
func openCgroup(rel string) (*os.File, error) {
	root, err := Cgroup2Root()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the lab's cgroup: %w", err)
	}
	return os.Open(dir)
}

// CgroupMembers lists the processes in the cgroup rel and its descendants.
func CgroupMembers(rel string) []int {
	root, err := Cgroup2Root()
	if err != nil {
		return nil
	}
	var pids []int
	_ = filepath.WalkDir(filepath.Join(root, rel), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		for _, field := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(field); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// InCgroup says whether process pid belongs to the cgroup rel (or one below it).
func InCgroup(pid int, rel string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return Within(strings.TrimPrefix(p, "/"), rel)
		}
	}
	return false
}

// StopCgroup ends every process of the cgroup tree rel (see StopAll),
// then removes the tree from every cgroup hierarchy (Docker creates its
// containers' cgroups in the v1 ones too).
func StopCgroup(ctx context.Context, rel string) error {
	if err := StopAll(ctx, "the lab's cgroup "+rel, func() []int { return CgroupMembers(rel) }); err != nil {
		return err
	}
	return RemoveCgroup(rel)
}

// StopAll ends the processes list returns: SIGTERM and time to stop
// (dockerd stops its containers), then SIGKILL.
func StopAll(ctx context.Context, what string, list func() []int) error {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		pids := list()
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, sig)
		}
		for deadline := time.Now().Add(15 * time.Second); len(list()) > 0 && time.Now().Before(deadline); {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if pids := list(); len(pids) > 0 {
		return fmt.Errorf("processes %v of %s survived SIGKILL", pids, what)
	}
	return nil
}

// RemoveCgroup removes the empty cgroup tree rel, deepest first, from
// every hierarchy where it exists, then its parents up to cgroupTop while
// they are empty (another lab's tree keeps them).
func RemoveCgroup(rel string) error {
	mounts, err := ReadMounts()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		if m.FSType != "cgroup" && m.FSType != "cgroup2" {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(m.Point, rel), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.Reverse(dirs)
		for _, d := range dirs {
			if err := rmdirCgroup(d); err != nil {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
			}
		}
		for p := path.Dir(rel); p != "." && p != "/"; p = path.Dir(p) {
			if syscall.Rmdir(filepath.Join(m.Point, p)) != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// rmdirCgroup removes an empty cgroup. Its last processes may have left
// cgroup.procs and still be exiting (a zombie not yet reaped keeps it
// busy): it retries for a while.
func rmdirCgroup(dir string) error {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return err
		}
	}
}

// ProcessesWhere lists the processes for which match holds.
func ProcessesWhere(match func(pid int) bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && match(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
