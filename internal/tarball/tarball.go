// Package tarball writes directory trees into tar archives the way image
// formats want them: owners, modes, symlinks and hard links kept, and the
// contents of dev, proc and sys left out (a runtime provides them).
package tarball

import (
	"archive/tar"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// AddTree adds the files under dir to tw, their names starting with prefix
// ("" or e.g. "rootfs/").
func AddTree(tw *tar.Writer, dir, prefix string) error {
	return AddTreeExcept(tw, dir, prefix, nil)
}

// AddTreeExcept is AddTree leaving out what skip (when not nil) names: a
// path relative to dir, whose whole subtree is left out when it is a folder.
func AddTreeExcept(tw *tar.Writer, dir, prefix string, skip func(rel string) bool) error {
	links := map[uint64]string{} // inode -> first name, for hard links
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "." {
			if prefix != "" {
				return tw.WriteHeader(&tar.Header{Name: prefix, Mode: 0o755, Typeflag: tar.TypeDir})
			}
			return nil
		}
		if skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if top := strings.SplitN(rel, string(filepath.Separator), 2)[0]; top != rel && (top == "dev" || top == "proc" || top == "sys") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode()&(fs.ModeSocket|fs.ModeNamedPipe|fs.ModeDevice) != 0 {
			return nil
		}
		target := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, target)
		if err != nil {
			return err
		}
		hdr.Name = prefix + rel
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			if info.Mode().IsRegular() && st.Nlink > 1 {
				if first, seen := links[st.Ino]; seen {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					links[st.Ino] = hdr.Name
				}
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
}

// AddFiles adds regular files (root-owned, mode 0644) to tw, each named
// prefix + its key, in the order of their names (an archive made twice is
// the same).
func AddFiles(tw *tar.Writer, prefix string, files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := AddFile(tw, prefix+name, 0o644, files[name]); err != nil {
			return err
		}
	}
	return nil
}

// AddFile adds one regular file, owned by root.
func AddFile(tw *tar.Writer, name string, mode fs.FileMode, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: int64(mode.Perm()), Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}
