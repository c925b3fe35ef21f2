package lab

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestResolveDir(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(base, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "real"), filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(base)
	tests := []struct{ dir, want, err string }{
		{"lab", filepath.Join(base, "lab"), ""},
		{"./real/../lab/", filepath.Join(base, "lab"), ""},
		{"link", filepath.Join(base, "real"), ""},
		{filepath.Join(base, "link", "not", "yet"), filepath.Join(base, "real", "not", "yet"), ""},
		{"my lab", "", "whitespace"},
		{"/var/lib/lab\t", "", "whitespace"},
		{"a,b", "", "','"},
		{"/", "", "cannot live in /"},
		{"", "", "no folder"},
	}
	for _, tt := range tests {
		got, err := ResolveDir(tt.dir)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ResolveDir(%q) = %q, %v; want an error about %s", tt.dir, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ResolveDir(%q) = %q, %v; want %q", tt.dir, got, err, tt.want)
		}
	}
}

// Every loop over parent folders ends at the root, also from a relative
// path (filepath.Dir(".") is "."), and stops when the context ends.
func TestParentsLoopEndsAndHonoursContext(t *testing.T) {
	t.Chdir(t.TempDir())
	done := make(chan error, 1)
	go func() { done <- parentsSearchable(context.Background(), ".") }()
	if err := <-done; err != nil && !strings.Contains(err.Error(), "searchable") {
		t.Errorf("relative path: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := parentsSearchable(ctx, "/var/tmp"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestUnescapeMountField(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/t\011ab`: "/t\tab", `/back\134slash`: `/back\slash`, `/plain`: "/plain", `/odd\04`: `/odd\04`} {
		if got := unescapeMountField(in); got != want {
			t.Errorf("unescapeMountField(%q) = %q, want %q", in, got, want)
		}
	}
}

// mountTmpfs mounts a small tmpfs of the test's own at dir, with a
// sentinel file in it, and unmounts it at cleanup.
func mountTmpfs(t *testing.T, dir string) string {
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
	writeFile(t, sentinel, "must survive\n")
	return sentinel
}

// bindMount binds a fresh folder of the test's own (same filesystem) at dir.
func bindMount(t *testing.T, dir string) string {
	t.Helper()
	src := t.TempDir()
	sentinel := filepath.Join(src, "sentinel")
	writeFile(t, sentinel, "must survive\n")
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

// The kernel escapes a space in a mount point as \040: a lab path with one
// must still find its mounts.
func TestMountsUnderDecodesEscapes(t *testing.T) {
	requireRoot(t)
	dir := filepath.Join(t.TempDir(), "with space")
	mountTmpfs(t, filepath.Join(dir, "m"))
	points, err := mountsUnder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(points, filepath.Join(dir, "m")) {
		t.Errorf("mountsUnder(%q) = %q, want the tmpfs at m", dir, points)
	}
}

// A lab folder named relatively, or through a symlink, must still see the
// mounts in it: purge refuses, and deletes nothing across them.
func TestPurgeRefusesToCrossMount(t *testing.T) {
	requireRoot(t)
	for _, how := range []string{"absolute", "relative", "through a symlink"} {
		t.Run(how, func(t *testing.T) {
			base, err := filepath.EvalSymlinks(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			real := filepath.Join(base, "real", "lab")
			writeFile(t, filepath.Join(real, configFile), "{}\n")
			sentinel := mountTmpfs(t, filepath.Join(real, "hosts", "amd64", "root", "dev"))
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
			err = Purge(Config{Dir: dir})
			if err == nil || !strings.Contains(err.Error(), "mounts") {
				t.Errorf("Purge(%q) = %v, want a refusal naming the mount", dir, err)
			}
			for _, f := range []string{sentinel, filepath.Join(real, configFile)} {
				if _, err := os.Stat(f); err != nil {
					t.Errorf("purge deleted %s: %v", f, err)
				}
			}
		})
	}
}

// Below the mount check, the walk itself never enters another filesystem
// or a bind mount.
func TestRemoveTreeRefusesToCrossMount(t *testing.T) {
	requireRoot(t)
	for _, kind := range []string{"tmpfs", "bind"} {
		t.Run(kind, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "lab")
			writeFile(t, filepath.Join(dir, "hosts", "amd64", "sshd.log"), "")
			target := filepath.Join(dir, "hosts", "amd64", "root", "dev")
			var sentinel string
			if kind == "tmpfs" {
				sentinel = mountTmpfs(t, target)
			} else {
				sentinel = bindMount(t, target)
			}
			if err := removeTree(dir); err == nil || !strings.Contains(err.Error(), "refusing") {
				t.Errorf("removeTree = %v, want a refusal", err)
			}
			if _, err := os.Stat(sentinel); err != nil {
				t.Errorf("the walk crossed into the %s: %v", kind, err)
			}
		})
	}
}

// Purge deletes a lab folder, and refuses one that holds no lab.
func TestPurgeDeletesOnlyLabFolders(t *testing.T) {
	requireRoot(t)
	dir := filepath.Join(t.TempDir(), "lab")
	writeFile(t, filepath.Join(dir, configFile), "{}\n")
	writeFile(t, filepath.Join(dir, "hosts", "amd64", "upper", "etc", "hostname"), "amd64\n")
	if err := os.Symlink("/etc", filepath.Join(dir, "hosts", "amd64", "etc-link")); err != nil {
		t.Fatal(err)
	}
	if err := Purge(Config{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left: %v", dir, err)
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Errorf("purge followed a symlink: %v", err)
	}
	other := t.TempDir()
	writeFile(t, filepath.Join(other, "notes.txt"), "mine\n")
	if err := Purge(Config{Dir: other}); err == nil || !strings.Contains(err.Error(), "holds no lab") {
		t.Errorf("Purge of a folder with no lab: %v", err)
	}
}
