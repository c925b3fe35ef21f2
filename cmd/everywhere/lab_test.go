package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"everywhere/internal/lab"
)

// A --dir with whitespace broke the lab's mount checks (the kernel escapes
// a space as \040), so lab down --purge crossed into bind mounts: every lab
// command refuses it as a usage error, before touching anything.
func TestLabDirWithWhitespaceIsUsageError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my lab")
	for _, args := range [][]string{
		{"lab", "status", "--dir", dir},
		{"lab", "down", "--purge", "--dir", dir},
		{"lab", "up", "--dir", dir},
		{"lab", "--dir", "tab\there", "down"},
	} {
		code, _, stderr := everywhere(context.Background(), args...)
		if code != 2 || !strings.Contains(stderr, "--dir") || !strings.Contains(stderr, "whitespace") {
			t.Errorf("everywhere %q: exit %d, stderr %q; want 2 and the --dir whitespace refusal", args, code, stderr)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a refused lab folder was created: %v", err)
	}
}

// --suite takes several suites side by side; a malformed list is a usage
// error (exit 2) before anything is touched.
func TestLabUpSuites(t *testing.T) {
	opts := labUpOptions{dir: t.TempDir(), cacheDir: t.TempDir(), subnet: lab.DefaultSubnet, lxdSubnet: lab.DefaultLXDNet, overlay: lab.DefaultOverlay,
		prefix: "es", suite: "bookworm, trixie", archs: "amd64,arm64"}
	cfg, err := opts.config()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.WithDefaults()
	var names []string
	for _, h := range cfg.Hosts() {
		names = append(names, h.Name+"@"+h.Address.String())
	}
	if got, want := strings.Join(names, " "), "arm64-bookworm@10.213.0.12 amd64-bookworm@10.213.0.14 arm64-trixie@10.213.0.22 amd64-trixie@10.213.0.24"; got != want {
		t.Errorf("hosts %q, want %q", got, want)
	}
	if cfg.Prefix != "es" {
		t.Errorf("prefix %q", cfg.Prefix)
	}
	for _, suite := range []string{"bookworm,", "bookworm,bookworm", "bookworm trixie", "../x"} {
		code, _, stderr := everywhere(context.Background(), "lab", "up", "--dir", t.TempDir(), "--suite", suite)
		if code != 2 || !strings.Contains(stderr, "suite") {
			t.Errorf("--suite %q: exit %d, stderr %q; want 2 naming the suite", suite, code, stderr)
		}
	}
}
