package labkit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveDir(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(base, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "real"), filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(base)
	tests := []struct{ dir, want, err string }{
		{"lab", filepath.Join(base, "lab"), ""},
		{"./real/../lab/", filepath.Join(base, "lab"), ""},
		{"link", filepath.Join(base, "real"), ""},
		{filepath.Join(base, "link", "not", "yet"), filepath.Join(base, "real", "not", "yet"), ""},
		{"my lab", "", "whitespace"},
		{"/var/lib/lab\t", "", "whitespace"},
		{"a,b", "", "','"},
		{"/", "", "cannot live in /"},
		{"", "", "no folder"},
	}
	for _, tt := range tests {
		got, err := ResolveDir(tt.dir)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ResolveDir(%q) = %q, %v; want an error about %s", tt.dir, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ResolveDir(%q) = %q, %v; want %q", tt.dir, got, err, tt.want)
		}
	}
}

// Every loop over parent folders ends at the root, also from a relative
// path (filepath.Dir(".") is "."), and stops when the context ends.
func TestParentsLoopEndsAndHonoursContext(t *testing.T) {
	t.Chdir(t.TempDir())
	done := make(chan error, 1)
	go func() { done <- ParentsSearchable(context.Background(), ".") }()
	if err := <-done; err != nil && !strings.Contains(err.Error(), "searchable") {
		t.Errorf("relative path: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ParentsSearchable(ctx, "/var/tmp"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestUnescapeMountField(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/t\011ab`: "/t\tab", `/back\134slash`: `/back\slash`, `/plain`: "/plain", `/odd\04`: `/odd\04`} {
		if got := unescapeMountField(in); got != want {
			t.Errorf("unescapeMountField(%q) = %q, want %q", in, got, want)
		}
	}
}
