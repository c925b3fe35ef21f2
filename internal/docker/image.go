package docker

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"everywhere/internal/driver"
	"everywhere/internal/tarball"
)

// Tree is WriteImage's layer of the files under dir (a rootfs; the contents
// of dev, proc and sys are left out: the engine provides them), with extra
// files (path relative to the root: contents) over dir's.
func Tree(dir string, extra map[string][]byte) func(*tar.Writer) error {
	return func(tw *tar.Writer) error {
		if err := tarball.AddTree(tw, dir, ""); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		return tarball.AddFiles(tw, "", extra)
	}
}

// Files is WriteImage's layer of files alone, each with its mode.
func Files(files []driver.File) func(*tar.Writer) error {
	return func(tw *tar.Writer) error {
		for _, f := range files {
			if err := tarball.AddFile(tw, strings.TrimPrefix(filepath.Clean(f.Path), "/"), f.Mode, f.Data); err != nil {
				return err
			}
		}
		return nil
	}
}

// WriteImage writes a docker-archive (the format of `docker save`, which
// ImageLoad reads) of one layer, whose files addFiles writes, tagged ref,
// whose config carries platform p: so an arm64 rootfs loads as an arm64
// image, which `docker import` of Docker 20.10 cannot do (moby#42813).
func WriteImage(w io.Writer, ref string, p ocispec.Platform, entrypoint, cmd []string, addFiles func(*tar.Writer) error) error {
	layer, err := os.CreateTemp("", "everywhere-layer-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(layer.Name())
	defer layer.Close()
	digest := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(layer, digest))
	if err := addFiles(tw); err != nil {
		return fmt.Errorf("layer of %s: %w", ref, err)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	diffID := "sha256:" + hex.EncodeToString(digest.Sum(nil))
	config, err := json.Marshal(map[string]any{
		"architecture": p.Architecture,
		"variant":      p.Variant,
		"os":           p.OS,
		"created":      time.Now().UTC().Format(time.RFC3339),
		"config":       map[string]any{"Entrypoint": entrypoint, "Cmd": cmd, "Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	if err != nil {
		return err
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{ref}, "Layers": []string{"layer.tar"}}})
	if err != nil {
		return err
	}
	out := tar.NewWriter(w)
	if err := tarball.AddFiles(out, "", map[string][]byte{"config.json": config, "manifest.json": manifest}); err != nil {
		return err
	}
	size, err := layer.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := layer.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := out.WriteHeader(&tar.Header{Name: "layer.tar", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.Copy(out, layer); err != nil {
		return err
	}
	return out.Close()
}
