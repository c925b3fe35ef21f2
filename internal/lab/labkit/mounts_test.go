package labkit_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"everywhere/internal/lab/labkit"
	"everywhere/internal/lab/labtest"
)

// The kernel escapes a space in a mount point as \040: a lab path with one
// must still find its mounts.
func TestMountsUnderDecodesEscapes(t *testing.T) {
	labtest.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "with space")
	labtest.MountTmpfs(t, filepath.Join(dir, "m"))
	points, err := labkit.MountsUnder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(points, filepath.Join(dir, "m")) {
		t.Errorf("labkit.MountsUnder(%q) = %q, want the tmpfs at m", dir, points)
	}
}

// Below the mount check, the walk itself never enters another filesystem
// or a bind mount.
func TestRemoveTreeRefusesToCrossMount(t *testing.T) {
	labtest.RequireRoot(t)
	for _, kind := range []string{"tmpfs", "bind"} {
		t.Run(kind, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "lab")
			labtest.WriteFile(t, filepath.Join(dir, "hosts", "amd64", "sshd.log"), "")
			target := filepath.Join(dir, "hosts", "amd64", "root", "dev")
			var sentinel string
			if kind == "tmpfs" {
				sentinel = labtest.MountTmpfs(t, target)
			} else {
				sentinel = labtest.BindMount(t, target)
			}
			if err := labkit.RemoveTree(dir); err == nil || !strings.Contains(err.Error(), "refusing") {
				t.Errorf("removeTree = %v, want a refusal", err)
			}
			if _, err := os.Stat(sentinel); err != nil {
				t.Errorf("the walk crossed into the %s: %v", kind, err)
			}
		})
	}
}
