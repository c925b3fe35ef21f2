package netprobe

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Emulated reports whether this program runs under emulation (qemu-user),
// where times and throughputs measure the emulator as much as the network.
func Emulated() bool { return emulated() }

var emulated = sync.OnceValue(func() bool {
	// qemu-user fakes uname(2) but not this file: it names the kernel's
	// architecture.
	if kernel, err := os.ReadFile("/proc/sys/kernel/arch"); err == nil && !runsNatively(strings.TrimSpace(string(kernel)), runtime.GOARCH) {
		return true
	}
	return interpreted()
})

// nativeOn lists, for each GOARCH, the kernel architectures (uname -m)
// that run its code themselves, a 64-bit kernel its 32-bit sibling's too.
var nativeOn = map[string][]string{
	"386":     {"i386", "i486", "i586", "i686", "x86_64"},
	"amd64":   {"x86_64"},
	"arm":     {"armv6l", "armv7l", "armv8l", "aarch64"},
	"arm64":   {"aarch64"},
	"ppc64le": {"ppc64le"},
	"s390x":   {"s390x"},
}

// runsNatively says whether a kernel of architecture kernel can run
// goarch code without an emulator.
func runsNatively(kernel, goarch string) bool {
	return kernel == goarch || slices.Contains(nativeOn[goarch], kernel)
}

// interpreted says whether this process's executable is not the program
// itself but an interpreter, as qemu-user is: qemu fakes /proc/self/exe,
// but not the same link reached through the main thread's task directory.
// It tells 386 code emulated on an x86-64 kernel (one built without
// 32-bit support) from 386 code that kernel runs itself.
func interpreted() bool {
	program, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return false
	}
	executable, err := os.Readlink(fmt.Sprintf("/proc/self/task/%d/exe", os.Getpid()))
	return err == nil && executable != program
}
