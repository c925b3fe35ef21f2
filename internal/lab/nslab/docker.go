package nslab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/docker/docker/api/types/filters"

	"everywhere/internal/docker"
	"everywhere/internal/host"
	"everywhere/internal/lab/labkit"
)

// imageArchive makes (once, cached beside the rootfs) the docker-archive of
// a's rootfs, with a's platform in its config and apt pointed at the lab's
// package proxy (so one archive per proxy address: labs on other subnets
// have their own).
func imageArchive(c labkit.Config, a host.Arch) (string, error) {
	extra := map[string][]byte{labkit.AptProxyConfFile: c.AptProxyConf()}
	tag := labkit.DockerImage(c.Suite)
	file := fmt.Sprintf("%s.docker-%s.tar", c.Rootfs(a, hostRootfs), labkit.RecipeID(string(extra[labkit.AptProxyConfFile])+tag))
	rootfsInfo, err := os.Stat(filepath.Join(c.Rootfs(a, hostRootfs), labkit.RecipeFile))
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
	if a == host.I686 && !labkit.Emulated(a) {
		entrypoint = []string{"/usr/bin/setarch", "i686"}
	}
	if err := docker.WriteImage(tmp, tag, docker.Platform(a), entrypoint, []string{"/bin/bash"}, docker.Tree(c.Rootfs(a, hostRootfs), extra)); err != nil {
		tmp.Close()
		return "", fmt.Errorf("image of %s: %w", a, err)
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return "", err
	}
	fmt.Fprintf(c.Log, "[%s] docker image archive written in %s\n", c.Tree(a), time.Since(start).Round(100*time.Millisecond))
	return file, nil
}

func dockerSocket(h labkit.Host) string { return filepath.Join(hostRoot(h), "run", "docker.sock") }

// startDocker runs a Docker engine for h inside h's network namespace, with
// its socket where h's chrooted sshd sees /var/run/docker.sock, and loads
// h's image. The engine is this machine's own: foreign containers run
// under emulation, as their sshd does.
func startDocker(ctx context.Context, h labkit.Host, archive string) error {
	start := time.Now()
	dir := filepath.Join(h.Dir(), "docker")
	// nsenter --net, not ip netns exec: the latter remounts /sys and hides
	// the cgroup mounts dockerd needs.
	// Its containers' cgroups go into h's tree, so that lab down finds them.
	c, err := labkit.StartEngine(ctx, h.Cgroup("dockerd"), filepath.Join(h.Dir(), "dockerd.log"), dockerSocket(h), "nsenter", "--net=/run/netns/"+netns(h), "--", "dockerd",
		"--host", "unix://"+dockerSocket(h), "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"), "--cgroup-parent", "/"+h.Cgroup("containers"),
		"--bip", dockerBridgeIP(h))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := openOverlay(ctx, h); err != nil {
		return err
	}
	if err := labkit.LoadImage(ctx, c, archive); err != nil {
		return err
	}
	// The engine's data outlives a lab: an image of an earlier recipe, now
	// untagged, would show in docker images as <none>.
	if _, err := c.ImagesPrune(ctx, filters.NewArgs(filters.Arg("dangling", "true"))); err != nil {
		return fmt.Errorf("removing untagged images: %w", err)
	}
	fmt.Fprintf(h.Lab().Log, "[%s] dockerd up with %s in %s\n", h.Name, labkit.DockerImage(h.Suite), time.Since(start).Round(100*time.Millisecond))
	return nil
}
