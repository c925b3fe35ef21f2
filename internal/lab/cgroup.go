package lab

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

// cgroup is the lab's cgroup tree, relative to a hierarchy's root.
func (c *Config) cgroup() string { return path.Join(cgroupTop, c.Prefix) }

func (c *Config) lxdCgroup() string { return path.Join(c.cgroup(), "lxd") }

// cgroup is one of h's cgroups (unit "" is the host's whole tree).
func (h Host) cgroup(unit string) string { return path.Join(h.lab.cgroup(), "hosts", h.Name, unit) }

// cgroup2Root is where the cgroup2 hierarchy is mounted: /sys/fs/cgroup on
// unified machines, /sys/fs/cgroup/unified on hybrid ones.
func cgroup2Root() (string, error) {
	mounts, err := readMounts()
	if err != nil {
		return "", err
	}
	for _, m := range mounts {
		if m.fstype == "cgroup2" {
			return m.point, nil
		}
	}
	return "", errors.New("no cgroup2 hierarchy is mounted, which the lab tracks its processes with (mount -t cgroup2 none /sys/fs/cgroup/unified)")
}

// openCgroup creates the cgroup rel (and its parents) and opens it for
// starting a process inside it.
func openCgroup(rel string) (*os.File, error) {
	root, err := cgroup2Root()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the lab's cgroup: %w", err)
	}
	return os.Open(dir)
}

// cgroupMembers lists the processes in the cgroup rel and its descendants.
func cgroupMembers(rel string) []int {
	root, err := cgroup2Root()
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

// inCgroup says whether process pid belongs to the cgroup rel (or one below it).
func inCgroup(pid int, rel string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return within(strings.TrimPrefix(p, "/"), rel)
		}
	}
	return false
}

// stopCgroup ends every process of the cgroup tree rel (see stopAll),
// then removes the tree from every cgroup hierarchy (Docker creates its
// containers' cgroups in the v1 ones too).
func stopCgroup(ctx context.Context, rel string) error {
	if err := stopAll(ctx, "the lab's cgroup "+rel, func() []int { return cgroupMembers(rel) }); err != nil {
		return err
	}
	return removeCgroup(rel)
}

// stopAll ends the processes list returns: SIGTERM and time to stop
// (dockerd stops its containers), then SIGKILL.
func stopAll(ctx context.Context, what string, list func() []int) error {
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

// removeCgroup removes the empty cgroup tree rel, deepest first, from
// every hierarchy where it exists, then its parents up to cgroupTop while
// they are empty (another lab's tree keeps them).
func removeCgroup(rel string) error {
	mounts, err := readMounts()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		if m.fstype != "cgroup" && m.fstype != "cgroup2" {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(m.point, rel), func(p string, d fs.DirEntry, err error) error {
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
			if syscall.Rmdir(filepath.Join(m.point, p)) != nil {
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
