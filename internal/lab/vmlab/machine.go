package vmlab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
	"golang.org/x/crypto/ssh"

	"everywhere/internal/lab/labkit"
	"everywhere/internal/text"
)

// A lab machine is one QEMU process, known by the pid it wrote, driven
// over QMP (github.com/digitalocean/go-qemu/qmp) on a unix socket in its
// folder. Its disk is a qcow2 overlay of the cached image; once its
// services are up the machine is saved (savevm) and later ups restore it
// (-loadvm) from a sparse copy of that overlay, which stays as saved.

func (h machine) tap() string         { return fmt.Sprintf("%st%d", h.Lab().Prefix, h.Address.As4()[3]) }
func (h machine) qmpSocket() string   { return filepath.Join(h.Dir(), "qmp.sock") }
func (h machine) consoleLog() string  { return filepath.Join(h.Dir(), "console.log") }
func (h machine) qemuPIDFile() string { return filepath.Join(h.Dir(), "qemu.pid") }
func (h machine) savedDisk() string   { return filepath.Join(h.Dir(), "saved.qcow2") }
func (h machine) runDisk() string     { return filepath.Join(h.Dir(), "run.qcow2") }
func (h machine) savedRecipe() string { return filepath.Join(h.Dir(), "saved.recipe") }

// savedImage holds the image id the saved snapshot was booted from:
// coldEstimate compares it, cheaply, with the image this up would make.
func (h machine) savedImage() string { return filepath.Join(h.Dir(), "saved.image") }

// savedSeed holds the id of the seed the saved snapshot was booted with,
// for the same comparison.
func (h machine) savedSeed() string { return filepath.Join(h.Dir(), "saved.seed") }

func (h machine) machineInfo() string { return filepath.Join(h.Dir(), "machine.json") }
func (h machine) mac() string {
	a := h.Address.As4()
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", a[1], a[2], a[3])
}
func (h machine) seedDisk() string     { return filepath.Join(h.Dir(), "seed.ext4") }
func (h machine) qemuCgroup() string   { return h.Cgroup("qemu") }
func (h machine) snapshotName() string { return "everywhere" }

// lxdImageSerial names the LXD image's disk in the guest
// (/dev/disk/by-id/virtio-SERIAL).
const lxdImageSerial = "ewlxdimage"

// machineRecord is what Status shows of a running machine.
type machineRecord struct {
	Accel    string    `json:"accel"`
	Started  time.Time `json:"started"`
	Restored bool      `json:"restored"`
}

// qemuArgs is h's QEMU command line. A snapshot restores only into the
// same machine (memory, cores, devices), so everything here but the
// -loadvm is part of the saved snapshot's recipe.
func (h machine) qemuArgs(img vmImage, accel string) []string {
	spec := machineSpecs[h.Arch]
	accelArg := "tcg,tb-size=" + strconv.Itoa(tcgBufferMiB)
	if accel == "kvm" {
		accelArg = "kvm"
	}
	// apparmor=0: loading the profiles of docker.io and lxd takes minutes
	// under TCG (and blocks sshd); with AppArmor off in the kernel neither
	// asks for it.
	// systemd.show_status=error: the console keeps what went wrong, which is
	// what a failed boot's report shows.
	cmdline := fmt.Sprintf("root=LABEL=%s rw console=%s net.ifnames=0 panic=1 apparmor=0 systemd.show_status=error", rootLabel, spec.console)
	return []string{spec.qemu, "-name", h.Name, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-M", strings.Join(spec.machine, ","), "-cpu", spec.cpu, "-smp", strconv.Itoa(machineCPUs), "-m", strconv.Itoa(machineMemoryMiB),
		"-accel", accelArg,
		"-kernel", img.kernel, "-initrd", img.initrd, "-append", cmdline,
		"-drive", "file=" + h.runDisk() + ",if=none,id=root,format=qcow2,cache=unsafe,discard=unmap",
		"-device", spec.device("blk") + ",drive=root",
		"-drive", "file=" + h.seedDisk() + ",if=none,id=seed,format=raw,readonly=on",
		"-device", spec.device("blk") + ",drive=seed",
		// The LXD image is a disk of its own, read as a tar stream by
		// lxc image import: no copy of it is made for the machine.
		"-drive", "file=" + img.lxdTar + ",if=none,id=lxdimage,format=raw,readonly=on",
		"-device", spec.device("blk") + ",drive=lxdimage,serial=" + lxdImageSerial,
		"-netdev", "tap,id=net0,ifname=" + h.tap() + ",script=no,downscript=no",
		"-device", spec.device("net") + ",netdev=net0,mac=" + h.mac(),
		"-serial", "file:" + h.consoleLog(),
		"-qmp", "unix:" + h.qmpSocket() + ",server=on,wait=off",
		"-pidfile", h.qemuPIDFile(),
	}
}

