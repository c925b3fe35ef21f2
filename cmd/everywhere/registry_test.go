package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"everywhere/internal/result"
	"everywhere/internal/sshtest"
)

// TestFilePushWithoutThePushCommand: everywhere built without push.go (and
// its line in main.go) still runs file.push steps, because the registry
// the CLI hands down lists the file driver, not an import of push.go.
func TestFilePushWithoutThePushCommand(t *testing.T) {
	dir := t.TempDir()
	mainGo, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	withoutPush := strings.Replace(string(mainGo), "newPushCommand(stdout, stderr), ", "", 1)
	if withoutPush == string(mainGo) {
		t.Fatal("main.go no longer adds the push command as this test expects: update the test")
	}
	writeBytes(t, filepath.Join(dir, "main.go"), []byte(withoutPush), 0o644)
	here, _ := filepath.Abs(".")
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{
		filepath.Join(here, "push.go"): "", // deleted
		filepath.Join(here, "main.go"): filepath.Join(dir, "main.go"),
	}})
	writeBytes(t, filepath.Join(dir, "overlay.json"), overlay, 0o644)
	bin := filepath.Join(dir, "everywhere")
	if out, err := exec.Command("go", "build", "-overlay", filepath.Join(dir, "overlay.json"), "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building without push.go: %v\n%s", err, out)
	}
	if out, _ := exec.Command(bin, "push", "--help").CombinedOutput(); !strings.Contains(string(out), "unknown command") && strings.Contains(string(out), "Copy a local file") {
		t.Fatalf("the build still has the push command:\n%s", out)
	}
	inv := openSSHInventory(t, sshtest.StartOpenSSH(t), "h")
	src, dest := filepath.Join(dir, "payload.txt"), filepath.Join(t.TempDir(), "pushed.txt")
	writeBytes(t, src, []byte("pushed by the registry's file driver\n"), 0o640)
	planFile := filepath.Join(dir, "plan.yaml")
	writeBytes(t, planFile, []byte("steps:\n  - {name: push, file.push: {src: payload.txt, dest: "+dest+"}}\n"), 0o644)
	out := filepath.Join(dir, "out")
	run := exec.Command(bin, "run", "-i", inv, "-p", planFile, "--no-progress", "-o", out)
	if output, err := run.CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, output)
	}
	res, err := result.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Hosts[0].Step("push"); s.Status != result.OK {
		t.Errorf("file.push: %s %q", s.Status, s.Error)
	}
	checkFile(t, dest, []byte("pushed by the registry's file driver\n"), 0o640)
}
