package run

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/result"
)

// factsTimeout bounds the facts command; docker's client under qemu-user
// takes a few seconds to start.
const factsTimeout = time.Minute

// factsLimit bounds what is kept of its output: a few hundred lines.
const factsLimit = 64 << 10

// factPackages are the packages whose versions a run records, where
// installed: the container stack a distribution release moves.
var factPackages = []string{"docker.io", "docker-ce", "containerd", "containerd.io", "runc", "lxd", "lxc", "incus", "podman", "qemu-user-static"}

// factsScript prints a host's facts, a line each ("KEY VALUE"), in one
// command: one session on the connection the run holds. Every probe is
// optional; none may stop the others. $$ is the shell's own process: when
// qemu-user runs it, the exe link shows qemu (qemu fakes /proc/self/exe
// for its own process only). The engines' clients are bounded by timeout.
var factsScript = `t=; command -v timeout >/dev/null 2>&1 && t="timeout 10"
echo "kernel $(uname -r)"
echo "machine $(uname -m)"
echo "kernel_arch $(cat /proc/sys/kernel/arch 2>/dev/null)"
echo "exe $(readlink /proc/$$/exe 2>/dev/null)"
command -v systemd-detect-virt >/dev/null 2>&1 && echo "virt $(systemd-detect-virt 2>/dev/null)"
sed -n 's/^Manufacturer: */manufacturer /p' /proc/sysinfo 2>/dev/null
(cat /etc/os-release || cat /usr/lib/os-release) 2>/dev/null | sed 's/^/os /'
if command -v dpkg-query >/dev/null 2>&1; then dpkg-query -W -f='pkg ${db:Status-Abbrev} ${Package} ${Version}\n' ` + strings.Join(factPackages, " ") + ` 2>/dev/null
elif command -v rpm >/dev/null 2>&1; then rpm -q --qf 'pkg ii %{NAME} %{VERSION}-%{RELEASE}\n' ` + strings.Join(factPackages, " ") + ` docker containerd runc 2>/dev/null | grep '^pkg '; fi
command -v snap >/dev/null 2>&1 && snap list lxd incus 2>/dev/null | awk 'NR>1 {print "pkg ii " $1 " " $2 " (snap)"}'
if command -v docker >/dev/null 2>&1; then echo "engine docker $($t docker version --format '{{.Server.Version}}' 2>/dev/null)"
$t docker image ls --no-trunc --format 'image {{.Repository}}:{{.Tag}} {{.ID}}' 2>/dev/null | head -n 50; fi
command -v podman >/dev/null 2>&1 && echo "engine podman $($t podman version --format '{{.Server.Version}}' 2>/dev/null)"
command -v lxc >/dev/null 2>&1 && $t lxc version 2>/dev/null | sed -n "s/^Server version: */engine lxd /p"
command -v incus >/dev/null 2>&1 && $t incus version 2>/dev/null | sed -n "s/^Server version: */engine incus /p"
true`

// Blocks are the runner's own blocks of a host's inventory entry, beside
// the drivers' (driver.Registry.Blocks): `emulated:` and `timeout_scale:`.
func Blocks() []inventory.BlockDecoder {
	return []inventory.BlockDecoder{EmulatedBlock, plan.TimeoutScaleBlock}
}

// EmulatedBlock is a host's `emulated: true` (or false) in an inventory,
// for a host whose emulation its facts cannot tell (a whole machine that
// qemu emulates and that looks like KVM's): it overrides what they say.
var EmulatedBlock = inventory.NewBlock("emulated", func(src inventory.BlockSource) (*bool, error) {
	if src.Node == nil {
		return nil, nil
	}
	var v bool
	if err := src.Decode(&v); err != nil {
		return nil, err
	}
	return &v, nil
})

// declared applies the inventory's say on emulation to facts f of host h.
func declared(f *result.Facts, h inventory.Host) {
	if v := EmulatedBlock.Of(h); v != nil && *v != f.Emulated {
		f.Emulated, f.Emulator = *v, ""
		if *v {
			f.Emulator = "declared in the inventory (emulated: true)"
		}
	}
}

