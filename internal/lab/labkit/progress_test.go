package labkit

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestTreeProgress counts dpkg's "Setting up" lines and follows
// mmdebstrap's phase, from output cut at any byte, and reports both against
// the last build.
func TestTreeProgress(t *testing.T) {
	out := "I: running apt-get update...\nI: installing remaining packages inside the chroot...\nSetting up libc6:armhf (2.36-9) ...\n" +
		"Unpacking x\nSetting up sshd (1:9.2) ...\nSetting up docker.io (20.10) ...\n  Setting up (not dpkg's)\n"
	for cut := 1; cut < len(out); cut += 7 {
		var p treeProgress
		for rest := out; rest != ""; {
			n := min(cut, len(rest))
			if _, err := p.Write([]byte(rest[:n])); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if p.count() != 3 || p.phase != "installing remaining packages inside the chroot" {
			t.Fatalf("cut %d: %d set up, phase %q", cut, p.count(), p.phase)
		}
	}
}

func TestTreeProgressReport(t *testing.T) {
	dir := t.TempDir() + "/armhf-bookworm"
	for file, content := range map[string]string{dir + ".build-time": "57m39s\n", dir + ".build-packages": "412\n"} {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var p treeProgress
	_, _ = p.Write([]byte("I: extracting archives...\nSetting up a\n"))
	lines := make(chan string, 100)
	stop := p.report(lineWriter(lines), "armhf bookworm", time.Now().Add(-time.Minute), dir, time.Millisecond)
	got := <-lines
	stop()
	if !strings.HasPrefix(got, "[armhf bookworm] tree: extracting archives, 1 package set up of 412, 1m0s of ~57m39s last time") {
		t.Errorf("progress %q", got)
	}
}

// lineWriter sends each write to a channel.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) {
	select {
	case w <- string(p):
	default: // a full channel: the test has what it needs
	}
	return len(p), nil
}
