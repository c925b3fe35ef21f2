// Package docsgen writes the reference that is generated from the code:
// the command line's pages (Markdown and man, by cobra's doc package), the
// step kinds and inventory blocks of the drivers the CLI hands down, the
// exit codes, and the JSON Schema of result.json. A test compares what it
// writes with the files committed under docs/, so the reference cannot go
// stale unnoticed; `make docs` writes them again.
package docsgen

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"everywhere/internal/driver"
)

// module is the import path every package of the repository starts with.
const module = "everywhere"

// Registry is what the CLI hands down to the reference: its drivers (their
// step kinds) and the inventory blocks they read.
type Registry struct {
	Drivers []*driver.Driver
	Blocks  []Block
}

// Block is an inventory block (`docker:`) and its value for a host that
// has none: its fields' types come from it, and its defaults.
type Block struct {
	Name     string
	Defaults any
}

// The folders and files the reference is written to, from the repository's root.
const (
	CLIDir     = "docs/reference/cli"
	ManDir     = "docs/man"
	KindsFile  = "docs/reference/step-kinds.md"
	BlocksFile = "docs/reference/inventory-blocks.md"
	ExitFile   = "docs/reference/exit-codes.md"
	SchemaFile = "docs/reference/result.schema.json"
)

// Files generates the reference of the command tree under root and the
// registry's drivers: file path (slash-separated, from the repository's
// root, which repo is on disk) to content. Nothing in it depends on the
// time, the machine or the environment, so it regenerates byte for byte.
func Files(root *cobra.Command, reg Registry, repo string) (map[string][]byte, error) {
	src, err := readSource(repo, module)
	if err != nil {
		return nil, fmt.Errorf("reading the source under %s: %w", repo, err)
	}
	files := map[string][]byte{}
	if err := cliFiles(root, files); err != nil {
		return nil, err
	}
	kinds, err := kindsPage(reg.Drivers, src)
	if err != nil {
		return nil, err
	}
	files[KindsFile] = kinds
	files[BlocksFile] = blocksPage(reg.Blocks, src)
	files[ExitFile] = exitPage(src)
	if files[SchemaFile], err = resultSchema(src); err != nil {
		return nil, err
	}
	return files, nil
}

// Dirs are the folders whose every file Files generates: a file there that
// Files did not write is stale (a command that is gone).
func Dirs() []string { return []string{CLIDir, ManDir} }

// table renders a Markdown table; cells are escaped for it.
func table(header []string, rows [][]string) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = strings.NewReplacer("|", `\|`, "\n", " ").Replace(c)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

// generated is the line every generated page starts with.
func generated(w *bytes.Buffer, title string) {
	fmt.Fprintf(w, "# %s\n\n<!-- Generated from the code by `make docs` (internal/docsgen): do not edit. -->\n\n", title)
}

// pageName is a command's file name without extension: "everywhere_lab_up".
func pageName(c *cobra.Command) string {
	return strings.ReplaceAll(c.CommandPath(), " ", "_")
}
