package main

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"everywhere/internal/host"
	"everywhere/internal/result"
	"everywhere/internal/sshtest"
)

// TestFleetBehindABastion: hosts that only a bastion reaches, named by
// their ssh aliases on the command line (-H, no inventory) and in an
// inventory without arch: reached in one and two hops, arch detected.
func TestFleetBehindABastion(t *testing.T) {
	j := sshtest.StartJumps(t, 205)
	want, err := host.ParseArch(runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.yaml")
	writeFile(t, inv, "defaults: {ssh_config: "+j.SSHConfig+"}\nhosts:\n  - {name: inner, address: inner, labels: [dmz]}\n  - {name: target, address: target, arch: "+string(want)+"}\n")
	for _, args := range [][]string{
		{"exec", "-H", "inner,target", "--ssh-config", j.SSHConfig},
		{"exec", "-i", inv},
	} {
		out := t.TempDir()
		code, stdout, stderr := everywhere(context.Background(), append(args, "--no-progress", "--width", "120", "--color", "never", "-o", out, "--", "uname", "-m")...)
		t.Logf("everywhere %s\n%s", strings.Join(args, " "), stdout)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		res, err := result.ReadFile(filepath.Join(out, "result.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range res.Hosts {
			declared := args[1] == "-i" && h.Name == "target"
			if h.Arch != string(want) || h.ArchDetected == declared || h.Attempts != 1 {
				t.Errorf("%s: arch %s detected %v attempts %d", h.Name, h.Arch, h.ArchDetected, h.Attempts)
			}
		}
	}
}
