//go:build !evnet

// evnet itself is built with the tag evnet (see gen), so that it does not
// embed its own builds.

package netprobe

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/andybalholm/brotli"
)

//go:generate go run ./gen

// responders holds evnet built for every architecture, compressed with
// Brotli, and bin/SOURCE.sha256, the digest of the sources they were
// built from.
//
//go:embed bin/*.br bin/SOURCE.sha256
var responders embed.FS

// Responder returns evnet built for linux/goarch (386, amd64, arm, arm64,
// ppc64le or s390x), a static binary to copy into a container of that
// architecture.
func Responder(goarch string) ([]byte, error) {
	compressed, err := responders.ReadFile("bin/evnet-linux-" + goarch + ".br")
	if err != nil {
		return nil, fmt.Errorf("no evnet responder for %q (built: %s)", goarch, strings.Join(ResponderArchs(), ", "))
	}
	binary, err := io.ReadAll(brotli.NewReader(bytes.NewReader(compressed)))
	if err != nil {
		return nil, fmt.Errorf("evnet responder for %s: %w", goarch, err)
	}
	return binary, nil
}

// ResponderArchs lists the GOARCHes Responder has a binary for, sorted.
func ResponderArchs() []string {
	files, _ := fs.Glob(responders, "bin/evnet-linux-*.br")
	archs := make([]string, len(files))
	for i, file := range files {
		archs[i] = strings.TrimSuffix(strings.TrimPrefix(path.Base(file), "evnet-linux-"), ".br")
	}
	return archs
}
