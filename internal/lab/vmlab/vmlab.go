// Package vmlab is the lab of machines (--machines vm): one full-system
// QEMU machine per architecture on the lab's bridge, each booting its own
// Debian kernel with its own sshd, Docker engine and LXD, saved once its
// services are up and restored from that snapshot on later ups.
package vmlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sync/errgroup"

	"everywhere/internal/host"
	"everywhere/internal/lab/labkit"
)

// Lab is the lab of machines.
type Lab struct{}

// machine is a lab host that is a full-system machine: its files, QEMU
// command line and seed are this type's methods.
type machine struct{ labkit.Host }

// machines are c's hosts, as machines.
func machines(c labkit.Config) []machine {
	var out []machine
	for _, h := range c.Hosts() {
		out = append(out, machine{h})
	}
	return out
}

// Time limits of a machine's phases under TCG on a loaded 2-core machine
// (measured: ssh 24–92 s for a cold boot, 3–8 s after a restore).
const (
	bootTimeout    = 15 * time.Minute
	restoreTimeout = 3 * time.Minute
	setupTimeout   = 20 * time.Minute
)

// coldBoots is how many machines boot cold at once: each runs two vCPUs
// under TCG, and six at once on two cores starve each other's timers.
const coldBoots = 3

// Requirements checks for root and the programs a lab of machines runs.
func (Lab) Requirements(c labkit.Config) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the lab needs root (tap devices, bridge, mmdebstrap): run as root (sudo)")
	}
	if _, err := labkit.Cgroup2Root(); err != nil {
		return err
	}
	programs := map[string]string{"mmdebstrap": "mmdebstrap", "ip": "iproute2", "arch-test": "arch-test", "update-binfmts": "binfmt-support",
		"qemu-img": "qemu-utils", "mke2fs": "e2fsprogs", "nft": "nftables", "apt-cacher-ng": "apt-cacher-ng", "iptables": "iptables"}
	for _, a := range c.Archs {
		programs[machineSpecs[a].qemu] = machineSpecs[a].pkg
	}
	if missing := labkit.MissingPrograms(c, programs); len(missing) > 0 {
		return fmt.Errorf("the lab of machines needs %s: scripts/install-deps installs them", strings.Join(missing, ", "))
	}
	return nil
}

