package netprobe

import (
	"runtime"
	"testing"
)

func TestRunsNatively(t *testing.T) {
	for _, c := range []struct {
		kernel, goarch string
		native         bool
	}{
		{"x86_64", "amd64", true},
		{"x86_64", "386", true},
		{"i686", "386", true},
		{"i686", "amd64", false},
		{"aarch64", "arm64", true},
		{"aarch64", "arm", true},
		{"armv7l", "arm", true},
		{"x86_64", "arm64", false},
		{"x86_64", "s390x", false},
		{"s390x", "s390x", true},
		{"ppc64le", "ppc64le", true},
		{"riscv64", "riscv64", true},
	} {
		if got := runsNatively(c.kernel, c.goarch); got != c.native {
			t.Errorf("%s code on a %s kernel: native %v, want %v", c.goarch, c.kernel, got, c.native)
		}
	}
}

// This test binary runs natively (the foreign builds are tested under
// qemu-user in TestResponders).
func TestNotEmulated(t *testing.T) {
	if Emulated() || interpreted() {
		t.Errorf("the test binary (%s) says it runs emulated: Emulated %v, interpreted %v", runtime.GOARCH, Emulated(), interpreted())
	}
}
