package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"everywhere/internal/result"
)

// -o DIR writes report.html too, and `report` reads the page back as the
// result it holds.
func TestReportHTMLReadsBack(t *testing.T) {
	res, err := result.ReadFile(savedFleet(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var saved strings.Builder
	o := renderOptions{format: "side", color: "never", output: out}
	if err := o.render(io.Discard, &saved, res); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(out, "report.html")
	if !strings.Contains(saved.String(), page) {
		t.Fatalf("saved %q: want %s", saved.String(), page)
	}
	code, stdout, stderr := everywhere(context.Background(), "report", page, "--format", "md")
	if code != 0 || !strings.Contains(stdout, "web3<br>arm64") {
		t.Errorf("report of report.html: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = everywhere(context.Background(), "report", page, "--format", "html")
	if code != 0 || !strings.HasPrefix(stdout, "<!DOCTYPE html>") || !strings.Contains(stdout, result.HTMLScriptOpen) {
		t.Errorf("--format html: exit %d\n%.300s", code, stdout)
	}
}

func TestDiffExitCodes(t *testing.T) {
	old := savedFleet(t, 3)
	res, err := result.ReadFile(old)
	if err != nil {
		t.Fatal(err)
	}
	res.Hosts[1].Status, res.Hosts[1].Steps[0].Status = result.Failed, result.Failed
	regressed := filepath.Join(t.TempDir(), "result.json")
	if err := res.WriteFile(regressed); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(t.TempDir(), "junk.json")
	os.WriteFile(junk, []byte("not json"), 0o644)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{old, old}, 0, "no change · exit 0"},
		{[]string{old, regressed}, 1, "REGRESSION machine: ok → failed"},
		{[]string{regressed, old}, 0, "fixed      machine: failed → ok"},
		{[]string{old, regressed, "--match", "arch", "--format", "json"}, 1, `"kind": "regression"`},
		{[]string{old, junk}, 2, "not a result document"},
		{[]string{old}, 2, "accepts 2 arg(s)"},
		{[]string{old, old, "--slower", "fast"}, 2, "not a factor"},
		{[]string{old, old, "--slower", "0.5x"}, 2, "must be more than 1"},
		{[]string{old, old, "--match", "label"}, 2, "use name or arch"},
		{[]string{old, old, "--format", "junit"}, 2, "use one of side, md, json, html"},
	}
	for _, tt := range tests {
		code, stdout, stderr := everywhere(context.Background(), append([]string{"diff"}, tt.args...)...)
		if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
			t.Errorf("diff %v: exit %d, want %d and %q\n%s%s", tt.args, code, tt.code, tt.want, stdout, stderr)
		}
	}
}
