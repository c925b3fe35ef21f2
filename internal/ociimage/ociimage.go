// Package ociimage packs everywhere's release binaries (make dist) into
// container images: one image per architecture, all under one OCI image
// index, written as an OCI layout with go-containerregistry. No registry is
// asked and no base image pulled: an image holds the binary and a shell.
package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	ggcrtarball "github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"everywhere/internal/tarball"
)

// Platforms maps the name of a dist binary (dist/everywhere-linux-NAME) to
// its image platform, as `make dist` names them.
var Platforms = map[string]v1.Platform{
	"armv7":   {OS: "linux", Architecture: "arm", Variant: "v7"},
	"arm64":   {OS: "linux", Architecture: "arm64", Variant: "v8"},
	"386":     {OS: "linux", Architecture: "386"},
	"amd64":   {OS: "linux", Architecture: "amd64"},
	"ppc64le": {OS: "linux", Architecture: "ppc64le"},
	"s390x":   {OS: "linux", Architecture: "s390x"},
}

// Binary is one architecture's files of an image.
type Binary struct {
	Name       string // a key of Platforms
	Everywhere string // the static everywhere binary
	Shell      string // a static POSIX shell, installed as /bin/sh (the examples' Jobs run sh -c)
}

// Image is one architecture's image: everywhere as its entrypoint, a shell
// at /bin/sh, created at the given time (the commit's, so that a commit
// builds the same image).
func Image(b Binary, created time.Time) (v1.Image, error) {
	platform, ok := Platforms[b.Name]
	if !ok {
		return nil, fmt.Errorf("unknown platform %q (known: %s)", b.Name, strings.Join(names(), ", "))
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, f := range []struct{ path, from string }{{"usr/local/bin/everywhere", b.Everywhere}, {"bin/sh", b.Shell}} {
		data, err := os.ReadFile(f.from)
		if err != nil {
			return nil, err
		}
		if err := tarball.AddFile(tw, f.path, 0o755, data); err != nil {
			return nil, err
		}
	}
	if err := tarball.AddFile(tw, "tmp/.keep", 0o644, nil); err != nil { // a /tmp for what runs inside
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	l, err := ggcrtarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil },
		ggcrtarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), l)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	cf.Created = v1.Time{Time: created.UTC()}
	cf.Config.Entrypoint = []string{"/usr/local/bin/everywhere"}
	cf.Config.Cmd = []string{"--help"}
	cf.Config.Env = []string{"PATH=/usr/local/bin:/bin"}
	return mutate.ConfigFile(img, cf)
}

// WriteLayout writes an OCI layout in dir: every binary's image under one
// image index, each manifest carrying its platform, the index named ref.
func WriteLayout(dir, ref string, binaries []Binary, created time.Time) error {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, b := range binaries {
		img, err := Image(b, created)
		if err != nil {
			return fmt.Errorf("image of %s: %w", b.Name, err)
		}
		platform := Platforms[b.Name]
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &platform}})
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	// index.json names the image index by ref, as `docker buildx --output
	// type=oci` does, so `skopeo copy --all oci:DIR` copies every platform.
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref}))
}

// DockerArchive writes the image of one platform from the layout in dir as
// a `docker save` archive tagged ref, which `docker load` reads: Docker
// engines before 25 do not load an OCI layout.
func DockerArchive(dir, platformName, ref string, w io.Writer) error {
	want, ok := Platforms[platformName]
	if !ok {
		return fmt.Errorf("unknown platform %q (known: %s)", platformName, strings.Join(names(), ", "))
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return err
	}
	top, err := p.ImageIndex()
	if err != nil {
		return err
	}
	named, err := top.IndexManifest()
	if err != nil {
		return err
	}
	if len(named.Manifests) != 1 {
		return fmt.Errorf("%s: %d entries in index.json, want the one image index WriteLayout writes", dir, len(named.Manifests))
	}
	idx, err := top.ImageIndex(named.Manifests[0].Digest)
	if err != nil {
		return err
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	for _, d := range manifest.Manifests {
		if d.Platform != nil && d.Platform.Equals(want) {
			img, err := idx.Image(d.Digest)
			if err != nil {
				return err
			}
			return ggcrtarball.Write(tag, img, w)
		}
	}
	return fmt.Errorf("%s: no image for %s", dir, platformName)
}

// DistBinaries are the everywhere binaries in a dist folder, by platform
// name, with the shell of each from shells (a folder of sh-NAME files).
func DistBinaries(dist, shells string) ([]Binary, error) {
	files, err := filepath.Glob(filepath.Join(dist, "everywhere-linux-*"))
	if err != nil {
		return nil, err
	}
	var list []Binary
	for _, f := range files {
		n := strings.TrimPrefix(filepath.Base(f), "everywhere-linux-")
		if _, ok := Platforms[n]; !ok {
			return nil, fmt.Errorf("%s: not a platform of make dist (known: %s)", f, strings.Join(names(), ", "))
		}
		list = append(list, Binary{Name: n, Everywhere: f, Shell: filepath.Join(shells, "sh-"+n)})
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: no everywhere-linux-* binary (make dist builds them)", dist)
	}
	return list, nil
}

// ShellPackage is the shell an image carries as /bin/sh: mvdan.cc/sh's
// gosh, a POSIX shell in Go, which builds static for every platform as
// everywhere does (a Debian shell would need a base image pulled). go.mod
// names it as a tool, so its version is the module's.
const ShellPackage = "mvdan.cc/sh/v3/cmd/gosh"

// BuildShell builds the static shell of a platform into out, with the go
// command of this module.
func BuildShell(platformName, out string) error {
	p, ok := Platforms[platformName]
	if !ok {
		return fmt.Errorf("unknown platform %q (known: %s)", platformName, strings.Join(names(), ", "))
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, ShellPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	if p.Architecture == "arm" {
		cmd.Env = append(cmd.Env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the shell for %s: %v\n%s", platformName, err, output)
	}
	return nil
}

func names() []string {
	var list []string
	for n := range Platforms {
		list = append(list, n)
	}
	sort.Strings(list)
	return list
}
