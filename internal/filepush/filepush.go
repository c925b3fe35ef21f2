// Package filepush is the driver that puts files on hosts: the file.push
// step kind, which `everywhere push` runs too. It writes over the host's
// SSH connection, through SFTP where the host serves it, else streamed
// through a shell session; every file's SHA-256 is then checked on the host.
package filepush

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/text"
)

// Kind is the plan keyword: `file.push: {src: ./pkg.deb, dest: /tmp/pkg.deb}`.
const Kind = "file.push"

// New is the file driver.
func New() *driver.Driver {
	return &driver.Driver{Name: "file", Kinds: []driver.Kind{{Name: Kind, Parse: parse}}}
}

// Push copies a local file or directory to the host, modes kept. A file
// goes to dest, or into it when dest ends in "/" or is a directory; a
// directory's contents go into dest, created as needed.
type Push struct {
	Src  string `yaml:"src"`  // relative to the plan's folder
	Dest string `yaml:"dest"` // on the host; relative to the login directory
}

func parse(kind, file string, node *yaml.Node) (driver.Action, error) {
	a, err := driver.Decode[Push](kind, file, node)
	if err != nil {
		return nil, err
	}
	p := a.(*Push)
	if !filepath.IsAbs(p.Src) {
		p.Src = filepath.Join(filepath.Dir(file), p.Src)
	}
	return p, nil
}

// Validate checks the decoded fields.
func (p *Push) Validate() error {
	switch {
	case p.Src == "":
		return errors.New("src: missing: the local file or directory to push")
	case p.Dest == "":
		return errors.New("dest: missing: where on the host to put it")
	case p.Dest == "~" || strings.HasPrefix(p.Dest, "~/"):
		return fmt.Errorf("dest: %s: ~ is not expanded; a relative path is from the login directory already", p.Dest)
	}
	return nil
}

// Command describes the copy, for reports.
func (p *Push) Command() string { return "push " + p.Src + " → " + p.Dest }

// entry is one thing to create on the host.
type entry struct {
	local, remote string
	mode          fs.FileMode
	size          int64
	dir           bool
}

// entries lists what src holds, parents before children, each with its
// place under dest; links and special files are refused rather than
// guessed at.
func entries(src, dest string) ([]entry, error) {
	info, err := os.Lstat(src)
	if err != nil {
		return nil, fmt.Errorf("src: %w", err)
	}
	if !info.IsDir() {
		if !info.Mode().IsRegular() {
			return nil, fmt.Errorf("src: %s: a %s, not a file or directory", src, kindOf(info.Mode()))
		}
		return []entry{{local: src, remote: dest, mode: info.Mode().Perm(), size: info.Size()}}, nil
	}
	var list []entry
	err = filepath.WalkDir(src, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, file)
		e := entry{local: file, remote: path.Join(dest, filepath.ToSlash(rel)), mode: info.Mode().Perm(), size: info.Size(), dir: d.IsDir()}
		if !d.IsDir() && !info.Mode().IsRegular() {
			return fmt.Errorf("%s: a %s: only files and directories are pushed", file, kindOf(info.Mode()))
		}
		list = append(list, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("src: %w", err)
	}
	return list, nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// remote is how files reach a host: over SFTP, or through shell sessions.
type remote interface {
	name() string
	isDir(ctx context.Context, p string) (bool, error)
	mkdir(ctx context.Context, p string, mode fs.FileMode) error
	// write puts r at p with mode: into a temporary file renamed over p,
	// so a reader (or a running binary) never sees half a file.
	write(ctx context.Context, p string, mode fs.FileMode, r io.Reader) error
	// readBack hashes p as the host has it, for hosts without sha256sum;
	// errNoReadBack where the transport cannot.
	readBack(ctx context.Context, p string) (string, error)
	close()
}

var errNoReadBack = errors.New("cannot read files back")

// Run copies the files, then checks their checksums on the host.
func (p *Push) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	info, err := os.Lstat(p.Src)
	if err != nil {
		return nil, fmt.Errorf("src: %w", err)
	}
	r := open(ctx, t)
	defer r.close()
	dest := p.Dest
	if !info.IsDir() {
		into := strings.HasSuffix(dest, "/")
		if !into {
			var err error
			if into, err = r.isDir(ctx, dest); err != nil {
				return nil, fmt.Errorf("%s: %w", dest, err)
			}
		}
		if into {
			dest = path.Join(dest, filepath.Base(p.Src))
		}
	}
	list, err := entries(p.Src, dest)
	if err != nil {
		return nil, err
	}
	var files []string
	var sums []string
	var bytes int64
	dirs := 0
	for _, e := range list {
		if e.dir {
			if err := r.mkdir(ctx, e.remote, e.mode); err != nil {
				return nil, fmt.Errorf("creating directory %s: %w", e.remote, err)
			}
			dirs++
			continue
		}
		sum, err := writeFile(ctx, r, e)
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", e.remote, err)
		}
		files, sums, bytes = append(files, e.remote), append(sums, sum), bytes+e.size
	}
	how, err := verify(ctx, t, r, files, sums)
	if err != nil {
		return nil, err
	}
	out := host.NewOutputFor(ctx, limit)
	fmt.Fprintf(&out.Stdout, "%s, %s, %d bytes over %s; sha256 verified %s\n", text.Count(len(files), "file", "files"), text.Count(dirs, "directory", "directories"), bytes, r.name(), how)
	return out, nil
}