// startMachine starts h's QEMU on its tap, restoring the saved snapshot
// when restore is set.
func startMachine(ctx context.Context, h machine, args []string, restore bool) (*labkit.Daemon, error) {
	if err := os.Remove(h.qmpSocket()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := setupTap(ctx, h); err != nil {
		return nil, err
	}
	if restore {
		args = append(args, "-loadvm", h.snapshotName())
	}
	d, err := labkit.Spawn(h.qemuCgroup(), filepath.Join(h.Dir(), "qemu.log"), "", nil, args...)
	if err != nil {
		return nil, err
	}
	d.Name = "QEMU (" + h.Name + ")"
	return d, nil
}

// setupTap gives h a tap device on the lab bridge (anew).
func setupTap(ctx context.Context, h machine) error {
	if err := removeTap(ctx, h); err != nil {
		return err
	}
	for _, s := range [][]string{
		{"tuntap", "add", "dev", h.tap(), "mode", "tap"},
		{"link", "set", h.tap(), "master", h.Lab().Bridge()},
		{"link", "set", h.tap(), "up"},
	} {
		if err := labkit.Command(ctx, "ip", s...); err != nil {
			return fmt.Errorf("tap device: %w", err)
		}
	}
	return nil
}

func removeTap(ctx context.Context, h machine) error {
	if _, err := os.Stat(filepath.Join("/sys/class/net", h.tap())); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return labkit.Command(ctx, "ip", "link", "del", h.tap())
}

// qmpRun sends one QMP command to h's QEMU and returns its answer, within
// timeout (the library's Run has no deadline of its own).
func qmpRun(ctx context.Context, h machine, command string, args any, timeout time.Duration) ([]byte, error) {
	mon, err := qmp.NewSocketMonitor("unix", h.qmpSocket(), 5*time.Second)
	if err != nil {
		return nil, err
	}
	if err := mon.Connect(); err != nil {
		return nil, err
	}
	defer mon.Disconnect()
	cmd, err := json.Marshal(qmp.Command{Execute: command, Args: args})
	if err != nil {
		return nil, err
	}
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() { out, err := mon.Run(cmd); done <- result{out, err} }()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("QMP %s: %w", command, ctx.Err())
	}
}

