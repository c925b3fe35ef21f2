package nslab_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"everywhere/internal/docker"
	"everywhere/internal/lab/labkit"
	"everywhere/internal/lab/nslab"
	"everywhere/internal/lxd"
)

// killedRunIsCleaned: an everywhere killed with SIGKILL while its LXD
// instance and Docker containers exist leaves them behind; `everywhere
// clean` then removes both, on every host, and keeps a live run's.
func killedRunIsCleaned(t *testing.T, c labkit.Config) {
	bin := filepath.Join(t.TempDir(), "everywhere")
	if out, err := exec.Command("go", "build", "-o", bin, "everywhere/cmd/everywhere").CombinedOutput(); err != nil {
		t.Fatalf("building everywhere: %v\n%s", err, out)
	}
	state := t.TempDir() // the runs' leases
	planFile := filepath.Join(t.TempDir(), "hold.yaml")
	if err := os.WriteFile(planFile, []byte(`
steps:
  - {name: launch, lxd.launch: {image: "debian/bookworm/{arch}"}, timeout: 3m}
  - {name: hold, docker.run: {image: "everywhere/debian:bookworm", cmd: [sleep, "600"]}, timeout: 15m}
cleanup:
  - {lxd.delete: {}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	inventoryFile := filepath.Join(c.Dir, labkit.InventoryFile)
	selected := []string{"amd64", "arm64"} // LXD runs amd64 only of these; Docker both
	everywhere := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, bin, append(args, "-i", inventoryFile, "--hosts", strings.Join(selected, ","), "--no-progress")...)
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+state)
		return cmd
	}
	run := everywhere(context.Background(), "run", "-p", planFile)
	var output strings.Builder
	run.Stdout, run.Stderr = &output, &output
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = run.Process.Kill(); _ = run.Wait() }()

	hosts := map[string]labkit.Host{}
	for _, h := range c.Hosts() {
		hosts[h.Name] = h
	}
	// Wait until the run's containers run on both hosts and its instance exists.
	var runID string
	deadline := time.Now().Add(10 * time.Minute)
	for {
		ids := map[string]bool{}
		for _, name := range selected {
			for _, ct := range labelled(t, hosts[name], "") {
				if ct.State == "running" {
					ids[ct.Labels[docker.Label]] = true
				}
			}
		}
		if len(ids) == 1 {
			for id := range ids {
				runID = id
			}
			if len(labelled(t, hosts["amd64"], runID)) == 1 && len(labelled(t, hosts["arm64"], runID)) == 1 && len(instancesOf(t, c, runID)) == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run's containers and instance never all appeared:\n%s", output.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err := run.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = run.Wait()
	if len(instancesOf(t, c, runID)) != 1 || len(labelled(t, hosts["arm64"], runID)) != 1 {
		t.Fatal("kill -9 left nothing behind: the test proves nothing")
	}

	// A live run's leftovers are kept: hold a lease for a made-up run id
	// whose container exists on amd64.
	live := "20990101-000000-live"
	liveContainer := createLabelled(t, hosts["amd64"], live)
	liveCmd := exec.Command("flock", filepath.Join(state, "everywhere", "runs", live), "sleep", "600")
	if err := os.MkdirAll(filepath.Join(state, "everywhere", "runs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := liveCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = liveCmd.Process.Kill(); _ = liveCmd.Wait() }()
	time.Sleep(200 * time.Millisecond) // flock takes the lock

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := everywhere(ctx, "clean", "--width", "200").CombinedOutput()
	if err != nil {
		t.Fatalf("clean: %v\n%s", err, out)
	}
	for _, name := range selected {
		if left := labelled(t, hosts[name], runID); len(left) != 0 {
			t.Errorf("host %s: containers of the killed run left after clean: %+v\n%s", name, left, out)
		}
	}
	if left := instancesOf(t, c, runID); len(left) != 0 {
		t.Errorf("instances of the killed run left after clean: %v\n%s", left, out)
	}
	if kept := labelled(t, hosts["amd64"], live); len(kept) != 1 || kept[0].ID != liveContainer {
		t.Errorf("the live run's container was not kept: %+v\n%s", kept, out)
	}
}

// dockerOf is a client of a lab host's engine, from the machine.
func dockerOf(t *testing.T, h labkit.Host) *client.Client {
	c, err := client.NewClientWithOpts(client.WithHost("unix://"+nslab.DockerSocket(h)), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// labelled lists a host's containers of runID (any run when empty).
func labelled(t *testing.T, h labkit.Host, runID string) []container.Summary {
	label := docker.Label
	if runID != "" {
		label += "=" + runID
	}
	list, err := dockerOf(t, h).ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", label))})
	if err != nil {
		t.Fatalf("docker on %s: %v", h.Name, err)
	}
	return list
}

func createLabelled(t *testing.T, h labkit.Host, runID string) string {
	c := dockerOf(t, h)
	created, err := c.ContainerCreate(context.Background(), &container.Config{Image: "everywhere/debian:bookworm", Cmd: []string{"true"}, Labels: map[string]string{docker.Label: runID}}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true}) })
	return created.ID
}

// instancesOf lists the lab LXD's instances of runID.
func instancesOf(t *testing.T, c labkit.Config, runID string) []string {
	d := lxd.NewUnix(func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}, c.LXDSocket())
	list, err := d.Instances(context.Background())
	if err != nil {
		t.Fatalf("lxd: %v", err)
	}
	var names []string
	for _, i := range list {
		if i.Config[lxd.RunKey] == runID {
			names = append(names, fmt.Sprintf("%s %s", i.Name, i.Status))
		}
	}
	return names
}
