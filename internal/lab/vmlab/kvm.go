package vmlab

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/lab/labkit"
)

// probeKVM says how a's machines run here: "kvm" when /dev/kvm exists, a
// is x86 and a probe boot of a's kernel under KVM reaches userspace's
// first step in seconds, else "tcg". The probe matters: on nested
// machines /dev/kvm can exist while Debian's kernel hangs before its first
// message under every CPU model. Its answer is kept in the cache.
func probeKVM(ctx context.Context, c labkit.Config, a host.Arch, img vmImage) string {
	if (a != host.AMD64 && a != host.I686) || !isX86Machine() {
		return "tcg"
	}
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return "tcg"
	}
	file := filepath.Join(c.CacheDir, "kvm-probe-"+a.Debian()+"-"+img.recipe)
	if data, err := os.ReadFile(file); err == nil {
		return strings.TrimSpace(string(data))
	}
	answer := "tcg"
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	spec := machineSpecs[a]
	// The initrd's init runs, finds no root and drops into a shell: the
	// kernel's "Run /init" line means the boot works.
	cmd := exec.CommandContext(ctx, spec.qemu, "-nodefaults", "-no-user-config", "-display", "none", "-accel", "kvm", "-cpu", "max",
		"-m", "512", "-kernel", img.kernel, "-initrd", img.initrd, "-append", "console=ttyS0 panic=-1", "-serial", "stdio", "-no-reboot")
	out, _ := cmd.StdoutPipe()
	if cmd.Start() == nil {
		buf := make([]byte, 0, 64<<10)
		chunk := make([]byte, 4096)
		for {
			n, err := out.Read(chunk)
			buf = append(buf, chunk[:n]...)
			if strings.Contains(string(buf), "Run /init") {
				answer = "kvm"
				break
			}
			if err != nil || len(buf) > 1<<20 {
				break
			}
		}
		cancel()
		_ = cmd.Wait()
	}
	_ = os.WriteFile(file, []byte(answer+"\n"), 0o644)
	return answer
}

func isX86Machine() bool { return labkit.IsNative(host.AMD64) }
