package netmatrix

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"everywhere/internal/docker"
	"everywhere/internal/dockertest"
	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/result"
	"everywhere/internal/run"
	"everywhere/internal/shell"
	"everywhere/internal/sshconn"
	"everywhere/internal/sshtest"
)

// TestMatrixOnRealHosts runs net.matrix on three real OpenSSH hosts: two
// whose containers share a Docker engine (of the test's own, with a bridge
// in a network namespace of its own), and one whose engine is not there, so
// its container cannot start. The two measure each other, every test
// passing; the third's step fails saying why, and every pair to or from it
// is marked not run. No container is left.
func TestMatrixOnRealHosts(t *testing.T) {
	socket := engine(t)
	targets := fleet(t, map[string]string{"one": socket, "two": socket, "broken": "/nonexistent/docker.sock"}, "one", "two", "broken")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	events := make(chan result.Event)
	streamed := make(chan string)
	go func() {
		var b strings.Builder
		for e := range events {
			if e.Type == result.Output && e.Host == "one" {
				b.WriteString(e.Data)
			}
		}
		streamed <- b.String()
	}()
	res := runMatrix(ctx, t, targets, "{long_mib: 4, seconds: 1}", events)
	close(events)
	// The live view sees each pair as it is measured, not the responder's JSON.
	if live := <-streamed; !strings.Contains(live, "to two (") || !strings.Contains(live, "to two: throughput PASS") || strings.Contains(live, `{"test"`) {
		t.Errorf("streamed to the live view:\n%s", live)
	}

	for _, h := range res.Hosts[:2] {
		s := h.Steps[0]
		if s.Status != result.Failed {
			t.Errorf("%s: %s, want failed (its pair with broken did not run)\n%s", h.Name, s.Status, s.Stdout)
		}
		if len(s.Pairs) != 2 {
			t.Fatalf("%s: %d pairs, want 2: %+v", h.Name, len(s.Pairs), s.Pairs)
		}
		good, bad := s.Pairs[0], s.Pairs[1]
		if !good.OK() || len(good.Tests) != len(host.NetTests) {
			t.Errorf("%s → %s: %+v, want all of %v passed", h.Name, good.To, good, host.NetTests)
		}
		for _, m := range good.Tests {
			if m.Emulated {
				t.Errorf("%s → %s: %s says emulated on a native engine", h.Name, good.To, m.Test)
			}
		}
		if bad.To != "broken" || bad.Ran || !strings.Contains(bad.Error, "did not start") {
			t.Errorf("%s → broken: %+v, want not run because its container did not start", h.Name, bad)
		}
	}
	broken := res.Hosts[2].Steps[0]
	if broken.Status != result.Error || !strings.Contains(broken.Error, "starting the responder's container") {
		t.Errorf("broken: %s %q, want an error saying its container did not start", broken.Status, broken.Error)
	}
	for _, p := range broken.Pairs {
		if p.Ran {
			t.Errorf("broken → %s ran: %+v", p.To, p)
		}
	}
	if failed := res.FailedPairs(); len(failed) != 4 {
		t.Errorf("%d failing pairs, want the 4 to or from broken: %+v", len(failed), failed)
	}
	if left := containers(t, socket); len(left) != 0 {
		t.Errorf("containers left: %v", left)
	}
}

// TestMatrixSeparateNetworks gives each host an engine of its own whose
// bridges are not joined, as stock Docker hosts without an overlay are:
// both containers get the same address, and a pair must not measure the
// host's own container and pass.
func TestMatrixSeparateNetworks(t *testing.T) {
	one, two := engine(t), engine(t)
	targets := fleet(t, map[string]string{"one": one, "two": two}, "one", "two")
	res := runMatrix(t.Context(), t, targets, "{tests: [ping, short]}")
	for _, h := range res.Hosts {
		s := h.Steps[0]
		if len(s.Pairs) != 1 || s.Pairs[0].Ran || !strings.Contains(s.Pairs[0].Error, "networks are not joined") {
			t.Errorf("%s: %+v, want its pair not run: the two containers share an address", h.Name, s.Pairs)
		}
		if s.Status != result.Failed {
			t.Errorf("%s: %s, want failed", h.Name, s.Status)
		}
	}
}

