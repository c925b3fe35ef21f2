package labkit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unicode"
)

// ResolveDir is the lab folder dir as the lab uses it: absolute, with the
// symlinks of its deepest existing parent resolved, so that it compares
// with the kernel's mount table. It refuses whitespace and the characters
// that separate overlay mount options, which the lab's mounts and its LXD
// configuration cannot carry, and refuses the root directory itself.
func ResolveDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("no folder given")
	}
	if err := checkDirChars(dir); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("folder %s: %w", dir, err)
	}
	resolved, err := resolveExisting(abs)
	if err != nil {
		return "", fmt.Errorf("folder %s: %w", dir, err)
	}
	if err := checkDirChars(resolved); err != nil { // a symlink may lead to such a path
		return "", err
	}
	if resolved == "/" {
		return "", fmt.Errorf("folder %s: the lab cannot live in /", dir)
	}
	return resolved, nil
}

func checkDirChars(dir string) error {
	if strings.IndexFunc(dir, unicode.IsSpace) >= 0 {
		return fmt.Errorf("folder %q: the lab allows no whitespace in its paths", dir)
	}
	if strings.ContainsAny(dir, ",:") {
		return fmt.Errorf("folder %q: the lab allows no ',' or ':' in its paths (they separate overlay mount options)", dir)
	}
	return nil
}

// resolveExisting resolves the symlinks of abs, or of its deepest existing
// parent when abs does not exist yet, and appends the rest.
func resolveExisting(abs string) (string, error) {
	var rest []string
	for p := abs; ; p = filepath.Dir(p) {
		resolved, err := filepath.EvalSymlinks(p)
		if err == nil {
			slices.Reverse(rest)
			return filepath.Join(append([]string{resolved}, rest...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if filepath.Dir(p) == p {
			return "", err
		}
		rest = append(rest, filepath.Base(p))
	}
}

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	Point  string // decoded
	FSType string
}

// ReadMounts lists this process's mounts. It reads mountinfo, not mounts:
// both escape whitespace and backslashes in octal, and mountinfo's fields
// are unambiguous.
func ReadMounts() ([]Mount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading the mount table: %w", err)
	}
	var out []Mount
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+1 >= len(f) {
			continue
		}
		out = append(out, Mount{Point: unescapeMountField(f[4]), FSType: f[sep+1]})
	}
	return out, nil
}

// unescapeMountField decodes the kernel's \ooo escapes (space is \040).
func unescapeMountField(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// MountsUnder lists mount points at or below dir, deepest first.
func MountsUnder(dir string) ([]string, error) {
	all, err := ReadMounts()
	if err != nil {
		return nil, err
	}
	var points []string
	for _, m := range all {
		if Within(m.Point, dir) {
			points = append(points, m.Point)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	return points, nil
}

// Within says whether path is dir or below it.
func Within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// ParentsSearchable checks that others may traverse dir and each of its
// parents up to the root (unprivileged LXD containers run as a mapped root
// that must reach their rootfs).
func ParentsSearchable(ctx context.Context, dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if info, err := os.Stat(d); err != nil || info.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s must be searchable by others (chmod o+x %s)", d, d)
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}

// RemoveTree deletes dir and everything in it without leaving dir's
// filesystem: it refuses to enter a directory of another device or one
// that is a mount point (a bind mount of the same filesystem), and never
// follows a symlink. On refusal it stops before deleting anything more.
func RemoveTree(dir string) error {
	mounts, err := ReadMounts()
	if err != nil {
		return err
	}
	points := make(map[string]bool, len(mounts))
	for _, m := range mounts {
		points[m.Point] = true
	}
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	if points[dir] {
		return fmt.Errorf("refusing to delete %s: it is a mount point", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	err = removeContents(root, dir, device(info), points)
	root.Close()
	if err != nil {
		return err
	}
	return os.Remove(dir)
}

// removeContents empties the folder root (at path), on device dev.
func removeContents(root *os.Root, path string, dev uint64, points map[string]bool) error {
	f, err := root.Open(".")
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	for _, name := range names {
		full := filepath.Join(path, name)
		info, err := root.Lstat(name)
		if err != nil {
			return err
		}
		if info.IsDir() {
			if err := removeSubfolder(root, name, full, info, dev, points); err != nil {
				return err
			}
			continue
		}
		if err := root.Remove(name); err != nil {
			return err
		}
	}
	return nil
}

func removeSubfolder(parent *os.Root, name, full string, info fs.FileInfo, dev uint64, points map[string]bool) error {
	if device(info) != dev || points[full] {
		return fmt.Errorf("refusing to delete %s: it is a mount point or on another filesystem (unmount it first)", full)
	}
	sub, err := parent.OpenRoot(name)
	if err != nil {
		return err
	}
	defer sub.Close()
	// What was opened must be what was checked, not a folder swapped in.
	opened, err := sub.Stat(".")
	if err != nil {
		return err
	}
	if !os.SameFile(opened, info) {
		return fmt.Errorf("refusing to delete %s: it changed while being deleted", full)
	}
	if err := removeContents(sub, full, dev, points); err != nil {
		return err
	}
	return parent.Remove(name)
}

func device(info fs.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Dev
	}
	return 0
}

// UnmountAll detaches every mount at or below dir, deepest first.
func UnmountAll(dir string) error {
	points, err := MountsUnder(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range points {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}
