package main

import (
	"context"
	"crypto/rand"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"everywhere/internal/result"
	"everywhere/internal/sshtest"
)

// pushHosts are two real sshds, one serving SFTP and one not (pushed to
// through a shell stream), each in an inventory of its own: they share
// this machine's file system, so each push gets a folder of its own.
func pushHosts(t *testing.T) map[string]string {
	return map[string]string{
		"sftp":   openSSHInventory(t, sshtest.StartOpenSSHWith(t, sshtest.Options{SFTP: true}), "withsftp"),
		"stream": openSSHInventory(t, sshtest.StartOpenSSH(t), "nosftp"),
	}
}

// runSaved runs everywhere, saving into a folder of its own, and reads
// the result it saved; stdout is logged.
func runSaved(t *testing.T, args ...string) (int, *result.Result, string) {
	t.Helper()
	out := t.TempDir()
	// The flags right after the command: the arguments may end in -- COMMAND.
	args = append([]string{args[0], "-o", out, "--no-progress", "--color", "never", "--width", "160"}, args[1:]...)
	code, stdout, stderr := everywhere(context.Background(), args...)
	t.Logf("everywhere %s\n%s%s", strings.Join(args, " "), stdout, stderr)
	res, err := result.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatalf("exit %d: %v\n%s", code, err, stderr)
	}
	return code, res, stdout
}

// push runs everywhere push and returns its exit code and the host's step.
func push(t *testing.T, inv, src, dest string) (int, result.StepResult, string) {
	t.Helper()
	code, res, stdout := runSaved(t, "push", "-i", inv, src, dest)
	return code, res.Hosts[0].Steps[0], stdout
}

func writeBytes(t *testing.T, file string, data []byte, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(file, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func checkFile(t *testing.T, file string, want []byte, mode fs.FileMode) {
	t.Helper()
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(file)
	if string(got) != string(want) || info.Mode() != mode {
		t.Errorf("%s: %d bytes, mode %v; want %d bytes, mode %v", file, len(got), info.Mode(), len(want), mode)
	}
}

// TestPushFile: a file lands with its bytes and its mode (0666, past the
// host's umask), over SFTP and without it; pushed again it is replaced.
func TestPushFile(t *testing.T) {
	for via, inv := range pushHosts(t) {
		t.Run(via, func(t *testing.T) {
			local := filepath.Join(t.TempDir(), "app.bin")
			data := make([]byte, 1<<20+3)
			_, _ = rand.Read(data)
			writeBytes(t, local, data, 0o666)
			dest := t.TempDir()
			code, s, _ := push(t, inv, local, dest+"/")
			if code != 0 || s.Status != result.OK || !strings.Contains(s.Stdout, "1 file, 0 directories, 1048579 bytes over "+map[string]string{"sftp": "sftp", "stream": "a shell stream"}[via]) {
				t.Fatalf("exit %d: %s %q %q", code, s.Status, s.Stdout, s.Error)
			}
			checkFile(t, filepath.Join(dest, "app.bin"), data, 0o666)

			writeBytes(t, local, []byte("v2\n"), 0o600)
			if code, s, _ := push(t, inv, local, filepath.Join(dest, "app.bin")); code != 0 {
				t.Fatalf("again: exit %d: %q", code, s.Error)
			}
			checkFile(t, filepath.Join(dest, "app.bin"), []byte("v2\n"), 0o600)
			if leftovers, _ := filepath.Glob(filepath.Join(dest, ".*")); len(leftovers) != 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
		})
	}
}

// TestPushDirectory: a tree arrives whole, each directory's and file's mode kept.
func TestPushDirectory(t *testing.T) {
	src := filepath.Join(t.TempDir(), "conf")
	tree := []struct {
		path string
		mode fs.FileMode
		data string
	}{
		{"", fs.ModeDir | 0o750, ""},
		{"bin", fs.ModeDir | 0o755, ""},
		{"bin/run.sh", 0o755, "#!/bin/sh\necho run\n"},
		{"secret", fs.ModeDir | 0o700, ""},
		{"secret/key", 0o600, "k"},
		{"empty", fs.ModeDir | 0o777, ""},
		{"app.conf", 0o644, "port = 8080\n"},
	}
	for _, e := range tree {
		p := filepath.Join(src, e.path)
		if e.mode.IsDir() {
			if err := os.MkdirAll(p, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, e.mode.Perm()); err != nil {
				t.Fatal(err)
			}
			continue
		}
		writeBytes(t, p, []byte(e.data), e.mode)
	}
	for via, inv := range pushHosts(t) {
		t.Run(via, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "etc", "app")
			code, s, _ := push(t, inv, src, dest)
			if code != 0 || !strings.HasPrefix(s.Stdout, "3 files, 4 directories, 32 bytes over") {
				t.Fatalf("exit %d: %q %q", code, s.Stdout, s.Error)
			}
			for _, e := range tree {
				p := filepath.Join(dest, e.path)
				info, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode() != e.mode {
					t.Errorf("%s: mode %v, want %v", p, info.Mode(), e.mode)
				}
				if !e.mode.IsDir() {
					checkFile(t, p, []byte(e.data), e.mode)
				}
			}
		})
	}
}

