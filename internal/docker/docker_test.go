package docker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"everywhere/internal/dockertest"
	"everywhere/internal/driver"
	"everywhere/internal/engineapi"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/result"
	"everywhere/internal/run"
	"everywhere/internal/shell"
	"everywhere/internal/sshconfig"
	"everywhere/internal/sshconn"
	"everywhere/internal/sshtest"
)

const testImage = "everywhere/tool:test"

// testDriver is the driver under test; its block is what the tests' hosts set.
var testDriver = New(Docker())

// testRegistry lists the drivers these tests use: this package's cannot
// import the program's list, which imports it.
func testRegistry(t *testing.T) *driver.Registry {
	r, err := driver.NewRegistry(shell.New(), testDriver.Driver)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// startDockerd starts a Docker engine of the test's own on a socket of its
// own, loads the test image into it and stops it at the end.
func startDockerd(t *testing.T) string {
	t.Helper()
	socket := dockertest.Start(t, dockertest.Options{})
	c, err := client.NewClientWithOpts(client.WithHost("unix://"+socket), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	loadTestImage(t, c)
	return socket
}

// loadTestImage builds an image holding one static Go program and Debian's
// static busybox (for the shell that stopping an exec needs), and loads it.
func loadTestImage(t *testing.T, c *client.Client) {
	root := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(root, "bin", "tool"), "./testdata/tool")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test tool: %v\n%s", err, out)
	}
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("the test image needs Debian's busybox-static (scripts/install-deps installs it): %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), busybox, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "tr", "grep", "ps", "kill"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	arch, _ := host.ParseArch(runtime.GOARCH)
	var archive bytes.Buffer
	if err := WriteImage(&archive, testImage, Platform(arch), nil, []string{"/bin/tool"}, Tree(root, nil)); err != nil {
		t.Fatal(err)
	}
	if err := LoadImage(context.Background(), c, &archive); err != nil {
		t.Fatal(err)
	}
}

// fleet is one host: a real OpenSSH sshd whose Docker socket is the test's dockerd.
func fleet(t *testing.T, socket string) []inventory.Host {
	sshd := sshtest.StartOpenSSH(t)
	arch, _ := host.ParseArch(runtime.GOARCH)
	h := inventory.Host{Name: "docker-host", Arch: arch, Address: sshd.Host, Port: sshd.Port, User: sshd.User,
		Identity: sshd.IdentityFile, KnownHosts: sshd.KnownHostsFile, ConnectTimeout: 10 * time.Second}
	return []inventory.Host{testDriver.Block().With(h, Config{Socket: socket})}
}

func runPlan(t *testing.T, ctx context.Context, targets []inventory.Host, src string) *result.Result {
	t.Helper()
	p, err := plan.Parse("docker.yaml", []byte(src), testRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	r := &run.Runner{Connect: run.Connector(sshconn.NewDialer(false, 0).Dial), OutputLimit: 1024}
	return r.Run(ctx, targets, p)
}

// containersOf lists the containers of runID on the engine at socket, or
// of every run when runID is empty.
func containersOf(t *testing.T, socket, runID string) []container.Summary {
	if runID == "" {
		return dockertest.Containers(t, socket, Label)
	}
	return dockertest.Containers(t, socket, Label+"="+runID)
}

func TestDockerThroughSSH(t *testing.T) {
	socket := startDockerd(t)
	targets := fleet(t, socket)
	arch, _ := host.ParseArch(runtime.GOARCH)
	res := runPlan(t, context.Background(), targets, fmt.Sprintf(`
steps:
  - {name: version, docker.version: {}}
  - {name: images, docker.images: {reference: "everywhere/*"}}
  - {name: ok, docker.run: {image: %[1]s, cmd: [/bin/tool, arch, echo, hello]}}
  - {name: fails, docker.run: {image: %[1]s, cmd: [/bin/tool, stderr, oops, exit, "3"]}}
  - {name: big, docker.run: {image: %[1]s, cmd: [/bin/tool, big, "100000"]}}
  - {name: missing, docker.run: {image: "no/such:image"}}
  - {name: keep, docker.run: {image: %[1]s, cmd: [/bin/tool, sleep, 30s], name: kept-test, keep: true}, timeout: 2s}
  - {name: exec, docker.exec: {container: kept-test, cmd: [/bin/tool, echo, inside]}}
cleanup:
  - {name: rm, docker.rm: {container: kept-test}}
`, testImage))
	steps := map[string]result.StepResult{}
	for _, s := range append(res.Hosts[0].Steps, res.Hosts[0].Cleanup...) {
		steps[s.Name] = s
	}
	check := func(name string, status result.Status, contains string, field func(result.StepResult) string) {
		t.Helper()
		s := steps[name]
		if s.Status != status || !strings.Contains(field(s), contains) {
			t.Errorf("step %s: %s %q (stdout %q stderr %q error %q); want %s containing %q", name, s.Status, field(s), s.Stdout, s.Stderr, s.Error, status, contains)
		}
	}
	stdout := func(s result.StepResult) string { return s.Stdout }
	check("version", result.OK, "API 1.", stdout)
	check("images", result.OK, testImage+"  ", stdout)
	check("images", result.OK, "  "+Platform(arch).Architecture+"  ", stdout)
	check("ok", result.OK, runtime.GOARCH+"\nhello\n", stdout)
	check("fails", result.Failed, "oops", func(s result.StepResult) string { return s.Stderr })
	if code := steps["fails"].ExitCode; code == nil || *code != 3 {
		t.Errorf("exit code %v, want 3", code)
	}
	if s := steps["big"]; !s.StdoutTruncated || s.StdoutBytes != 100000 {
		t.Errorf("big: truncated %v, bytes %d", s.StdoutTruncated, s.StdoutBytes)
	} else if head, tail, _, ok := host.SplitKept(s.Stdout); !ok || len(head)+len(tail) != 1024 {
		t.Errorf("big: kept head %d + tail %d bytes (marker found: %v), want 1024 in all", len(head), len(tail), ok)
	}
	check("missing", result.Error, `"no/such:image" is not on this engine (no pull attempted`, func(s result.StepResult) string { return s.Error })
	check("exec", result.OK, "inside", stdout)
	check("rm", result.OK, "kept-test: removed", stdout)
	if left := containersOf(t, socket, res.RunID); len(left) != 0 {
		t.Errorf("containers left by run %s: %+v", res.RunID, left)
	}
}

// TestExecTimeoutKillsTheCommand: a docker.exec that outlives its step is
// killed, with what it started, instead of running on in the container.
func TestExecTimeoutKillsTheCommand(t *testing.T) {
	socket := startDockerd(t)
	res := runPlan(t, context.Background(), fleet(t, socket), fmt.Sprintf(`
steps:
  - {name: keep, docker.run: {image: %s, cmd: [/bin/tool, sleep, 60s], name: exec-timeout-test, keep: true}, timeout: 2s}
  - {name: slow, docker.exec: {container: exec-timeout-test, cmd: [/bin/sh, -c, "/bin/tool sleep 600s; /bin/tool sleep 601s"]}, timeout: 2s}
  - {name: after, docker.exec: {container: exec-timeout-test, cmd: [/bin/sh, -c, "ps -o args | grep -c 'tool sleep 60[01]s'"]}}
cleanup:
  - {docker.rm: {container: exec-timeout-test}}
`, testImage))
	slow, after := res.Hosts[0].Step("slow"), res.Hosts[0].Step("after")
	if slow.Status != result.Timeout || !strings.Contains(slow.Error, "killed pids ") {
		t.Errorf("slow: %s %q", slow.Status, slow.Error)
	}
	if strings.TrimSpace(after.Stdout) != "0" {
		t.Errorf("the timed-out exec (or its child) still runs: %q (%s %q)", after.Stdout, after.Status, after.Error)
	}
}

// TestDockerCancelLeavesNoContainer: Ctrl-C while a container runs.
func TestDockerCancelLeavesNoContainer(t *testing.T) {
	socket := startDockerd(t)
	targets := fleet(t, socket)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(3*time.Second, cancel)
	res := runPlan(t, ctx, targets, fmt.Sprintf("steps:\n  - docker.run: {image: %s, cmd: [/bin/tool, sleep, 60s]}\n", testImage))
	if !res.Interrupted || res.Hosts[0].Steps[0].Status != result.Error {
		t.Fatalf("interrupted %v, step %+v", res.Interrupted, res.Hosts[0].Steps[0])
	}
	if left := containersOf(t, socket, res.RunID); len(left) != 0 {
		t.Errorf("containers left after cancellation: %+v", left)
	}
}

func TestDockerErrors(t *testing.T) {
	startDockerd(t)
	targets := fleet(t, filepath.Join(t.TempDir(), "absent.sock"))
	res := runPlan(t, context.Background(), targets, "steps:\n  - docker.version: {}\n")
	if s := res.Hosts[0].Steps[0]; s.Status != result.Error || !strings.Contains(s.Error, "no Docker socket at") || !strings.Contains(s.Error, "is Docker installed and running?") {
		t.Errorf("missing socket: %s %q", s.Status, s.Error)
	}
}

// TestCleanKeepsLiveRuns: the Docker cleaner removes the containers of runs
// that are gone and keeps those of a run still live.
func TestCleanKeepsLiveRuns(t *testing.T) {
	socket := startDockerd(t)
	c, err := client.NewClientWithOpts(client.WithHost("unix://"+socket), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, run := range []string{"gone-run", "live-run"} {
		if _, err := c.ContainerCreate(context.Background(), &container.Config{Image: testImage, Labels: map[string]string{Label: run}}, nil, nil, nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	r := &run.Runner{Connect: run.Connector(sshconn.NewDialer(false, 0).Dial), OutputLimit: 1024}
	res := r.Run(context.Background(), fleet(t, socket), plan.Cleaners(testRegistry(t), func(id string) bool { return id == "live-run" }))
	if s := res.Hosts[0].Steps[0]; s.Status != result.OK || !strings.Contains(s.Stdout, "of run gone-run") || !strings.Contains(s.Stdout, "run live-run is still running") {
		t.Errorf("clean: %s %q %q", s.Status, s.Stdout, s.Error)
	}
	if left := containersOf(t, socket, "gone-run"); len(left) != 0 {
		t.Errorf("left after clean: %+v", left)
	}
	if kept := containersOf(t, socket, "live-run"); len(kept) != 1 {
		t.Errorf("the live run's container: %+v", kept)
	}
}

func TestParseSteps(t *testing.T) {
	tests := []struct{ src, err string }{
		{"steps: [{docker.run: {cmd: [x]}}]", "docker.run: image: missing"},
		{"steps: [{docker.run: {image: x, keep: true}}]", "keep: true (or detach: true) needs a name"},
		{"steps: [{docker.run: {image: x, detach: true}}]", "needs a name"},
		{"steps: [{docker.run: {image: x, platform: arm64}}]", `platform "arm64": want os/arch[/variant]`},
		{"steps: [{docker.run: {image: x, comand: [ls]}}]", `unknown field "comand"`},
		{"steps: [{docker.exec: {container: c}}]", "docker.exec: needs container and cmd"},
		{"steps: [{docker.rm: {}}]", "docker.rm: container: missing"},
		{"steps: [{docker.version: }, {docker.images: {}}]", ""},
	}
	for _, tt := range tests {
		_, err := plan.Parse("p.yaml", []byte(tt.src), testRegistry(t))
		if (tt.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: error %v, want %q", tt.src, err, tt.err)
		}
	}
}

// TestDockerDirectHost: docker: {host: ...} reaches the engine without the
// SSH connection (here its unix socket; tcp:// with TLS goes the same way).
func TestDockerDirectHost(t *testing.T) {
	socket := startDockerd(t)
	targets := fleet(t, socket)
	targets[0] = testDriver.Block().With(targets[0], Config{Host: "unix://" + socket})
	res := runPlan(t, context.Background(), targets, "steps:\n  - docker.version: {}\n")
	if s := res.Hosts[0].Steps[0]; s.Status != result.OK || !strings.Contains(s.Stdout, "API 1.") {
		t.Errorf("%s %q %q", s.Status, s.Stdout, s.Error)
	}
}

// TestPlainTCPOnlyWhenSaid: a tcp:// engine without TLS is accepted only
// with tls: false, and is then reported as such.
func TestPlainTCPOnlyWhenSaid(t *testing.T) {
	inv, err := inventory.Parse("inv.yaml", []byte("hosts:\n  - {name: a, arch: amd64, address: x, docker: {host: 'tcp://x:2375', tls: false}}\n  - {name: b, arch: amd64, address: y}\n"),
		inventory.Options{SSHConfig: sshconfig.None, Blocks: testRegistry(t).Blocks()})
	if err != nil {
		t.Fatal(err)
	}
	plain, socket := testDriver.Block().Of(inv.Hosts[0]), testDriver.Block().Of(inv.Hosts[1])
	if !plain.plainTCP() || socket.plainTCP() || socket.Socket != "" { // the driver's sockets are tried
		t.Errorf("a: %+v, b: %+v", plain, socket)
	}
	e := &engine{Engine: &engineapi.Engine{}, config: plain}
	e.Version.Arch = "amd64"
	if note := e.note(host.AMD64); note != "reached over plain TCP without TLS (tls: false)" {
		t.Errorf("note %q", note)
	}
}
