package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"everywhere/internal/host"
	"everywhere/internal/result"
	"everywhere/internal/sshtest"
)

// TestExecGroupShowsTheAnswer: eight hosts of one arch answer `uname -m`
// alike, and the grouped view prints that answer, not a mask; --layout
// panes draws a pane per host.
func TestExecGroupShowsTheAnswer(t *testing.T) {
	sshd := sshtest.StartOpenSSH(t)
	var names []string
	for i := range 8 {
		names = append(names, fmt.Sprintf("node%d", i+1))
	}
	inv := openSSHInventory(t, sshd, names...)
	arch, _ := host.ParseArch(runtime.GOARCH)
	code, stdout, stderr := everywhere(context.Background(), "exec", "-i", inv, "--no-progress", "--group", "--", "uname", "-m")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "node[1-8] (8)\n      "+arch.Kernel()+"\n") || strings.Contains(stdout, "<arch>") || strings.Contains(stdout, "≠") {
		t.Errorf("exec --group: the answer is not shown as it is:\n%s", stdout)
	}
	code, stdout, stderr = everywhere(context.Background(), "exec", "-i", inv, "--no-progress", "--hosts", "node1,node2,node3", "--layout", "panes", "--width", "130", "--", "uname", "-m")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, " node1 ("+string(arch)+")") || strings.Count(stdout, "  "+arch.Kernel()) != 3 || strings.Contains(stdout, "layout:") {
		t.Errorf("--layout panes:\n%s", stdout)
	}
}

func TestLayoutUsage(t *testing.T) {
	for args, want := range map[string]string{
		"--layout tiles":         `--layout: unknown layout "tiles"`,
		"--layout panes --group": "--group and --layout: give one",
	} {
		code, _, stderr := everywhere(context.Background(), append([]string{"exec", "-H", "a"}, append(strings.Fields(args), "--", "true")...)...)
		if code != result.ExitUsage || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", args, code, stderr, want)
		}
	}
}
