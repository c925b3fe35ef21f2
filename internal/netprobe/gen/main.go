// Command gen builds evnet for every architecture a host may have,
// compressed with Brotli into bin/ for netprobe to embed, with bin/SOURCE.sha256, the digest of
// the sources it built (see srcdigest). Run it with
// go generate ./internal/netprobe.
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/andybalholm/brotli"

	"everywhere/internal/netprobe/srcdigest"
)

// goarches are everywhere's architectures (host.AllArchs) in Go's names.
var goarches = []string{"386", "amd64", "arm", "arm64", "ppc64le", "s390x"}

func main() {
	if err := generate(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// generate runs in internal/netprobe, where go generate runs it.
func generate() error {
	digest, err := srcdigest.Digest(".")
	if err != nil {
		return err
	}
	stale, _ := filepath.Glob("bin/evnet-linux-*")
	for _, file := range stale {
		if err := os.Remove(file); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "evnet-gen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, goarch := range goarches {
		binary, err := build(goarch, digest, filepath.Join(tmp, "evnet-"+goarch))
		if err != nil {
			return err
		}
		file := "bin/evnet-linux-" + goarch + ".br"
		compressed, err := compress(binary)
		if err != nil {
			return fmt.Errorf("compressing %s: %w", file, err)
		}
		if err := os.WriteFile(file, compressed, 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %d bytes (%d uncompressed)\n", file, len(compressed), len(binary))
	}
	return os.WriteFile("bin/SOURCE.sha256", []byte(digest+"\n"), 0o644)
}

// build builds a static, reproducible evnet for linux/goarch.
//
// Its runtime defaults to GODEBUG=asyncpreemptoff=1, which //go:debug
// cannot set (it is no setting of the godebugs table): under qemu-i386
// the preemption signal crashes Go's 386 runtime ("bad g in signal
// handler"), and evnet, blocked in syscalls or in short loops, does not
// need it. The other architectures are spared the same risk.
func build(goarch, digest, out string) ([]byte, error) {
	ldflags := "-s -w -buildid= -X runtime.godebugDefault=asyncpreemptoff=1 -X main.source=" + digest
	cmd := exec.Command("go", "build", "-tags", "evnet", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, "./cmd/evnet")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOARM=7", "GOFLAGS=")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building evnet for linux/%s: %w", goarch, err)
	}
	return os.ReadFile(out)
}

// compress compresses as tightly as Brotli can (quality 11, a window as
// large as the binary): a sixth smaller than gzip's best, which keeps
// every file under bin/ below 1 MB (docsgen's TestNoLargeFiles). Its
// output depends on the input alone.
func compress(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 24})
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
