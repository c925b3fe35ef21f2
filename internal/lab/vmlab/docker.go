package vmlab

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/lab/labkit"
)

// preloadDocker fills dataRoot with a Docker engine's store holding the
// image in archive, by a dockerd of this machine's own (no network of its
// own, no firewall rules) that is stopped after. A machine whose disk
// carries that store starts with the image: docker.io's store is the same
// on every architecture, and loading natively here takes seconds where
// an emulated machine takes minutes.
func preloadDocker(ctx context.Context, c labkit.Config, a host.Arch, dataRoot, archive string) error {
	start := time.Now()
	if err := labkit.RemoveTree(dataRoot); err != nil {
		return err
	}
	// Named by suite too: two suites' machines of one architecture preload at once.
	name := "preload-" + a.Debian() + "-" + c.Suite
	run := filepath.Join("/run", "everywhere-"+c.Prefix+"-"+name)
	group := path.Join(c.Cgroup(), name)
	if err := os.MkdirAll(run, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(run)
	socket := filepath.Join(run, "docker.sock")
	defer labkit.StopCgroup(context.Background(), group)
	cl, err := labkit.StartEngine(ctx, group, filepath.Join(c.CacheDir, name+".log"), socket, "dockerd", "--host", "unix://"+socket,
		"--data-root", dataRoot, "--exec-root", filepath.Join(run, "exec"), "--pidfile", filepath.Join(run, "dockerd.pid"),
		"--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false", "--storage-driver=overlay2")
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := labkit.LoadImage(ctx, cl, archive); err != nil {
		return err
	}
	if err := labkit.StopCgroup(ctx, group); err != nil {
		return err
	}
	// The machine's engine makes its own networks, identity, and volume,
	// build and (preload's own) containerd databases. Those are bolt
	// files, written in this machine's byte order: a big-endian engine
	// (s390x) refused the preloaded store ("error while opening volume
	// store metadata database: invalid database").
	for _, name := range []string{"network", "engine-id", "volumes", "buildkit", "containerd"} {
		if err := os.RemoveAll(filepath.Join(dataRoot, name)); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.Log, "[%s] %s preloaded into the machine's Docker store in %s\n", a.Debian(), labkit.DockerImage(c.Suite), time.Since(start).Round(100*time.Millisecond))
	return nil
}
