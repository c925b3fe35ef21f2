package lab

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"everywhere/internal/lab/labkit"
	"everywhere/internal/lab/labtest"
)

// A lab folder named relatively, or through a symlink, must still see the
// mounts in it: purge refuses, and deletes nothing across them.
func TestPurgeRefusesToCrossMount(t *testing.T) {
	labtest.RequireRoot(t)
	for _, how := range []string{"absolute", "relative", "through a symlink"} {
		t.Run(how, func(t *testing.T) {
			base, err := filepath.EvalSymlinks(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			real := filepath.Join(base, "real", "lab")
			labtest.WriteFile(t, filepath.Join(real, labkit.ConfigFile), "{}\n")
			sentinel := labtest.MountTmpfs(t, filepath.Join(real, "hosts", "amd64", "root", "dev"))
			dir := real
			switch how {
			case "relative":
				t.Chdir(filepath.Join(base, "real"))
				dir = "lab"
			case "through a symlink":
				if err := os.Symlink(filepath.Join(base, "real"), filepath.Join(base, "link")); err != nil {
					t.Fatal(err)
				}
				dir = filepath.Join(base, "link", "lab")
			}
			err = Purge(labkit.Config{Dir: dir})
			if err == nil || !strings.Contains(err.Error(), "mounts") {
				t.Errorf("Purge(%q) = %v, want a refusal naming the mount", dir, err)
			}
			for _, f := range []string{sentinel, filepath.Join(real, labkit.ConfigFile)} {
				if _, err := os.Stat(f); err != nil {
					t.Errorf("purge deleted %s: %v", f, err)
				}
			}
		})
	}
}

// Purge deletes a lab folder, and refuses one that holds no lab.
func TestPurgeDeletesOnlyLabFolders(t *testing.T) {
	labtest.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "lab")
	labtest.WriteFile(t, filepath.Join(dir, labkit.ConfigFile), "{}\n")
	labtest.WriteFile(t, filepath.Join(dir, "hosts", "amd64", "upper", "etc", "hostname"), "amd64\n")
	if err := os.Symlink("/etc", filepath.Join(dir, "hosts", "amd64", "etc-link")); err != nil {
		t.Fatal(err)
	}
	if err := Purge(labkit.Config{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left: %v", dir, err)
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Errorf("purge followed a symlink: %v", err)
	}
	other := t.TempDir()
	labtest.WriteFile(t, filepath.Join(other, "notes.txt"), "mine\n")
	if err := Purge(labkit.Config{Dir: other}); err == nil || !strings.Contains(err.Error(), "holds no lab") {
		t.Errorf("Purge of a folder with no lab: %v", err)
	}
}