// gatherFacts runs the facts command on a host. The host always answers
// with facts: where the command failed, their Error says why.
func gatherFacts(ctx context.Context, c Conn) *result.Facts {
	ctx, cancel := context.WithTimeout(ctx, factsTimeout)
	defer cancel()
	out, err := c.Exec(ctx, "sh -c "+host.ShellQuote([]string{factsScript}), factsLimit)
	if err != nil {
		return &result.Facts{Error: fmt.Sprintf("gathering facts: %v", err)}
	}
	f := parseFacts(out.Stdout.String())
	if out.ExitCode != 0 {
		f.Error = fmt.Sprintf("gathering facts: exit %d: %s", out.ExitCode, strings.TrimSpace(out.Stderr.String()))
	}
	return f
}

// parseFacts reads the facts command's output. The lines are the host's
// (untrusted): a line that is not a fact is passed over.
func parseFacts(out string) *result.Facts {
	f := &result.Facts{}
	var exe, manufacturer string
	put := func(m *map[string]string, k, v string) {
		if k == "" || v == "" {
			return
		}
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[k] = v
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		key, value, _ := strings.Cut(sc.Text(), " ")
		value = strings.TrimSpace(value)
		switch key {
		case "kernel":
			f.Kernel = value
		case "machine":
			f.Machine = value
		case "kernel_arch":
			f.KernelArch = value
		case "exe":
			exe = value
		case "virt":
			f.Virt = value
		case "manufacturer": // s390x: QEMU's own machine, where KVM's says IBM
			manufacturer = value
		case "os":
			k, v, _ := strings.Cut(value, "=")
			v = strings.Trim(v, `"'`)
			switch k {
			case "ID":
				f.Distro = v
			case "VERSION_ID":
				f.DistroVersion = v
			case "VERSION_CODENAME":
				f.Codename = v
			}
		case "pkg": // "ii  docker.io 20.10.24+dfsg1-1+b3": installed ones only
			fields := strings.Fields(value)
			if len(fields) >= 3 && strings.HasSuffix(fields[0], "i") {
				put(&f.Packages, fields[1], strings.Join(fields[2:], " "))
			}
		case "engine": // lxc and incus say "unreachable" for a daemon that is not there
			name, version, _ := strings.Cut(value, " ")
			if version = strings.TrimSpace(version); version != "unreachable" {
				put(&f.Engines, name, version)
			}
		case "image":
			name, id, _ := strings.Cut(value, " ")
			put(&f.Images, name, strings.TrimSpace(id))
		}
	}
	f.Emulated, f.Emulator = emulation(exe, f.KernelArch, f.Machine, f.Virt, manufacturer)
	return f
}

// emulation says whether a host's programs run under an emulator, and
// which, from what the facts command saw, as internal/netprobe sees it of
// its own process: the shell's executable is qemu (qemu-user through
// binfmt_misc); the kernel cannot run the programs' architecture itself;
// or the whole machine is qemu's without KVM (systemd-detect-virt says
// qemu where KVM would say kvm; an s390x machine says QEMU made it, where
// under KVM it says IBM). Where none of that tells, the inventory can
// (EmulatedBlock).
func emulation(exe, kernelArch, machine, virt, manufacturer string) (bool, string) {
	switch {
	case strings.Contains(exe, "qemu"): // /usr/bin/qemu-s390x-static, /usr/libexec/qemu-binfmt/s390x-binfmt-P
		return true, "qemu-user (" + exe + ")"
	case kernelArch != "" && machine != "" && !runsNatively(kernelArch, machine):
		return true, fmt.Sprintf("a %s kernel running %s programs", kernelArch, machine)
	case virt == "qemu":
		return true, "qemu without KVM (systemd-detect-virt: qemu)"
	case manufacturer == "QEMU":
		return true, "qemu without KVM (/proc/sysinfo: Manufacturer QEMU)"
	}
	return false, ""
}

// runsNatively says whether a kernel of architecture kernel (uname -m
// names) runs machine's programs itself: its own, and a 64-bit kernel
// its 32-bit sibling's.
func runsNatively(kernel, machine string) bool {
	k, errK := host.ParseArch(kernel)
	m, errM := host.ParseArch(machine)
	if errK != nil || errM != nil {
		return kernel == machine
	}
	return k == m || (k == host.AMD64 && m == host.I686) || (k == host.Arm64 && m == host.ArmHF)
}
