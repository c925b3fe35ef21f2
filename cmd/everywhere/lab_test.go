package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
