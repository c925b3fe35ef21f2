package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"everywhere/internal/dockertest"
	"everywhere/internal/enginetest"
	"everywhere/internal/host"
	"everywhere/internal/lxdtest"
	"everywhere/internal/result"
	"everywhere/internal/sshtest"
)

// TestAllFourEngines: one host of the test's own (a real sshd on
// 127.0.0.1) with Docker, Podman, LXD and Incus daemons of the test's own;
// `everywhere hosts` has a column for each, and one plan runs steps of all
// four.
func TestAllFourEngines(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the daemons' test images are made for amd64 here")
	}
	sockets := map[string]string{
		"docker": dockertest.Start(t, dockertest.Options{}),
		"podman": dockertest.StartPodman(t, sshtest.NewNetns(t).Name),
		"lxd":    lxdtest.Start(t, lxdtest.LXD, "10.213.203.1/24"),
		"incus":  lxdtest.Start(t, lxdtest.Incus, "10.213.202.1/24"),
	}
	enginetest.EngineAt(t, sockets["docker"])
	enginetest.EngineAt(t, sockets["podman"])
	enginetest.ServerAt(t, sockets["lxd"])
	enginetest.ServerAt(t, sockets["incus"])
	sshd := sshtest.StartOpenSSH(t)
	arch, _ := host.ParseArch(runtime.GOARCH)
	inv := filepath.Join(t.TempDir(), "inventory.yaml")
	writeBytes(t, inv, []byte(fmt.Sprintf(`defaults: {user: %s, identity: %s, known_hosts: %s, connect_timeout: 10s}
hosts:
  - name: all-four
    arch: %s
    address: %s
    port: %d
    docker: {socket: %s}
    podman: {socket: %s}
    lxd: {socket: %s}
    incus: {socket: %s}
`, sshd.User, sshd.IdentityFile, sshd.KnownHostsFile, arch, sshd.Host, sshd.Port, sockets["docker"], sockets["podman"], sockets["lxd"], sockets["incus"])), 0o644)

	code, stdout, stderr := everywhere(context.Background(), "hosts", "-i", inv, "--no-progress")
	t.Logf("everywhere hosts:\n%s%s", stdout, stderr)
	lines := strings.Split(stdout, "\n")
	if code != result.ExitOK || len(lines) < 2 {
		t.Fatalf("hosts: exit %d", code)
	}
	for _, column := range []string{"DOCKER", "PODMAN", "LXD", "INCUS"} {
		if !strings.Contains(lines[0], " "+column+" ") {
			t.Errorf("no %s column: %q", column, lines[0])
		}
	}
	for _, cell := range []string{" (API 1.4", "4.3.1 (API 1.41)", "6.0.4 (API 1.0)"} {
		if !strings.Contains(lines[1], cell) {
			t.Errorf("hosts row lacks %q: %q", cell, lines[1])
		}
	}

	plan := filepath.Join(t.TempDir(), "four.yaml")
	writeBytes(t, plan, []byte(fmt.Sprintf(`steps:
  - {name: docker, docker.run: {image: %[1]s, cmd: [sh, -c, "echo from docker"]}}
  - {name: podman, podman.run: {image: %[1]s, cmd: [sh, -c, "echo from podman"]}}
  - {name: podman-version, podman.version: {}}
  - {name: podman-net, podman.run: {image: %[1]s, cmd: [ip, -4, -o, addr, show, eth0]}}
  - {name: lxd-launch, lxd.launch: {image: %[1]s}}
  - {name: lxd, lxd.exec: {cmd: [sh, -c, "echo from lxd"]}}
  - {name: incus-launch, incus.launch: {image: %[1]s}}
  - {name: incus, incus.exec: {cmd: [sh, -c, "echo from incus"]}}
cleanup:
  - {lxd.delete: {}}
  - {incus.delete: {}}
`, enginetest.Busybox)), 0o644)
	code, res, _ := runSaved(t, "run", "-i", inv, "-p", plan)
	if code != result.ExitOK {
		t.Errorf("run: exit %d", code)
	}
	h := res.Hosts[0]
	for _, engine := range []string{"docker", "podman", "lxd", "incus"} {
		if s := h.Step(engine); s.Status != result.OK || s.Stdout != "from "+engine+"\n" {
			t.Errorf("%s: %s %q %q", engine, s.Status, s.Stdout, s.Error)
		}
	}
	if s := h.Step("podman-version"); !strings.HasPrefix(s.Stdout, "Podman 4.3.1 (Docker API 1.41") {
		t.Errorf("podman.version: %q", s.Stdout)
	}
	if s := h.Step("podman-net"); !strings.Contains(s.Stdout, " inet "+strings.TrimSuffix(dockertest.PodmanSubnet, "0/24")) {
		t.Errorf("a Podman container's address is not on %s: %q %q", dockertest.PodmanSubnet, s.Stdout, s.Error)
	}
	for _, s := range h.Cleanup {
		if s.Status != result.OK {
			t.Errorf("cleanup %s: %s %q", s.Name, s.Status, s.Error)
		}
	}
	if os.Getenv("EVERYWHERE_SHOW") != "" {
		t.Logf("result: %+v", h)
	}
}
