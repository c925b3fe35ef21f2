package vmlab

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/lab/labkit"
	"everywhere/internal/lab/labtest"
)

// requireMachines skips where a lab of machines of archs cannot run (see
// labtest.Require).
func requireMachines(t *testing.T, archs ...host.Arch) {
	t.Helper()
	labtest.Require(t, Lab{}.Requirements, labkit.Config{Archs: archs})
}

// TestMachineThatDoesNotBoot is the part of the lab of machines that make
// test always runs (seconds, where a machine's cold start takes 5-10 min
// under TCG): a QEMU machine on its tap device, whose guest never comes up,
// is reported with its console, and lab down ends it by its recorded pid
// and removes its tap.
func TestMachineThatDoesNotBoot(t *testing.T) {
	requireMachines(t, host.AMD64)
	c := newMachineLab(t)
	c.Machines, c.Archs = labkit.MachinesVM, []host.Arch{host.AMD64}
	t.Cleanup(func() {
		if err := (Lab{}).Down(context.Background(), c); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	h := machines(c)[0]
	if err := os.MkdirAll(h.Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := labkit.SetupBridge(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	// A Debian amd64 kernel (the one scripts/install-deps unpacks, else the
	// lab's cached one or this machine's) with an empty initramfs: QEMU
	// starts, the kernel finds no root disk and panics, and the machine
	// never answers.
	var kernels []string
	for _, glob := range []string{"/var/cache/everywhere/test-kernel/vmlinuz-*", c.Rootfs(host.AMD64, vmFlavour(c, host.AMD64)) + ".kernel", "/boot/vmlinuz-*"} {
		found, _ := filepath.Glob(glob)
		kernels = append(kernels, found...)
	}
	if len(kernels) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("no amd64 kernel to boot: scripts/install-deps unpacks one into /var/cache/everywhere/test-kernel")
		}
		t.Skip("no amd64 kernel to boot: scripts/install-deps unpacks one into /var/cache/everywhere/test-kernel")
	}
	kernel := kernels[0]
	empty := filepath.Join(c.Dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", h.runDisk(), "1G").Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.seedDisk(), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := startMachine(context.Background(), h, h.qemuArgs(vmImage{kernel: kernel, initrd: empty, lxdTar: empty}, "tcg"), false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err = waitSSH(ctx, h, d, 3*time.Minute)
	if err == nil || !strings.Contains(err.Error(), "console's last lines") || !strings.Contains(err.Error(), "Rebooting in 1 seconds") { // panic=1
		t.Errorf("waitSSH: %v", err)
	}
	if err := (Lab{}).Down(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if pid := qemuPID(h); pid != 0 {
		t.Errorf("QEMU pid %d runs after lab down", pid)
	}
	if _, err := os.Stat("/sys/class/net/" + h.tap()); err == nil {
		t.Errorf("tap %s left after lab down", h.tap())
	}
	if _, err := os.Stat(h.runDisk()); err == nil {
		t.Errorf("the run's disk %s left after lab down", h.runDisk())
	}
}

// TestMachineArgs checks each architecture's QEMU command line against the
// measured table: machine, console, the virtio transport of its bus, the
// TCG buffer, and that only -loadvm differs between a boot and a restore.
func TestMachineArgs(t *testing.T) {
	c := labkit.Config{Archs: host.AllArchs()}.WithDefaults()
	want := map[string][3]string{ // -M, console, block device
		"amd64": {"q35", "console=ttyS0", "virtio-blk-pci"}, "i386": {"pc", "console=ttyS0", "virtio-blk-pci"},
		"arm64": {"virt", "console=ttyAMA0", "virtio-blk-pci"}, "armhf": {"virt", "console=ttyAMA0", "virtio-blk-device"},
		"ppc64el": {"pseries,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off", "console=hvc0", "virtio-blk-pci"},
		"s390x":   {"s390-ccw-virtio", "console=ttysclp0", "virtio-blk-ccw"},
	}
	for _, h := range machines(c) {
		args := strings.Join(h.qemuArgs(vmImage{kernel: "K", initrd: "I", lxdTar: "L"}, "tcg"), " ")
		w := want[h.Name]
		for _, part := range []string{" -M " + w[0] + " ", w[1] + " ", w[2] + ",drive=root", "-accel tcg,tb-size=256", "-smp 2 -m 2048",
			"ifname=" + h.tap() + ",", "file=L,if=none,id=lxdimage,format=raw,readonly=on", "serial=" + lxdImageSerial} {
			if !strings.Contains(args, part) {
				t.Errorf("%s: %q lacks %q", h.Name, args, part)
			}
		}
		if strings.Contains(args, "-loadvm") {
			t.Errorf("%s: a boot's arguments restore: %q", h.Name, args)
		}
	}
}

// TestBootScriptRoutesEveryPeer: a machine routes every other
// architecture's overlay subnet through its tunnel, whichever are up, so
// its seed and snapshot do not change with the lab's subset.
func TestBootScriptRoutesEveryPeer(t *testing.T) {
	c := labkit.Config{Archs: []host.Arch{host.AMD64}}.WithDefaults()
	h := machines(c)[0]
	script := h.bootScript()
	for _, peer := range []string{"250.11.0.0/16", "250.12.0.0/16", "250.13.0.0/16", "250.15.0.0/16", "250.16.0.0/16"} {
		if !strings.Contains(script, "ip route add "+peer+" dev fan0 encap ip dst 10.213.0.") {
			t.Errorf("no route to %s in:\n%s", peer, script)
		}
	}
	if strings.Contains(script, "250.14.0.0/16") {
		t.Errorf("a route to the machine's own subnet:\n%s", script)
	}
	if got := h.dockerSubnet().String() + " " + h.lxdSubnet().String(); got != "250.14.0.0/24 250.14.1.0/24" {
		t.Errorf("Docker and LXD subnets %s", got)
	}
}

// TestColdEstimateSeesAChangedImage: before anything starts, up says a
// machine will boot cold when it has no snapshot, or one booted from
// another image than this up makes, and restores otherwise.
func TestColdEstimateSeesAChangedImageOrSeed(t *testing.T) {
	c := labkit.Config{Dir: t.TempDir(), CacheDir: t.TempDir(), Archs: []host.Arch{host.AMD64}}.WithDefaults()
	h := machines(c)[0]
	if got := coldEstimate(c); !strings.Contains(got, "a cold start for amd64") {
		t.Errorf("no snapshot: %q", got)
	}
	if err := os.MkdirAll(h.Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{h.savedDisk(), h.savedImage()} {
		if err := os.WriteFile(file, []byte("older image"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := coldEstimate(c); !strings.Contains(got, "a cold start for amd64") {
		t.Errorf("a snapshot of another image: %q", got)
	}
	if err := os.WriteFile(h.savedImage(), []byte(vmImageID(c, imageRecipe(c, host.AMD64))), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := coldEstimate(c); !strings.Contains(got, "restoring") {
		t.Errorf("a snapshot of this image: %q", got)
	}
	// The seed: the snapshot's, then another (a changed setup.sh, say).
	user, err := labkit.UserKey(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	_, _, seedID, err := seedOf(h, user)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.savedSeed(), []byte(seedID), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := coldEstimate(c); !strings.Contains(got, "restoring") {
		t.Errorf("a snapshot of this image and seed: %q", got)
	}
	if err := os.WriteFile(h.savedSeed(), []byte("older seed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := coldEstimate(c); !strings.Contains(got, "a cold start for amd64") {
		t.Errorf("a snapshot of another seed: %q", got)
	}
}

// newMachineLab is a test lab of its own names and ranges: go test runs
// this package beside nslab's, whose lab (labtest.NewLab's ewt,
// 10.213.1.0/24) a second lab of the same prefix would tear down.
func newMachineLab(t *testing.T) labkit.Config {
	c := labtest.NewLab(t)
	c.Prefix, c.Subnet, c.LXDSubnet = "ewv", netip.MustParsePrefix("10.213.5.0/24"), netip.MustParsePrefix("10.213.105.0/24")
	return c
}