// writeFile sends one file, hashing what it sends.
func writeFile(ctx context.Context, r remote, e entry) (string, error) {
	f, err := os.Open(e.local)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	// A limited reader tells SFTP the size, so it writes several packets at once.
	if err := r.write(ctx, e.remote, e.mode, &io.LimitedReader{R: io.TeeReader(f, h), N: e.size}); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sumsPerSession bounds the paths given to one sha256sum.
const sumsPerSession = 256

// verify compares each file's SHA-256 on the host with what was sent:
// sha256sum in a session, else (no sha256sum) the file read back. It says
// which it did.
func verify(ctx context.Context, t driver.Target, r remote, files, want []string) (string, error) {
	how := "on the host"
	for start := 0; start < len(files); start += sumsPerSession {
		batch := files[start:min(start+sumsPerSession, len(files))]
		got, err := sha256sums(ctx, t, batch)
		if errors.Is(err, errNoSHA256Sum) {
			how = "reading the files back (no sha256sum on the host)"
			got, err = readBack(ctx, r, batch)
		}
		if err != nil {
			return "", fmt.Errorf("verifying: %w", err)
		}
		for i, f := range batch {
			if got[i] != want[start+i] {
				return "", fmt.Errorf("verifying %s: sha256 on the host is %s, sent %s", f, got[i], want[start+i])
			}
		}
	}
	return how, nil
}

var errNoSHA256Sum = errors.New("no sha256sum on the host")

// sha256sums runs sha256sum on the host; its lines come in the order of
// its arguments, a name with a newline or backslash escaped after a "\".
func sha256sums(ctx context.Context, t driver.Target, files []string) ([]string, error) {
	out, err := t.Exec(ctx, host.ShellQuote(append([]string{"sha256sum", "--"}, files...)), 1<<20)
	if err != nil {
		return nil, err
	}
	if out.ExitCode == 127 {
		return nil, errNoSHA256Sum
	}
	if out.ExitCode != 0 {
		return nil, fmt.Errorf("sha256sum: exit status %d: %s", out.ExitCode, strings.TrimSpace(out.Stderr.String()))
	}
	lines := strings.Split(strings.TrimSuffix(out.Stdout.String(), "\n"), "\n")
	if len(lines) != len(files) {
		return nil, fmt.Errorf("sha256sum: %s for %s", text.Count(len(lines), "line", "lines"), text.Count(len(files), "file", "files"))
	}
	sums := make([]string, len(lines))
	for i, l := range lines {
		sum, _, _ := strings.Cut(strings.TrimPrefix(l, `\`), " ")
		sums[i] = sum
	}
	return sums, nil
}

func readBack(ctx context.Context, r remote, files []string) ([]string, error) {
	sums := make([]string, len(files))
	for i, f := range files {
		sum, err := r.readBack(ctx, f)
		if errors.Is(err, errNoReadBack) {
			return nil, fmt.Errorf("%w, and %s", errNoSHA256Sum, err)
		}
		if err != nil {
			return nil, fmt.Errorf("reading back %s: %w", f, err)
		}
		sums[i] = sum
	}
	return sums, nil
}

// tempName is where a file is written before it is renamed into place:
// beside it, so the rename stays within one file system, and named apart
// from another host's writing there too (a home directory on NFS).
func tempName(p string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return path.Join(path.Dir(p), "."+path.Base(p)+".everywhere-"+hex.EncodeToString(b))
}