// hmp runs a human monitor command (savevm has no QMP twin that is not a
// job) and fails on any output, which is how HMP reports errors.
func hmp(ctx context.Context, h machine, line string, timeout time.Duration) error {
	out, err := qmpRun(ctx, h, "human-monitor-command", map[string]string{"command-line": line}, timeout)
	if err != nil {
		return fmt.Errorf("%s: %w", line, err)
	}
	var resp struct {
		Return string `json:"return"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return fmt.Errorf("%s: %w", line, err)
	}
	if strings.TrimSpace(resp.Return) != "" {
		return fmt.Errorf("%s: %s", line, strings.TrimSpace(resp.Return))
	}
	return nil
}

// qemuPID is the pid of h's QEMU when it runs (its pid file, and the
// process in h's QEMU cgroup: pids are reused), else 0.
func qemuPID(h machine) int {
	data, err := os.ReadFile(h.qemuPIDFile())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || !labkit.InCgroup(pid, h.qemuCgroup()) {
		return 0
	}
	return pid
}

// stopMachine ends h's QEMU by the pid it recorded: QMP quit, then SIGKILL
// when it has not gone in 10 s. The tap goes too.
func stopMachine(ctx context.Context, h machine) error {
	if pid := qemuPID(h); pid > 0 {
		_, _ = qmpRun(ctx, h, "quit", nil, 5*time.Second)
		if !waitGone(ctx, pid, 10*time.Second) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			if !waitGone(ctx, pid, 10*time.Second) {
				return fmt.Errorf("QEMU (pid %d) survived SIGKILL", pid)
			}
		}
	}
	_ = os.Remove(h.qemuPIDFile())
	return removeTap(ctx, h)
}

// waitGone waits for process pid to end (or become a zombie).
func waitGone(ctx context.Context, pid int, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

// ansiSequence matches the terminal control sequences systemd colours its
// console with.
var ansiSequence = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// consoleTail is the last lines of h's console, for a machine that failed:
// untrusted text, its colours dropped and the rest made safe to show.
func consoleTail(h machine, n int) string {
	data, _ := os.ReadFile(h.consoleLog())
	clean := text.Clean(ansiSequence.ReplaceAllString(strings.ReplaceAll(string(data), "\r", ""), ""))
	lines := strings.Split(strings.TrimRight(clean, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitSSH waits until h's sshd greets, failing early when QEMU exits and
// late after timeout, with the console's last lines either way.
func waitSSH(ctx context.Context, h machine, d *labkit.Daemon, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if labkit.SSHBanner(ctx, h.Address, 2*time.Second) == nil {
			return nil
		}
		select {
		case exitErr := <-d.Exited:
			return fmt.Errorf("QEMU exited (%v; %s); console's last lines:\n%s", exitErr, strings.TrimSpace(fileTail(filepath.Join(h.Dir(), "qemu.log"))), consoleTail(h, 15))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshd did not answer within %s; console's last lines (%s):\n%s", timeout, h.consoleLog(), consoleTail(h, 15))
		}
	}
}

func fileTail(file string) string {
	data, _ := os.ReadFile(file)
	if len(data) > 500 {
		data = data[len(data)-500:]
	}
	return string(data)
}

// sshOutput is sshRun for a script that always prints: its output, on
// this machine, now and then came back empty with exit 0 (not understood
// yet: seen with x/crypto/ssh against the guests' OpenSSH 9.2), so an
// empty answer is asked again.
func sshOutput(ctx context.Context, h machine, user ssh.Signer, knownLine, script string, timeout time.Duration) (string, error) {
	for range 3 {
		out, err := sshRun(ctx, h, user, knownLine, script, timeout)
		if err != nil || strings.TrimSpace(out) != "" {
			return out, err
		}
	}
	return "", fmt.Errorf("%s printed nothing, three times", strings.SplitN(script, "\n", 2)[0])
}

// sshRun runs script on h as root through the lab's keys and returns its
// output; a non-zero exit is an error carrying the output.
func sshRun(ctx context.Context, h machine, user ssh.Signer, knownLine, script string, timeout time.Duration) (string, error) {
	_, _, pub, _, _, err := ssh.ParseKnownHosts([]byte(knownLine))
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(h.Address.String(), "22"))
	if err != nil {
		return "", err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	sc, chans, reqs, err := ssh.NewClientConn(conn, h.Address.String(), &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(user)}, HostKeyCallback: ssh.FixedHostKey(pub), Timeout: 30 * time.Second,
	})
	if err != nil {
		conn.Close()
		return "", err
	}
	client := ssh.NewClient(sc, chans, reqs)
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return "", err
	}
	defer session.Close()
	var out bytes.Buffer
	session.Stdout, session.Stderr = &out, &out
	err = session.Run(script)
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("timed out after %s: %s", timeout, lastLines(out.String(), 10))
	}
	if err != nil {
		return out.String(), fmt.Errorf("%w: %s", err, lastLines(out.String(), 10))
	}
	return out.String(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// machineRSS is the resident memory of process pid, in bytes.
func machineRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
