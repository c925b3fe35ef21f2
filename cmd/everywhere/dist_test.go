package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDistRunsUnderEmulation builds the release binaries of three foreign
// architectures with `make dist` and runs each one's --version under
// qemu-user: they are static, checksummed, and stamped with the version,
// commit and date. Without qemu-user it skips, saying so, except in CI.
func TestDistRunsUnderEmulation(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: cross-building takes minutes")
	}
	emulators := map[string]string{"arm64": "qemu-aarch64-static", "ppc64le": "qemu-ppc64le-static", "s390x": "qemu-s390x-static"}
	machines := map[string]elf.Machine{"arm64": elf.EM_AARCH64, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390}
	for _, emulator := range emulators {
		if _, err := exec.LookPath(emulator); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s: %v (scripts/install-deps installs qemu-user-static)", emulator, err)
			}
			t.Skipf("%s: %v: cannot run foreign binaries here (apt-get install qemu-user-static)", emulator, err)
		}
	}
	dist := t.TempDir()
	cmd := exec.Command("make", "-C", "../..", "dist", "DIST="+dist, "VERSION=v9.9.9-test", "PLATFORMS=arm64:arm64: ppc64le:ppc64le: s390x:s390x:")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil || strings.Count(string(out), ": OK") != 3 {
		t.Errorf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
	}
	commit, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	for arch, emulator := range emulators {
		binary := filepath.Join(dist, "everywhere-linux-"+arch)
		f, err := elf.Open(binary)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked (it has an interpreter): a release binary must be static", binary)
			}
		}
		if f.Machine != machines[arch] {
			t.Errorf("%s is for %v, want %v", binary, f.Machine, machines[arch])
		}
		f.Close()
		out, err := exec.Command(emulator, binary, "--version").CombinedOutput()
		version := string(out)
		t.Logf("%s %s --version: %s", emulator, filepath.Base(binary), version)
		if err != nil {
			t.Errorf("%s %s --version: %v\n%s", emulator, binary, err, out)
			continue
		}
		for _, want := range []string{"everywhere v9.9.9-test, commit " + strings.TrimSpace(string(commit)), " of 20", "linux/" + arch} {
			if !strings.Contains(version, want) {
				t.Errorf("%s --version = %q, want it to say %q", arch, version, want)
			}
		}
	}
}