// TestPushErrors: a place that cannot be written is an error naming it;
// so is a local file that is missing.
func TestPushErrors(t *testing.T) {
	local := filepath.Join(t.TempDir(), "f")
	writeBytes(t, local, []byte("x"), 0o644)
	for via, inv := range pushHosts(t) {
		t.Run(via, func(t *testing.T) {
			code, s, stdout := push(t, inv, local, "/proc/version/f")
			if code == 0 || s.Status != result.Error || !strings.HasPrefix(s.Error, "writing /proc/version/f: ") || !strings.Contains(stdout, "writing /proc/version/f") {
				t.Errorf("exit %d: %s %q", code, s.Status, s.Error)
			}
			code, s, _ = push(t, inv, local+".missing", "/tmp/")
			if code == 0 || !strings.Contains(s.Error, "src: lstat "+local+".missing: no such file or directory") {
				t.Errorf("exit %d: %s %q", code, s.Status, s.Error)
			}
		})
	}
	code, _, stderr := everywhere(context.Background(), "push", "-H", "x", local, "~/f")
	if code != 2 || !strings.Contains(stderr, "dest: ~/f: ~ is not expanded") {
		t.Errorf("push to ~/f: exit %d\n%s", code, stderr)
	}
}

// TestPushInAPlan: file.push as a plan's step, src relative to the plan's
// folder, and the next step sees the file.
func TestPushInAPlan(t *testing.T) {
	inv := openSSHInventory(t, sshtest.StartOpenSSHWith(t, sshtest.Options{SFTP: true}), "h")
	dir, dest := t.TempDir(), t.TempDir()
	writeBytes(t, filepath.Join(dir, "hello.txt"), []byte("hello\n"), 0o644)
	planFile := filepath.Join(dir, "plan.yaml")
	writeFile(t, planFile, "steps:\n  - file.push: {src: hello.txt, dest: "+dest+"/}\n  - shell: cat "+dest+"/hello.txt\n")
	code, res, _ := runSaved(t, "run", "-i", inv, "-p", planFile)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if s := res.Hosts[0].Steps; s[0].Kind != "file.push" || s[1].Stdout != "hello\n" {
		t.Errorf("steps: %+v", s)
	}
}

// TestPushVerifiesWithoutSHA256Sum: on a host where sha256sum cannot be
// found (nor anything else: the SFTP server is sshd's own), the files are
// read back over SFTP and hashed here instead.
func TestPushVerifiesWithoutSHA256Sum(t *testing.T) {
	inv := openSSHInventory(t, sshtest.StartOpenSSHWith(t, sshtest.Options{SFTP: true, Config: []string{"SetEnv PATH=/nonexistent"}}), "bare")
	local := filepath.Join(t.TempDir(), "f")
	writeBytes(t, local, []byte("read me back\n"), 0o640)
	dest := t.TempDir()
	code, s, _ := push(t, inv, local, dest+"/")
	if code != 0 || !strings.HasPrefix(s.Stdout, "1 file, 0 directories, 13 bytes over sftp; sha256 verified reading the files back (no sha256sum on the host)\n") {
		t.Fatalf("exit %d: %q %q", code, s.Stdout, s.Error)
	}
	checkFile(t, filepath.Join(dest, "f"), []byte("read me back\n"), 0o640)
}
