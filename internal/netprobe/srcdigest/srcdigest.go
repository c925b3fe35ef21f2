// Package srcdigest fingerprints the sources of evnet, so that the
// binaries embedded in netprobe can be checked against them.
package srcdigest

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Digest is a SHA-256, in hex, over the non-test .go files under dir,
// sorted by their slash-separated paths, each with its path and length
// before its content.
func Digest(dir string) (string, error) {
	var paths []string
	err := fs.WalkDir(os.DirFS(dir), ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			paths = append(paths, path)
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("digest of the sources in %s: %w", dir, err)
	}
	slices.Sort(paths)
	sum := sha256.New()
	for _, path := range paths {
		content, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			return "", fmt.Errorf("digest of the sources in %s: %w", dir, err)
		}
		fmt.Fprintf(sum, "%s %d\n", path, len(content))
		sum.Write(content)
	}
	return fmt.Sprintf("%x", sum.Sum(nil)), nil
}
