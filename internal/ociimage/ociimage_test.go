package ociimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// TestLayoutAndArchive packs two stand-in binaries and reads the layout
// back: one index named by ref in index.json, a manifest per platform whose
// config says that platform, and a docker archive of the one asked for.
// (cmd/everywhere's TestDistRunsUnderEmulation runs real images.)
func TestLayoutAndArchive(t *testing.T) {
	dir := t.TempDir()
	var binaries []Binary
	for _, n := range []string{"arm64", "armv7"} {
		b := Binary{Name: n, Everywhere: filepath.Join(dir, "everywhere-"+n), Shell: filepath.Join(dir, "sh-"+n)}
		for _, f := range []string{b.Everywhere, b.Shell} {
			if err := os.WriteFile(f, []byte(f), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		binaries = append(binaries, b)
	}
	out := filepath.Join(dir, "image")
	created := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	if err := WriteLayout(out, "everywhere:test", binaries, created); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	named, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(named.Manifests) != 1 || named.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "everywhere:test" {
		t.Fatalf("index.json: %+v", named.Manifests)
	}
	idx, err := top.ImageIndex(named.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	list, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range list.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != d.Platform.Architecture || cf.Variant != d.Platform.Variant || !cf.Created.Equal(created) || cf.Config.Entrypoint[0] != "/usr/local/bin/everywhere" {
			t.Errorf("platform %+v: config %+v", d.Platform, cf)
		}
		platforms = append(platforms, d.Platform.Architecture+"/"+d.Platform.Variant)
	}
	slices.Sort(platforms)
	if strings.Join(platforms, " ") != "arm/v7 arm64/v8" {
		t.Errorf("platforms %v", platforms)
	}

	var archive bytes.Buffer
	if err := DockerArchive(out, "armv7", "everywhere:test", &archive); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&archive)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatal("the docker archive has no manifest.json")
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			t.Fatal(err)
		}
		if len(m) != 1 || len(m[0].RepoTags) != 1 || !strings.HasSuffix(m[0].RepoTags[0], "everywhere:test") {
			t.Errorf("manifest.json: %+v", m)
		}
		break
	}
	if err := DockerArchive(out, "s390x", "everywhere:test", io.Discard); err == nil {
		t.Error("an archive of a platform the layout lacks: no error")
	}
}
