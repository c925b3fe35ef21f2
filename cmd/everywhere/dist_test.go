package main

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"everywhere/internal/dockertest"
	"everywhere/internal/ociimage"
)

// TestDistRunsUnderEmulation builds the release binaries of three foreign
// architectures with `make dist` and runs each one's --version under
// qemu-user: they are static, checksummed, and stamped with the version,
// commit and date. Then it packs them as make image does, one image per
// architecture under one index, loads the arm64 one into a Docker engine
// of its own and runs it there (under binfmt's qemu). Without qemu-user
// or dockerd it skips, saying so, except in CI.
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
	commit, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
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

	t.Run("image", func(t *testing.T) { checkImage(t, dist) })
}

// checkImage writes the OCI layout of the dist binaries, checks its index,
// and runs the arm64 image's everywhere and shell in a Docker engine.
func checkImage(t *testing.T, dist string) {
	binaries, err := ociimage.DistBinaries(dist, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range binaries {
		if err := ociimage.BuildShell(b.Name, b.Shell); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "image")
	const ref = "everywhere:v9.9.9-test"
	if err := ociimage.WriteLayout(dir, ref, binaries, time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	var index ocispec.Index
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatal(err)
	}
	// layout.Write puts the image index itself in index.json's one manifest.
	if len(index.Manifests) != 1 || index.Manifests[0].MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("index.json: want one image index, got %+v", index.Manifests)
	}
	data, err = os.ReadFile(filepath.Join(dir, "blobs", "sha256", index.Manifests[0].Digest.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	var list ocispec.Index
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, m := range list.Manifests {
		platforms = append(platforms, m.Platform.Architecture+m.Platform.Variant)
	}
	slices.Sort(platforms)
	if strings.Join(platforms, " ") != "arm64v8 ppc64le s390x" {
		t.Errorf("the image index holds %v, want arm64v8 ppc64le s390x", platforms)
	}
	if _, err := os.Stat("/proc/sys/fs/binfmt_misc/qemu-aarch64"); err != nil && os.Getenv("CI") != "true" {
		t.Skipf("no binfmt_misc entry for arm64 (%v): a Docker engine cannot run the arm64 image here", err)
	}
	socket := dockertest.Start(t, dockertest.Options{})
	archive := filepath.Join(t.TempDir(), "image-arm64.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := ociimage.DockerArchive(dir, "arm64", ref, f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	docker := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("docker", append([]string{"--host", "unix://" + socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	docker("load", "-i", archive)
	if arch := docker("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", ref); strings.TrimSpace(arch) != "linux/arm64" {
		t.Errorf("loaded image is %s, want linux/arm64", arch)
	}
	if out := docker("run", "--rm", ref, "--version"); !strings.Contains(out, "everywhere v9.9.9-test") || !strings.Contains(out, "linux/arm64") {
		t.Errorf("docker run %s --version: %s", ref, out)
	}
	// The Kubernetes example's wrapper, as its pods run it: exit 1 (here a
	// host that cannot be reached: the container has no network) is the
	// merge's to report, so the shell exits 0.
	script := `everywhere exec -H 127.0.0.1:1 --retries 0 --no-progress -- true; code=$?; echo "everywhere exited $code"; [ "$code" -le 1 ] || exit "$code"`
	if out := docker("run", "--rm", "--entrypoint", "sh", ref, "-c", script); !strings.Contains(out, "everywhere exited 1") {
		t.Errorf("sh -c in the image: %s", out)
	}
}
