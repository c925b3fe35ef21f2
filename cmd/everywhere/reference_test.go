package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"everywhere/internal/docsgen"
	"everywhere/internal/drivers"
	"everywhere/internal/inventory"
	"everywhere/internal/run"
)

var updateReference = flag.Bool("update-reference", false, "write the generated reference under docs/ (make docs)")

// referenceRegistry is what the reference documents: the drivers and
// inventory blocks this CLI runs with (drivers.All, and the runner's own
// blocks beside the drivers').
func referenceRegistry() docsgen.Registry {
	reg := drivers.All()
	var blocks []docsgen.Block
	for _, b := range inventory.Defaults(append(reg.Blocks(), run.Blocks()...)) {
		blocks = append(blocks, docsgen.Block{Name: b.Name, Defaults: b.Defaults})
	}
	return docsgen.Registry{Drivers: reg.Drivers(), Blocks: blocks}
}

// TestReferenceIsCurrent regenerates the reference (CLI pages, man pages,
// step kinds, inventory blocks, exit codes, result.json's schema) and
// fails where the committed files differ: `make docs` writes them.
func TestReferenceIsCurrent(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("EVERYWHERE_INVENTORY", "") // a flag's default names it: the pages must not
	root, _ := newRootCommand(&bytes.Buffer{}, &bytes.Buffer{})
	files, err := docsgen.Files(root, referenceRegistry(), repo)
	if err != nil {
		t.Fatal(err)
	}
	if *updateReference {
		for _, dir := range docsgen.Dirs() {
			if err := os.RemoveAll(filepath.Join(repo, dir)); err != nil {
				t.Fatal(err)
			}
		}
		for name, data := range files {
			file := filepath.Join(repo, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(repo, filepath.FromSlash(name)))
		switch {
		case err != nil:
			t.Errorf("%v: the reference is stale (make docs writes it)", err)
		case !bytes.Equal(got, want):
			t.Errorf("%s is stale: it differs from what the code generates (make docs writes it)", name)
		}
	}
	for _, dir := range docsgen.Dirs() {
		entries, err := os.ReadDir(filepath.Join(repo, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if name := dir + "/" + e.Name(); files[name] == nil {
				t.Errorf("%s is not generated any more (a command gone?): make docs removes it", name)
			}
		}
	}
}