// TestMatrixInterrupted cancels the run while the hosts measure each
// other: the step ends promptly, saying it was interrupted, and every
// container is removed.
func TestMatrixInterrupted(t *testing.T) {
	socket := engine(t)
	targets := fleet(t, map[string]string{"one": socket, "two": socket}, "one", "two")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for len(containers(t, socket)) < 2 && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second) // measuring by now: a minute of throughput each way
		cancel()
	}()
	start := time.Now()
	res := runMatrix(ctx, t, targets, "{tests: [throughput], seconds: 60}")
	if d := time.Since(start); d > 45*time.Second {
		t.Errorf("the run took %v; cancelling it should end it well before its two minutes of throughput", d)
	}
	for _, h := range res.Hosts {
		if s := h.Steps[0]; s.Status == result.OK {
			t.Errorf("%s: %s after Ctrl-C", h.Name, s.Status)
		}
	}
	if left := containers(t, socket); len(left) != 0 {
		t.Errorf("containers left after Ctrl-C: %v", left)
	}
}

// engine is a Docker engine of the test's own whose containers share a
// bridge in a network namespace of the test's own.
func engine(t *testing.T) string {
	sshtest.RequireNetns(t)
	ns := sshtest.NewNetns(t)
	return dockertest.Start(t, dockertest.Options{Netns: ns.Name, Bridge: "10.213.201.1/24"})
}

// fleet is a real OpenSSH sshd per name, whose Docker socket is sockets[name].
func fleet(t *testing.T, sockets map[string]string, names ...string) []inventory.Host {
	arch, _ := host.ParseArch(runtime.GOARCH)
	var targets []inventory.Host
	for _, name := range names {
		sshd := sshtest.StartOpenSSH(t)
		targets = append(targets, docker.New(docker.Docker()).Block().With(inventory.Host{Name: name, Arch: arch, Address: sshd.Host, Port: sshd.Port, User: sshd.User,
			Identity: sshd.IdentityFile, KnownHosts: sshd.KnownHostsFile, ConnectTimeout: 10 * time.Second}, docker.Config{Socket: sockets[name]}))
	}
	return targets
}

// testDrivers lists the drivers these tests use: this package's cannot
// import the program's list, which imports it.
func testDrivers(t *testing.T) *driver.Registry {
	d := docker.New(docker.Docker())
	r, err := driver.NewRegistry(shell.New(), d.Driver, New(driver.EnginesOf(d.Driver)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runMatrix runs a plan of one net.matrix step; events, when given, get
// the runner's events.
func runMatrix(ctx context.Context, t *testing.T, targets []inventory.Host, matrix string, events ...chan<- result.Event) *result.Result {
	p, err := plan.Parse("fan.yaml", []byte("steps:\n  - {name: fan, net.matrix: "+matrix+"}\n"), testDrivers(t))
	if err != nil {
		t.Fatal(err)
	}
	r := &run.Runner{Connect: run.Connector(sshconn.NewDialer(false, 0).Dial), OutputLimit: 64 << 10}
	if len(events) > 0 {
		r.Events = events[0]
	}
	return r.Run(ctx, targets, p)
}

// containers lists the containers everywhere made on the engine at socket.
func containers(t *testing.T, socket string) []container.Summary {
	return dockertest.Containers(t, socket, docker.Label)
}

func TestParse(t *testing.T) {
	for _, tc := range []struct{ src, err string }{
		{"{}", ""},
		{"{engine: shell}", `engine "shell" starts no containers`},
		{"{tests: [ping, iperf]}", `unknown test "iperf"`},
		{"{port: 70000}", "not a port"},
		{"{seconds: -1}", "negative"},
		{"{max_loss: 120}", "not a percentage"},
	} {
		_, err := plan.Parse("p.yaml", []byte("steps:\n  - {net.matrix: "+tc.src+"}\n"), testDrivers(t))
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: err %v, want %q", tc.src, err, tc.err)
		}
	}
	_, err := plan.Parse("p.yaml", []byte("steps:\n  - {shell: true}\ncleanup:\n  - {net.matrix: {}}\n"), testDrivers(t))
	if err == nil || !strings.Contains(err.Error(), "p.yaml:4") || !strings.Contains(err.Error(), "put it in steps") {
		t.Errorf("net.matrix in cleanup: %v, want an error at p.yaml:4", err)
	}
}
