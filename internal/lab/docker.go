package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"

	"everywhere/internal/docker"
	"everywhere/internal/host"
)

// Image is the tag of the default suite's Debian image (see DockerImage).
const Image = "everywhere/debian:" + DefaultSuite

// DockerImage is the tag of the Debian image of suite that a lab engine of
// a host of that suite holds, built from the host's own rootfs (no
// registry is reachable, and none is needed): everywhere/debian:trixie.
func DockerImage(suite string) string { return "everywhere/debian:" + suite }

// imageArchive makes (once, cached beside the rootfs) the docker-archive of
// a's rootfs, with a's platform in its config and apt pointed at the lab's
// package proxy (so one archive per proxy address: labs on other subnets
// have their own).
func imageArchive(c Config, a host.Arch) (string, error) {
	extra := map[string][]byte{AptProxyConfFile: c.aptProxyConf()}
	tag := DockerImage(c.Suite)
	file := fmt.Sprintf("%s.docker-%s.tar", c.rootfs(a, hostRootfs), recipeID(string(extra[AptProxyConfFile])+tag))
	rootfsInfo, err := os.Stat(filepath.Join(c.rootfs(a, hostRootfs), recipeFile))
	if err != nil {
		return "", err
	}
	if info, err := os.Stat(file); err == nil && info.ModTime().After(rootfsInfo.ModTime()) {
		return file, nil
	}
	start := time.Now()
	tmp, err := os.CreateTemp(c.CacheDir, filepath.Base(file)+".*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	// An i386 container on an x86-64 kernel runs natively: linux32, as for
	// its sshd, makes uname -m say i686 there too.
	var entrypoint []string
	if a == host.I686 && !emulated(a) {
		entrypoint = []string{"/usr/bin/setarch", "i686"}
	}
	if err := docker.WriteImage(tmp, tag, docker.Platform(a), entrypoint, []string{"/bin/bash"}, docker.Tree(c.rootfs(a, hostRootfs), extra)); err != nil {
		tmp.Close()
		return "", fmt.Errorf("image of %s: %w", a, err)
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return "", err
	}
	fmt.Fprintf(c.Log, "[%s] docker image archive written in %s\n", c.tree(a), time.Since(start).Round(100*time.Millisecond))
	return file, nil
}

func (h Host) dockerSocket() string { return filepath.Join(h.root(), "run", "docker.sock") }

// startDocker runs a Docker engine for h inside h's network namespace, with
// its socket where h's chrooted sshd sees /var/run/docker.sock, and loads
// h's image. The engine is this machine's own: foreign containers run
// under emulation, as their sshd does.
func startDocker(ctx context.Context, h Host, archive string) error {
	start := time.Now()
	dir := filepath.Join(h.dir(), "docker")
	// nsenter --net, not ip netns exec: the latter remounts /sys and hides
	// the cgroup mounts dockerd needs.
	// Its containers' cgroups go into h's tree, so that lab down finds them.
	d, err := spawn(h.cgroup("dockerd"), filepath.Join(h.dir(), "dockerd.log"), "", nil, "nsenter", "--net=/run/netns/"+h.netns(), "--", "dockerd",
		"--host", "unix://"+h.dockerSocket(), "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"), "--cgroup-parent", "/"+h.cgroup("containers"),
		"--bip", h.dockerBridgeIP())
	if err != nil {
		return err
	}
	c, err := client.NewClientWithOpts(client.WithHost("unix://"+h.dockerSocket()), client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := d.ready(ctx, func() error { _, err := c.Ping(ctx); return err }); err != nil {
		return err
	}
	if err := openOverlay(ctx, h); err != nil {
		return err
	}
	if err := loadImage(ctx, c, archive); err != nil {
		return err
	}
	// The engine's data outlives a lab: an image of an earlier recipe, now
	// untagged, would show in docker images as <none>.
	if _, err := c.ImagesPrune(ctx, filters.NewArgs(filters.Arg("dangling", "true"))); err != nil {
		return fmt.Errorf("removing untagged images: %w", err)
	}
	fmt.Fprintf(h.lab.Log, "[%s] dockerd up with %s in %s\n", h.Name, DockerImage(h.Suite), time.Since(start).Round(100*time.Millisecond))
	return nil
}

// loadImage loads a docker-archive into the engine c.
func loadImage(ctx context.Context, c *client.Client, archive string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	resp, err := c.ImageLoad(ctx, f)
	if err != nil {
		return fmt.Errorf("loading %s into the engine: %w", archive, err)
	}
	defer resp.Body.Close()
	// The load goes on while its progress is read; its errors come in that stream.
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("loading %s into the engine: %w", archive, err)
	}
	return nil
}

// preloadDocker fills dataRoot with a Docker engine's store holding the
// image in archive, by a dockerd of this machine's own (no network of its
// own, no firewall rules) that is stopped after. A machine whose disk
// carries that store starts with the image: docker.io's store is the same
// on every architecture, and loading natively here takes seconds where
// an emulated machine takes minutes.
func preloadDocker(ctx context.Context, c Config, a host.Arch, dataRoot, archive string) error {
	start := time.Now()
	if err := removeTree(dataRoot); err != nil {
		return err
	}
	// Named by suite too: two suites' machines of one architecture preload at once.
	name := "preload-" + a.Debian() + "-" + c.Suite
	run := filepath.Join("/run", "everywhere-"+c.Prefix+"-"+name)
	group := path.Join(c.cgroup(), name)
	if err := os.MkdirAll(run, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(run)
	socket := filepath.Join(run, "docker.sock")
	d, err := spawn(group, filepath.Join(c.CacheDir, name+".log"), "", nil, "dockerd", "--host", "unix://"+socket,
		"--data-root", dataRoot, "--exec-root", filepath.Join(run, "exec"), "--pidfile", filepath.Join(run, "dockerd.pid"),
		"--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false", "--storage-driver=overlay2")
	if err != nil {
		return err
	}
	defer stopCgroup(context.Background(), group)
	cl, err := client.NewClientWithOpts(client.WithHost("unix://"+socket), client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := d.ready(ctx, func() error { _, err := cl.Ping(ctx); return err }); err != nil {
		return err
	}
	if err := loadImage(ctx, cl, archive); err != nil {
		return err
	}
	if err := stopCgroup(ctx, group); err != nil {
		return err
	}
	// The machine's engine makes its own networks, identity, and volume,
	// build and (preload's own) containerd databases. Those are bolt files, written in this machine's
	// byte order: a big-endian engine (s390x) refused the preloaded store
	// ("error while opening volume store metadata database: invalid
	// database").
	for _, name := range []string{"network", "engine-id", "volumes", "buildkit", "containerd"} {
		if err := os.RemoveAll(filepath.Join(dataRoot, name)); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.Log, "[%s] %s preloaded into the machine's Docker store in %s\n", a.Debian(), Image, time.Since(start).Round(100*time.Millisecond))
	return nil
}
