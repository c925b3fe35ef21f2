package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"everywhere/internal/report"
	"everywhere/internal/result"
)

func TestReportRefusesAnotherMajorSchema(t *testing.T) {
	file := filepath.Join(t.TempDir(), "result.json")
	os.WriteFile(file, []byte(`{"schema": "everywhere.result/9.0", "run_id": "x", "hosts": []}`), 0o600)
	code, stdout, stderr := everywhere(context.Background(), "report", file)
	want := `schema "everywhere.result/9.0", this everywhere reads "everywhere.result/1.0"`
	if code != result.ExitUsage || !strings.Contains(stderr, want) || stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", code, stdout, stderr, want)
	}
}

// savedFleet writes a result of n ok hosts and returns its path.
func savedFleet(t *testing.T, n int) string {
	t.Helper()
	res := &result.Result{Schema: result.Schema, RunID: "r1", Plan: "p", Steps: []string{"machine"}}
	for i := range n {
		code := 0
		res.Hosts = append(res.Hosts, result.HostResult{Name: fmt.Sprintf("web%d", i+1), Arch: "arm64", Address: fmt.Sprintf("10.0.0.%d", i+1), Status: result.OK,
			Steps: []result.StepResult{{Name: "machine", Command: "uname -m", Status: result.OK, ExitCode: &code, Stdout: "aarch64\n"}}})
	}
	file := filepath.Join(t.TempDir(), "result.json")
	if err := res.WriteFile(file); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestReportGroups(t *testing.T) {
	many, few := savedFleet(t, 12), savedFleet(t, 2)
	tests := []struct {
		args    []string
		grouped bool
	}{
		{[]string{"report", many}, true}, // 12 hosts do not fit side by side in 120 columns
		{[]string{"report", many, "--group=false"}, false},
		{[]string{"report", few}, false},
		{[]string{"report", few, "--group"}, true},
	}
	for _, tt := range tests {
		code, stdout, stderr := everywhere(context.Background(), tt.args...)
		grouped := strings.Contains(stdout, "✔ ok 0.00s · web[")
		if code != 0 || grouped != tt.grouped {
			t.Errorf("%v: exit %d, grouped %v, want %v\n%s%s", tt.args[2:], code, grouped, tt.grouped, stdout, stderr)
		}
	}
}

func TestSideWidth(t *testing.T) {
	tests := []struct {
		flag, term int
		tty        bool
		columns    string
		want       int
	}{
		{0, 0, false, "", report.DefaultWidth},
		{0, 0, false, "200", 200},
		{0, 0, false, "junk", report.DefaultWidth},
		{90, 0, false, "200", 90},
		{0, 150, true, "200", 150},
		{90, 150, true, "", 90},
		{0, 0, true, "70", 70}, // a terminal whose size cannot be read
	}
	for _, tt := range tests {
		o := renderOptions{width: tt.flag, color: "never"}
		if got := o.sideOptions(tt.tty, tt.term, tt.columns).Width; got != tt.want {
			t.Errorf("--width %d, terminal %v of %d, COLUMNS=%q: width %d, want %d", tt.flag, tt.tty, tt.term, tt.columns, got, tt.want)
		}
	}
}
