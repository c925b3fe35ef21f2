package drivers_test

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"everywhere/internal/docker"
	"everywhere/internal/dockertest"
	"everywhere/internal/driver"
	"everywhere/internal/drivers"
	"everywhere/internal/enginetest"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/lxd"
	"everywhere/internal/lxdtest"
	"everywhere/internal/plan"
	"everywhere/internal/run"
	"everywhere/internal/sshconn"
	"everywhere/internal/sshtest"
)

// listed is the registry's driver of that name.
func listed(t *testing.T, name string) *driver.Driver {
	for _, d := range drivers.All().Drivers() {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no driver %q in the registry", name)
	return nil
}

// dockerFamily is the suite's Engine for an Engine-API driver whose engine
// listens on socket.
func dockerFamily(t *testing.T, name, socket string) enginetest.Engine {
	block := docker.New(docker.Options{Name: name}).Block()
	absent := filepath.Join(t.TempDir(), "absent.sock")
	return enginetest.Engine{
		Driver:  listed(t, name),
		Reach:   func(h inventory.Host) inventory.Host { return block.With(h, docker.Config{Socket: socket}) },
		Absent:  func(h inventory.Host) inventory.Host { return block.With(h, docker.Config{Socket: absent}) },
		Missing: "everywhere/no-such-image:1",
	}
}

// lxdFamily is the suite's Engine for an LXD-API driver whose server
// listens on socket.
func lxdFamily(t *testing.T, name, socket string) enginetest.Engine {
	block := lxd.New(lxd.Options{Name: name}).Block()
	absent := filepath.Join(t.TempDir(), "absent.socket")
	return enginetest.Engine{
		Driver:  listed(t, name),
		Reach:   func(h inventory.Host) inventory.Host { return block.With(h, lxd.Config{Socket: socket}) },
		Absent:  func(h inventory.Host) inventory.Host { return block.With(h, lxd.Config{Socket: absent}) },
		Missing: "everywhere/no-such-image",
	}
}

// TestConformance runs the one suite against every engine driver the
// registry lists: over fakes of their APIs (any user), and over the real
// daemons (root; skipped where a daemon cannot start, except under CI).
func TestConformance(t *testing.T) {
	for _, c := range []struct{ name, product string }{{"docker", "Docker"}, {"podman", "Podman"}} {
		t.Run("fake-"+c.name, func(t *testing.T) {
			f := enginetest.StartFakeEngine(t, c.product, "everywhere/tool:test")
			e := dockerFamily(t, c.name, f.Socket)
			e.Image, e.SleepCmd = "everywhere/tool:test", []string{"sleep", "600"}
			e.Things = func(*testing.T) map[string]string { return f.Things() }
			e.Plant = func(_ *testing.T, name, run string) { f.Plant(name, run) }
			e.Hold, e.FullDisk = f.Hold, func(*testing.T) { f.Fill() }
			enginetest.Run(t, e)
		})
	}
	for _, c := range []string{"lxd", "incus"} {
		t.Run("fake-"+c, func(t *testing.T) {
			f := enginetest.StartFakeLXD(t, c, "debian/12")
			e := lxdFamily(t, c, f.Socket)
			e.Image = "debian/12"
			e.Things = func(*testing.T) map[string]string { return f.Things() }
			e.Plant = func(_ *testing.T, name, run string) { f.Plant(name, run) }
			e.Hold, e.FullDisk = f.Hold, func(*testing.T) { f.Fill() }
			enginetest.Run(t, e)
		})
	}
}

// TestConformanceDaemons runs the suite against the real daemons, one at a
// time: Docker and Podman (each of the test's own, Podman in a network
// namespace whose default network is dockertest.PodmanSubnet), LXD and
// Incus (each of the test's own, see lxdtest).
func TestConformanceDaemons(t *testing.T) {
	t.Run("docker", func(t *testing.T) {
		socket := dockertest.Start(t, dockertest.Options{})
		e := dockerFamily(t, "docker", socket)
		e.Things, e.Plant = enginetest.EngineAt(t, socket)
		e.Image, e.SleepCmd = enginetest.Busybox, []string{"sleep", "600"}
		enginetest.Run(t, e)
	})
	t.Run("podman", func(t *testing.T) {
		sshtest.RequireNetns(t)
		socket := dockertest.StartPodman(t, sshtest.NewNetns(t).Name)
		e := dockerFamily(t, "podman", socket)
		e.Things, e.Plant = enginetest.EngineAt(t, socket)
		e.Image, e.SleepCmd = enginetest.Busybox, []string{"sleep", "600"}
		enginetest.Run(t, e)
	})
}

// TestConformanceServers runs the suite against an LXD and an Incus of the
// test's own, one at a time, each with the suite's busybox image imported
// under its alias: no image server is ever asked.
func TestConformanceServers(t *testing.T) {
	for _, c := range []struct {
		server lxdtest.Server
		subnet string
	}{{lxdtest.LXD, "10.213.203.1/24"}, {lxdtest.Incus, "10.213.202.1/24"}} {
		t.Run(c.server.Name, func(t *testing.T) {
			socket := lxdtest.Start(t, c.server, c.subnet)
			e := lxdFamily(t, c.server.Name, socket)
			e.Things, e.Plant = enginetest.ServerAt(t, socket)
			e.Image = enginetest.Busybox
			enginetest.Run(t, e)
		})
	}
}

// TestPodmanBehindDockersSocket: a docker: socket that Podman serves (the
// podman-docker package) works, and hosts says what it is.
func TestPodmanBehindDockersSocket(t *testing.T) {
	f := enginetest.StartFakeEngine(t, "Podman")
	sshd := sshtest.StartOpenSSH(t)
	arch, _ := host.ParseArch(runtime.GOARCH)
	h := docker.New(docker.Docker()).Block().With(inventory.Host{Name: "h", Arch: arch, Address: sshd.Host, Port: sshd.Port, User: sshd.User,
		Identity: sshd.IdentityFile, KnownHosts: sshd.KnownHostsFile, ConnectTimeout: 10 * time.Second}, docker.Config{Socket: f.Socket})
	r := run.Runner{Connect: run.Connector(sshconn.NewDialer(false, 0).Dial), OutputLimit: 4096}
	res := r.Run(context.Background(), []inventory.Host{h}, plan.Probes(drivers.All()))
	facts := res.Hosts[0].Step("docker").Facts
	if facts == nil || !facts.Available || facts.Note != "this is Podman 99.1.0 (Docker API 1.41)" {
		t.Errorf("docker's facts: %+v", facts)
	}
}
