package docsgen

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommittedResultsValidate validates every result document kept in the
// repository (the JSON renderer's golden file, the examples under docs/)
// against the schema: they are what the JSON report writes.
func TestCommittedResultsValidate(t *testing.T) {
	n := 0
	err := filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "reference") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, ".json") && !strings.HasSuffix(p, ".json.golden") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(data, []byte(`"schema": "everywhere.result/`)) {
			return err
		}
		n++
		if err := ValidateResult("../..", data); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Fatalf("found %d result documents in the repository, want the report's golden file and the docs' examples", n)
	}
}
