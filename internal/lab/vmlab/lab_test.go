package vmlab_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"everywhere/internal/host"
	"everywhere/internal/lab"
	"everywhere/internal/lab/labkit"
	"everywhere/internal/lab/labtest"
	"everywhere/internal/lab/vmlab"
	"everywhere/internal/result"
)

// TestMachineLab boots one machine, amd64 (its tree builds natively, ~2.5
// min cold), cold and then restored, and runs the default plan on it: its
// own kernel, its own engine, its own LXD. The six-machine lab is measured
// by hand (docs/explanation/lab.md): its cold start alone is longer than
// the suite's budget.
func TestMachineLab(t *testing.T) {
	if os.Getenv("EVERYWHERE_TEST_MACHINES") == "" {
		t.Skip("a machine's cold boot and set-up take 5-10 min under TCG, past make test's budget: make test-machines (EVERYWHERE_TEST_MACHINES=1) runs it")
	}
	vmlab.RequireMachines(t, host.AMD64)
	c := labtest.NewLab(t)
	c.Machines, c.Archs = labkit.MachinesVM, []host.Arch{host.AMD64}
	t.Cleanup(func() {
		if err := lab.Down(context.Background(), c); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	own, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}

	checkRunning := func(t *testing.T) {
		t.Helper()
		for _, s := range lab.Status(context.Background(), c) {
			if s.Machine.PID == 0 || s.Machine.RSS == 0 || s.Machine.Accel == "" || !s.Answers || !s.Docker || !s.LXD {
				t.Errorf("status of %s: %+v", s.Name, s)
			}
		}
	}

	t.Run("cold: boots, sets Docker and LXD up, saves", func(t *testing.T) {
		labtest.Up(t, c, lab.Up)
		checkRunning(t)
		if _, err := os.Stat(vmlab.SavedDisk(c.Hosts()[0])); err != nil {
			t.Fatalf("no saved machine: %v", err)
		}
	})

	t.Run("warm: restores the saved machine; the default plan passes on it", func(t *testing.T) {
		if err := lab.Down(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		for _, s := range lab.Status(context.Background(), c) {
			if s.Machine.PID != 0 {
				t.Fatalf("%s still runs after lab down: %+v", s.Name, s)
			}
		}
		var log strings.Builder
		c.Log = &log
		targets := labtest.Up(t, c, lab.Up)
		c.Log = labtest.Log{T: t}
		t.Log(log.String())
		if !strings.Contains(log.String(), "restored in") || strings.Contains(log.String(), "booted:") {
			t.Errorf("a warm up did not restore the saved machine:\n%s", log.String())
		}
		// The estimate said so first: the image and seed the snapshot recorded are this up's.
		if !strings.Contains(log.String(), "every machine has a saved snapshot: restoring") {
			t.Errorf("the warm up's estimate did not expect a restore:\n%s", log.String())
		}
		checkRunning(t)
		res := labtest.RunPlan(t, targets, labtest.DefaultPlan(t), nil)
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
}
