package docsgen

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// maxFileSize bounds every file the repository tracks outside docs/ and
// testdata/: a binary that large belongs in a release, not in git (the
// evnet builds that netprobe embeds are the largest, under it compressed).
const maxFileSize = 1_000_000

// TestNoLargeFiles fails naming every file git tracks, outside docs/ and
// testdata/, of maxFileSize bytes or more.
func TestNoLargeFiles(t *testing.T) {
	repo := "../.."
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("git is not installed, so the tracked files cannot be listed: %v", err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("git", "-C", repo, "ls-files", "-z")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("not in a git checkout (git ls-files: %v: %s), so the tracked files cannot be listed", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var large []string
	checked := 0
	for _, path := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if strings.HasPrefix(path, "docs/") || slices.Contains(strings.Split(path, "/"), "testdata") {
			continue
		}
		info, err := os.Lstat(filepath.Join(repo, filepath.FromSlash(path)))
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		checked++
		if info.Size() >= maxFileSize {
			large = append(large, fmt.Sprintf("%s (%d bytes)", path, info.Size()))
		}
	}
	if checked == 0 {
		t.Fatal("git ls-files listed no file outside docs/ and testdata/")
	}
	if len(large) > 0 {
		t.Errorf("files git tracks outside docs/ and testdata/ must be under %d bytes; build, fetch or shrink these instead:\n%s", maxFileSize, strings.Join(large, "\n"))
	}
}