// Down stops every machine any lab of c's folder may have started (by the
// pid it recorded, and whatever else its cgroup holds), then what the
// machines share.
func (Lab) Down(ctx context.Context, c labkit.Config) error {
	return errors.Join(labkit.StopHosts(ctx, c, func(ctx context.Context, h labkit.Host) error {
		if err := stopMachine(ctx, machine{h}); err != nil {
			return err
		}
		// The next up starts again from the saved snapshot: the run's own
		// disk (~3 GB each after the default plan) is of no more use.
		if err := os.Remove(machine{h}.runDisk()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return labkit.StopCgroup(ctx, h.Cgroup(""))
	}), labkit.StopShared(ctx, c))
}

// Inventory lists the machines that came up (those with a record), with
// the time limits of machines under TCG.
func (Lab) Inventory(c labkit.Config) labkit.Inventory {
	inv := labkit.Inventory{Header: `# Written by "everywhere lab up --machines vm": the built-in local multi-arch lab.
# Each host is a full-system virtual machine (QEMU) of its architecture, booting
# its own Debian kernel, with its own sshd, Docker engine and LXD.
`,
		// The built-in plans' time limits are for native hosts; a machine
		// under TCG took 3–5 times as long for an LXD launch or a Docker
		// pull on the 2-core machine (docs/explanation/lab.md).
		// A busy TCG sshd (s390x loading an image while five other machines
		// share the two cores) answered a keepalive later than 15 s, and the
		// connection was given up in the middle of the load.
		Defaults: fmt.Sprintf("  timeout_scale: {emulated: %d}\n", tcgTimeoutScale) + "  keepalive: 60s\n"}
	for _, h := range machines(c) {
		r, err := readRecord(h)
		if err != nil {
			continue // this machine did not come up
		}
		// A machine's facts cannot always tell TCG from KVM.
		inv.Hosts = append(inv.Hosts, labkit.InventoryHost{Host: h.Host, Kind: "vm, " + r.Accel, Extra: fmt.Sprintf(", emulated: %t", r.Accel != "kvm")})
	}
	return inv
}

// Up brings up a lab of machines, once the lab package has cleared an
// earlier lab and saved c. A machine that fails is reported with
// its console and the others go on; an interrupted up (ctx cancelled)
// stops every machine it started.
func (l Lab) Up(ctx context.Context, c labkit.Config) (err error) {
	start := time.Now()
	hosts := machines(c)
	p := labkit.NewProgress(c.Log, start)
	defer p.Stop()
	fmt.Fprintf(c.Log, "lab of machines: %s\n", coldEstimate(c))
	if err := labkit.EnsureEmulation(ctx, c); err != nil {
		return err
	}
	mirror, err := c.MirrorURL()
	if err != nil {
		return err
	}
	if err := labkit.Isolate(ctx, c); err != nil {
		return err
	}
	if err := labkit.SetupBridge(ctx, c); err != nil {
		return err
	}
	if err := labkit.StartProxy(ctx, c, mirror); err != nil {
		return err
	}
	defer func() {
		if ctx.Err() != nil { // interrupted: leave nothing running
			_ = l.Down(context.Background(), c)
		}
	}()
	signer, err := labkit.UserKey(c.Dir)
	if err != nil {
		return err
	}
	known := make([]string, len(hosts))
	errs := make([]error, len(hosts))
	boots := make(chan struct{}, coldBoots)
	var g errgroup.Group
	for i, h := range hosts {
		g.Go(func() error {
			line, err := upMachine(ctx, h, signer, mirror, boots, p)
			if err != nil {
				p.Phase(h.Name, "FAILED", 0)
				errs[i] = fmt.Errorf("lab machine %s: %w", h.Name, err)
				_ = stopMachine(context.Background(), h)
				_ = os.Remove(h.machineInfo())
				return nil
			}
			known[i] = line
			p.Phase(h.Name, "up", 0)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	var up []string
	for _, line := range known {
		if line != "" {
			up = append(up, line)
		}
	}
	if err := labkit.WriteClientFiles(c, up, l.Inventory(c)); err != nil {
		return err
	}
	p.Stop()
	fmt.Fprintf(c.Log, "lab up in %s: %d of %d machines; inventory %s\n", time.Since(start).Round(time.Second), len(up), len(hosts), filepath.Join(c.Dir, labkit.InventoryFile))
	return errors.Join(errs...)
}

// upMachine brings one machine up: image, seed, then a restore of its
// saved snapshot, or a cold boot, setup and save when there is none for
// this recipe. It returns the machine's known_hosts line.
func upMachine(ctx context.Context, h machine, signer ssh.Signer, mirror string, boots chan struct{}, p *labkit.Progress) (string, error) {
	if err := os.MkdirAll(h.Dir(), 0o755); err != nil {
		return "", err
	}
	_ = os.Remove(h.machineInfo())
	img, err := ensureVMImage(ctx, *h.Lab(), h.Arch, mirror, p)
	if err != nil {
		return "", err
	}
	known, seedID, err := writeSeed(ctx, h, signer)
	if err != nil {
		return "", err
	}
	accel := probeKVM(ctx, *h.Lab(), h.Arch, img)
	args := h.qemuArgs(img, accel)
	saved := strings.Join(args, "\x00") + "\x00" + img.recipe + "\x00" + seedID
	if machineSpecs[h.Arch].saveOnOneCPU {
		saved += "\x00saved on one CPU"
	}
	recipe := labkit.RecipeID(saved)
	if have, err := os.ReadFile(h.savedRecipe()); err != nil || string(have) != recipe || h.Lab().Refresh {
		if err := coldBoot(ctx, h, signer, known, img, seedID, args, recipe, boots, p); err != nil {
			return "", err
		}
	}
	return known, restore(ctx, h, signer, known, args, accel, p)
}

// coldBoot boots h from its image, sets its services up, saves it and
// stops it, leaving saved.qcow2 holding the snapshot.
func coldBoot(ctx context.Context, h machine, signer ssh.Signer, known string, img vmImage, seedID string, args []string, recipe string, boots chan struct{}, p *labkit.Progress) error {
	p.Phase(h.Name, "waiting for a boot slot", 0)
	select {
	case boots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-boots }()
	_ = os.Remove(h.savedRecipe())
	_ = os.Remove(h.savedImage())
	_ = os.Remove(h.savedSeed())
	_ = os.Remove(h.runDisk())
	if err := labkit.Command(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", img.disk, h.runDisk()); err != nil {
		return err
	}
	last := readPhaseTimes(h)
	p.Phase(h.Name, "boot", last.estimate("boot", bootEstimate))
	start := time.Now()
	d, err := startMachine(ctx, h, args, false)
	if err != nil {
		return err
	}
	if err := writeRecord(h, machineRecord{Started: start}); err != nil {
		return err
	}
	if err := waitSSH(ctx, h, d, bootTimeout); err != nil {
		return err
	}
	fmt.Fprintf(h.Lab().Log, "[%s] booted: sshd answers after %s\n", h.Name, time.Since(start).Round(time.Second))
	last["boot"] = time.Since(start)
	p.Phase(h.Name, "services", last.estimate("services", setupEstimate))
	setup := time.Now()
	if out, err := sshRun(ctx, h, signer, known, "sh "+seedMount+"/setup.sh", setupTimeout); err != nil {
		return fmt.Errorf("setting Docker and LXD up: %w", err)
	} else {
		_ = os.WriteFile(filepath.Join(h.Dir(), "setup.log"), []byte(out), 0o644)
	}
	fmt.Fprintf(h.Lab().Log, "[%s] Docker and LXD set up in %s\n", h.Name, time.Since(setup).Round(time.Second))
	last["services"] = time.Since(setup)
	if machineSpecs[h.Arch].saveOnOneCPU {
		if _, err := sshRun(ctx, h, signer, known, offlineOtherCPUs, time.Minute); err != nil {
			return fmt.Errorf("taking the other CPUs offline to save: %w", err)
		}
	}
	p.Phase(h.Name, "save", 0)
	saveStart := time.Now()
	if err := hmp(ctx, h, "savevm "+h.snapshotName(), 5*time.Minute); err != nil {
		return err
	}
	fmt.Fprintf(h.Lab().Log, "[%s] saved in %s (cold boot to saved: %s)\n", h.Name, time.Since(saveStart).Round(100*time.Millisecond), time.Since(start).Round(time.Second))
	if err := stopMachine(ctx, h); err != nil {
		return err
	}
	if err := os.Rename(h.runDisk(), h.savedDisk()); err != nil {
		return err
	}
	writePhaseTimes(h, last)
	if err := os.WriteFile(h.savedImage(), []byte(img.recipe), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(h.savedSeed(), []byte(seedID), 0o644); err != nil {
		return err
	}
	return os.WriteFile(h.savedRecipe(), []byte(recipe), 0o644)
}

// restore starts h from its saved snapshot, on a sparse copy of the saved
// overlay, and sets the guest's clock (it is at the snapshot's time).
func restore(ctx context.Context, h machine, signer ssh.Signer, known string, args []string, accel string, p *labkit.Progress) error {
	last := readPhaseTimes(h)
	p.Phase(h.Name, "restore", last.estimate("restore", restoreEstimate))
	start := time.Now()
	_ = os.Remove(h.runDisk())
	if err := labkit.Command(ctx, "cp", "--sparse=always", h.savedDisk(), h.runDisk()); err != nil {
		return err
	}
	d, err := startMachine(ctx, h, args, true)
	if err != nil {
		return err
	}
	if err := writeRecord(h, machineRecord{Accel: accel, Started: time.Now(), Restored: true}); err != nil {
		return err
	}
	if err := waitSSH(ctx, h, d, restoreTimeout); err != nil {
		return err
	}
	// The snapshot's clock is behind. Services that were up are up, but may
	// take a moment to answer again after the clock's jump.
	check := fmt.Sprintf(`for cpu in /sys/devices/system/cpu/cpu[1-9]*/online; do [ "$(cat $cpu)" = 1 ] || echo 1 > $cpu; done
date -s @%d >/dev/null
i=0; until arch=$(docker version --format '{{.Server.Arch}}' 2>&1) && lxc query /1.0 >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 120 ] || { echo "Docker or LXD does not answer: $arch" >&2; exit 1; }; sleep 1; done
echo "docker=$arch kernel=$(uname -r)"
`, time.Now().Unix())
	out, err := sshOutput(ctx, h, signer, known, check, 3*time.Minute)
	if err != nil {
		return fmt.Errorf("after the restore: %w", err)
	}
	fmt.Fprintf(h.Lab().Log, "[%s] restored in %s (%s): %s\n", h.Name, time.Since(start).Round(100*time.Millisecond), strings.ToUpper(accel), strings.TrimSpace(out))
	last["restore"] = time.Since(start)
	writePhaseTimes(h, last)
	return nil
}

// offlineOtherCPUs leaves a machine running on its first CPU only (see
// machineSpec.saveOnOneCPU); the restore's check brings the others back.
const offlineOtherCPUs = `for cpu in /sys/devices/system/cpu/cpu[1-9]*/online; do echo 0 > $cpu; done`

// phaseTimes is how long each of a machine's phases took the last time
// (boot, services, restore), kept in its folder: the next up's estimates.
type phaseTimes map[string]time.Duration

func (h machine) phaseTimesFile() string { return filepath.Join(h.Dir(), "phases.json") }

func readPhaseTimes(h machine) phaseTimes {
	t := phaseTimes{}
	if data, err := os.ReadFile(h.phaseTimesFile()); err == nil {
		_ = json.Unmarshal(data, &t) // an unreadable file means no estimates
	}
	return t
}

// writePhaseTimes records t; estimates are a convenience, so a failure to
// record them is not the up's.
func writePhaseTimes(h machine, t phaseTimes) {
	if data, err := json.Marshal(t); err == nil {
		_ = os.WriteFile(h.phaseTimesFile(), data, 0o644)
	}
}

func (t phaseTimes) estimate(phase string, fallback time.Duration) time.Duration {
	if d, ok := t[phase]; ok && d > 0 {
		return d
	}
	return fallback
}

func writeRecord(h machine, r machineRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(h.machineInfo(), data, 0o644)
}

func readRecord(h machine) (machineRecord, error) {
	var r machineRecord
	data, err := os.ReadFile(h.machineInfo())
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(data, &r)
}

func machineStatus(h machine) labkit.MachineStatus {
	s := labkit.MachineStatus{PID: qemuPID(h)}
	if s.PID == 0 {
		return s
	}
	s.RSS = machineRSS(s.PID)
	if r, err := readRecord(h); err == nil {
		s.Accel, s.Uptime = r.Accel, time.Since(r.Started).Round(time.Second)
	}
	return s
}

// Estimates before any measurement of this machine's own (LAB-NOTES:
// trees 42–150 s native, 250–500 s under emulation; boot to services
// 40–130 s).
const (
	nativeTreeEstimate  = 3 * time.Minute
	foreignTreeEstimate = 8 * time.Minute
	bootEstimate        = 2 * time.Minute
	setupEstimate       = 2 * time.Minute
	restoreEstimate     = 20 * time.Second
)

// treeEstimate is the last build's time of a's tree, or a default.
func treeEstimate(c labkit.Config, a host.Arch) time.Duration {
	if d := labkit.LastBuildTime(c.Rootfs(a, vmFlavour(c, a))); d > 0 {
		return d
	}
	if labkit.Emulated(a) {
		return foreignTreeEstimate
	}
	return nativeTreeEstimate
}

// coldEstimate says, before anything starts, what this up will take.
func coldEstimate(c labkit.Config) string {
	var missing []string
	var longest time.Duration
	for _, h := range machines(c) {
		if _, err := os.Stat(h.savedDisk()); err == nil && !snapshotStale(h) {
			continue
		}
		missing = append(missing, h.Name)
		last := readPhaseTimes(h)
		d := last.estimate("boot", bootEstimate) + last.estimate("services", setupEstimate)
		if _, err := os.Stat(filepath.Join(h.Lab().Rootfs(h.Arch, vmFlavour(*h.Lab(), h.Arch)), labkit.RecipeFile)); err != nil {
			d += treeEstimate(*h.Lab(), h.Arch)
		}
		longest = max(longest, d)
	}
	if len(missing) == 0 {
		return "every machine has a saved snapshot: restoring (seconds)"
	}
	return fmt.Sprintf("a cold start for %s: about %s on 2 cores (trees built under emulation in parallel, then %d boots at a time); later ups restore in seconds",
		strings.Join(missing, ", "), (longest + time.Duration((len(missing)+coldBoots-1)/coldBoots-1)*(bootEstimate+setupEstimate)).Round(time.Minute), coldBoots)
}

// snapshotStale says whether h's saved snapshot was booted from another
// image or seed than this up makes (a changed tree, lab file, image
// content, boot or setup script), so that it boots cold. A snapshot saved
// before saved.image or saved.seed existed counts as unchanged.
func snapshotStale(h machine) bool {
	if saved, err := os.ReadFile(h.savedImage()); err == nil && string(saved) != vmImageID(*h.Lab(), imageRecipe(*h.Lab(), h.Arch)) {
		return true
	}
	saved, err := os.ReadFile(h.savedSeed())
	if err != nil {
		return false
	}
	user, err := labkit.UserKey(h.Lab().Dir) // the key up itself takes next
	if err != nil {
		return false
	}
	_, _, id, err := seedOf(h, user)
	return err == nil && string(saved) != id
}

// Status reports each machine: its QEMU, and whether sshd, Docker and
// LXD answer (one SSH command each, in parallel).
func (Lab) Status(ctx context.Context, c labkit.Config) []labkit.HostStatus {
	hosts := machines(c)
	out := make([]labkit.HostStatus, len(hosts))
	signer, _ := labkit.UserKey(c.Dir)
	known, _ := os.ReadFile(filepath.Join(c.Dir, labkit.KnownHostsFile))
	bridgeUp := c.GatewayIsLocal()
	var g errgroup.Group
	for i, h := range hosts {
		g.Go(func() error {
			s := labkit.HostStatus{Host: h.Host, Machine: machineStatus(h)}
			// Only a machine that runs is dialled: the address of one that
			// does not would be routed away, out of the machine.
			if s.Machine.PID > 0 && bridgeUp && signer != nil {
				s.Answers = labkit.SSHBanner(ctx, h.Address, 15*time.Second) == nil // a TCG sshd on a loaded machine greets slowly
				if line := knownLine(string(known), h.Address.String()); s.Answers && line != "" {
					answer, _ := sshOutput(ctx, h, signer, line, "docker version >/dev/null 2>&1 && echo docker; lxc query /1.0 >/dev/null 2>&1 && echo lxd; echo .", 20*time.Second)
					s.Docker, s.LXD = strings.Contains(answer, "docker"), strings.Contains(answer, "lxd")
				}
			}
			out[i] = s
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// knownLine is the known_hosts line of addr.
func knownLine(known, addr string) string {
	for _, line := range strings.Split(known, "\n") {
		if strings.HasPrefix(line, addr+" ") {
			return line
		}
	}
	return ""
}
