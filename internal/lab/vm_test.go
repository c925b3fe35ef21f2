package lab

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/result"
)

// requireMachines skips where a lab of machines cannot run, except under
// CI, where that is a broken setup and fails.
func requireMachines(t *testing.T, archs ...host.Arch) {
	t.Helper()
	var why string
	if os.Geteuid() != 0 {
		why = "the lab needs root"
	} else if err := requirementsVM(Config{Archs: archs}.WithDefaults()); err != nil {
		why = err.Error()
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("lab of machines unavailable under CI: %s", why)
	}
	t.Skip(why)
}

// TestMachineLab boots one machine, amd64 (its tree builds natively, ~2.5
// min cold), cold and then restored, and runs the default plan on it: its
// own kernel, its own engine, its own LXD. The six-machine lab is measured
// by hand (docs/explanation/lab.md): its cold start alone is longer than
// the suite's budget.
func TestMachineLab(t *testing.T) {
	requireMachines(t, host.AMD64)
	c := testLab(t)
	c.Machines, c.Archs = MachinesVM, []host.Arch{host.AMD64}
	t.Cleanup(func() {
		if err := Down(context.Background(), c); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	own, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}

	checkRunning := func(t *testing.T) {
		t.Helper()
		for _, s := range Status(context.Background(), c) {
			if s.Machine.PID == 0 || s.Machine.RSS == 0 || s.Machine.Accel == "" || !s.Answers || !s.Docker || !s.LXD {
				t.Errorf("status of %s: %+v", s.Name, s)
			}
		}
	}

	t.Run("cold: boots, sets Docker and LXD up, saves", func(t *testing.T) {
		up(t, c)
		checkRunning(t)
		if _, err := os.Stat(c.Hosts()[0].savedDisk()); err != nil {
			t.Fatalf("no saved machine: %v", err)
		}
	})

	t.Run("warm: restores the saved machine; the default plan passes on it", func(t *testing.T) {
		if err := Down(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		for _, s := range Status(context.Background(), c) {
			if s.Machine.PID != 0 {
				t.Fatalf("%s still runs after lab down: %+v", s.Name, s)
			}
		}
		var log strings.Builder
		c.Log = &log
		targets := up(t, c)
		c.Log = testLog{t}
		t.Log(log.String())
		if !strings.Contains(log.String(), "restored in") || strings.Contains(log.String(), "booted:") {
			t.Errorf("a warm up did not restore the saved machine:\n%s", log.String())
		}
		checkRunning(t)
		res := runPlan(t, targets, defaultPlan(t), nil)
		if res.ExitCode() != result.ExitOK {
			t.Fatalf("exit %d: %+v", res.ExitCode(), res.Hosts)
		}
		h := res.Hosts[0]
		if kernel := h.Step("kernel").Stdout; strings.Contains(kernel, " "+strings.TrimSpace(string(own))+" ") || !strings.Contains(kernel, "Linux amd64 ") {
			t.Errorf("uname -a %q: want the machine's own kernel, not this machine's %s", kernel, own)
		}
		if launch := h.Step("lxd-launch"); launch.Status != result.OK || !strings.Contains(launch.Stdout, "RUNNING") {
			t.Errorf("lxd-launch %s %q %q", launch.Status, launch.Stdout, launch.Error)
		}
		if v := h.Step("docker-version"); !strings.Contains(v.Stdout, "amd64") {
			t.Errorf("docker-version %q", v.Stdout)
		}
	})

	t.Run("a machine that does not boot: its console in the error, lab down leaves nothing", func(t *testing.T) {
		if err := Down(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		h := c.Hosts()[0]
		if err := setupBridge(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		// A kernel that is not one: QEMU starts, the guest never does.
		img := vmImage{kernel: "/dev/null", initrd: "/dev/null", lxdTar: "/dev/null"}
		args := h.qemuArgs(img, "tcg")
		d, err := startMachine(context.Background(), h, args, false)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = waitSSH(ctx, h, d, 20*time.Second)
		if err == nil || !strings.Contains(err.Error(), "console's last lines") {
			t.Errorf("waitSSH: %v", err)
		}
		if err := Down(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if pid := qemuPID(h); pid != 0 {
			t.Errorf("QEMU pid %d runs after lab down", pid)
		}
		if _, err := os.Stat("/sys/class/net/" + h.tap()); err == nil {
			t.Errorf("tap %s left after lab down", h.tap())
		}
	})
}
