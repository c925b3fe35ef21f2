package vmlab

import (
	"fmt"
	"strings"

	"everywhere/internal/host"
	"everywhere/internal/lab/labkit"
)

// machineSpec is how one architecture's full-system machine is built and
// booted: the settings measured on a 2-core TCG machine (LAB-NOTES, and
// docs/explanation/lab.md), in the spirit of os-autoinst's per-arch table.
type machineSpec struct {
	qemu    string   // qemu-system binary
	machine []string // -M and its options
	cpu     string
	console string // the kernel's console device, the one -serial reaches
	kernel  string // Debian's kernel package
	// modules go into the initramfs (MODULES=list): the few the root disk
	// needs. MODULES=most makes mkinitramfs fork thousands of emulated
	// programs, 6–8 min twice per tree.
	modules []string
	bus     string // virtio transport suffix: pci, device (mmio) or ccw
	pkg     string // the Debian package that brings qemu
	// saveOnOneCPU: the machine's other CPUs go offline for savevm and
	// come back after the restore. A restored pseries machine of QEMU
	// 10.0 (TCG, XICS or XIVE alike) never ran its second CPU again, and
	// the first soft-locked waiting for it to answer an IPI.
	saveOnOneCPU bool
}

var machineSpecs = map[host.Arch]machineSpec{
	host.AMD64: {qemu: "qemu-system-x86_64", machine: []string{"q35"}, cpu: "max", console: "ttyS0", kernel: "linux-image-amd64",
		modules: []string{"virtio_pci", "virtio_blk", "virtio_net", "ext4", "crc32c_generic"}, bus: "pci", pkg: "qemu-system-x86"},
	host.I686: {qemu: "qemu-system-i386", machine: []string{"pc"}, cpu: "max", console: "ttyS0", kernel: "linux-image-686",
		modules: []string{"virtio_pci", "virtio_blk", "virtio_net", "ext4", "crc32c_generic"}, bus: "pci", pkg: "qemu-system-x86"},
	host.Arm64: {qemu: "qemu-system-aarch64", machine: []string{"virt"}, cpu: "cortex-a72", console: "ttyAMA0", kernel: "linux-image-arm64",
		modules: []string{"virtio_mmio", "virtio_pci", "virtio_blk", "virtio_net", "ext4", "crc32c_generic"}, bus: "pci", pkg: "qemu-system-arm"},
	host.ArmHF: {qemu: "qemu-system-arm", machine: []string{"virt"}, cpu: "cortex-a15", console: "ttyAMA0", kernel: "linux-image-armmp-lpae",
		modules: []string{"virtio_mmio", "virtio_pci", "virtio_blk", "virtio_net", "ext4", "crc32c_generic"}, bus: "device", pkg: "qemu-system-arm"},
	// pseries under TCG cannot give the spectre mitigations; saying so
	// silences a warning per boot.
	host.PPC64EL: {qemu: "qemu-system-ppc64", machine: []string{"pseries", "cap-cfpc=broken", "cap-sbbc=broken", "cap-ibs=broken", "cap-ccf-assist=off"},
		cpu: "power9", console: "hvc0", kernel: "linux-image-powerpc64le",
		modules: []string{"virtio_pci", "virtio_blk", "virtio_net", "ext4", "crc32c_generic"}, bus: "pci", pkg: "qemu-system-ppc", saveOnOneCPU: true},
	// virtio_ccw is built into Debian's s390x kernel.
	host.S390X: {qemu: "qemu-system-s390x", machine: []string{"s390-ccw-virtio"}, cpu: "max", console: "ttysclp0", kernel: "linux-image-s390x",
		modules: []string{"virtio_blk", "virtio_net", "ext4", "crc32c_generic"}, bus: "ccw", pkg: "qemu-system-misc"},
}

// Memory and cores of every machine: -smp 1 was much slower (MTTCG works on
// all six), and QEMU's TCG translation buffer, not guest RAM, is most of a
// machine's RSS, hence tb-size.
const (
	machineMemoryMiB = 2048
	machineCPUs      = 2
	tcgBufferMiB     = 256
	// tcgTimeoutScale multiplies the plans' time limits on a lab machine under TCG.
	tcgTimeoutScale = 5
)

// The labels of the machine's two disks, by which the guest finds them
// (virtio-mmio enumerates devices in reverse order, so /dev/vda is not
// always the first).
const (
	rootLabel = "ewroot"
	seedLabel = "ewseed"
)

// vmFlavour is the tree of a's machine in c's suite: Debian's minbase with
// a kernel, an init, sshd, Docker and LXD (and AppArmor: Debian's kernel
// enables it, and docker.io refuses to start containers without its
// profile).
func vmFlavour(c labkit.Config, a host.Arch) labkit.Flavour {
	spec := machineSpecs[a]
	docker := labkit.DockerPackages
	if c.Suite == "bookworm" {
		// bookworm has no docker-cli; naming docker.io alone keeps the
		// recipe, so the trees, disks and saved machines of the labs made
		// before suites were chosen stay valid.
		docker = "docker.io"
	}
	return labkit.Flavour{Suffix: "-vm",
		Packages: []string{"systemd-sysv", "udev", "kmod", "openssh-server", spec.kernel, docker, "lxd", "lxd-client",
			"iproute2", "iputils-ping", "apparmor", "dnsmasq-base", "ca-certificates"},
		EssentialHooks: []string{fmt.Sprintf(`mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"; echo MODULES=list > "$1/etc/initramfs-tools/conf.d/everywhere"; printf '%%s\n' %s > "$1/usr/share/initramfs-tools/modules.d/everywhere"`,
			strings.Join(spec.modules, " "))},
		Hooks: []string{
			`chroot "$1" systemctl enable systemd-networkd`,
			// Each lab machine gets its host key and name from its seed disk.
			`rm -f "$1"/etc/ssh/ssh_host_* "$1/etc/hostname"`,
		}}
}

// device is the virtio device of kind ("net", "blk") on spec's bus.
func (spec machineSpec) device(kind string) string { return "virtio-" + kind + "-" + spec.bus }
