package labkit

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMirrorIn(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, content, want string }{
		{"a.sources", "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\nTypes: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n", "http://mirror.example/debian"},
		{"b.list", "# comment\ndeb http://sec.example/ bookworm-security main\ndeb http://mirror.example/debian bookworm main\n", "http://mirror.example/debian"},
		{"c.list", "deb-src http://x/ bookworm main\n", ""},
	}
	for _, tt := range tests {
		file := filepath.Join(dir, tt.name)
		if err := os.WriteFile(file, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := mirrorIn(file); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
