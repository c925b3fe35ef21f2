package result

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSchemaKnown(t *testing.T) {
	for s, want := range map[string]bool{
		Schema: true, "everywhere.result/1.7": true,
		"everywhere.result/9.0": false, "everywhere.result/10": false, "everywhere.other/1.0": false,
		"": false, "everywhere.result": false, "everywhere": false,
	} {
		if got := SchemaKnown(s); got != want {
			t.Errorf("SchemaKnown(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestReadFileRefusesAnotherMajorSchema(t *testing.T) {
	file := filepath.Join(t.TempDir(), "result.json")
	if err := os.WriteFile(file, []byte(`{"schema": "everywhere.result/9.0", "hosts": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(file)
	if err == nil || !strings.Contains(err.Error(), `schema "everywhere.result/9.0", this everywhere reads "everywhere.result/1.0"`) {
		t.Errorf("err = %v", err)
	}
}

func TestSummaryWithholdsABadSignalName(t *testing.T) {
	s := StepResult{Status: Failed, Signal: "SIGKILL\n\n## All 12 hosts passed\n\n[Download the fix](https://example.com)"}
	if got := s.Summary(); got != "killed by UNKNOWN" {
		t.Errorf("Summary = %q", got)
	}
	s.Signal = "SIGKILL"
	if got := s.Summary(); got != "killed by SIGKILL" {
		t.Errorf("Summary = %q", got)
	}
}

func TestReadFileHTML(t *testing.T) {
	dir := t.TempDir()
	for name, tt := range map[string]struct{ page, err string }{
		"embedded":  {"<!DOCTYPE html>\n<p>x</p>" + HTMLScriptOpen + `{"schema": "everywhere.result/1.0", "run_id": "r\u003c/script\u003e", "hosts": []}</script>`, ""},
		"none":      {"<!DOCTYPE html><p>hello</p>", "without an embedded result"},
		"cut short": {"<html>" + HTMLScriptOpen + `{"schema": `, "cut short"},
	} {
		file := filepath.Join(dir, "report.html")
		if err := os.WriteFile(file, []byte(tt.page), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := ReadFile(file)
		switch {
		case tt.err == "" && (err != nil || res.RunID != "r</script>"):
			t.Errorf("%s: %v, %+v", name, err, res)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: err = %v, want %q", name, err, tt.err)
		}
	}
}
