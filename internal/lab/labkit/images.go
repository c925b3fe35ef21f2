package labkit

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"

	"everywhere/internal/host"
	"everywhere/internal/tarball"
)

// Image is the tag of the default suite's Debian image (see DockerImage).
const Image = "everywhere/debian:" + DefaultSuite

// DockerImage is the tag of the Debian image of suite that a lab engine of
// a host of that suite holds, built from the host's own rootfs (no
// registry is reachable, and none is needed): everywhere/debian:trixie.
func DockerImage(suite string) string { return "everywhere/debian:" + suite }

// SuiteLXDImage is the alias of the lab's LXD image of suite and arch
// (debian/trixie/arm64): one LXD holds every suite's.
func SuiteLXDImage(suite string, a host.Arch) string { return "debian/" + suite + "/" + a.Debian() }

// StartEngine spawns a Docker engine (args, in cgroup group, its output in
// logFile) and returns a client of it once it answers on socket.
func StartEngine(ctx context.Context, group, logFile, socket string, args ...string) (*client.Client, error) {
	d, err := Spawn(group, logFile, "", nil, args...)
	if err != nil {
		return nil, err
	}
	c, err := client.NewClientWithOpts(client.WithHost("unix://"+socket), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	if err := d.Ready(ctx, func() error { _, err := c.Ping(ctx); return err }); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// LoadImage loads a docker-archive into the engine c.
func LoadImage(ctx context.Context, c *client.Client, archive string) error {
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

// RecipeID names a rootfs recipe shortly, to tell images of older ones.
func RecipeID(recipe string) string {
	sum := sha256.Sum256([]byte(recipe))
	return hex.EncodeToString(sum[:6])
}

// WriteLXDImage writes a unified LXD image of a to w: its metadata.yaml
// (recipe among the properties, for telling a stale image), tree as its
// rootfs less what skip (when not nil) names, and the lab's apt proxy.
func WriteLXDImage(w io.Writer, c Config, a host.Arch, tree, recipe string, skip func(rel string) bool) error {
	tw := tar.NewWriter(w)
	metadata := fmt.Sprintf("architecture: %s\ncreation_date: %d\nproperties:\n  os: debian\n  release: %s\n  architecture: %s\n  description: Debian %s %s (everywhere lab)\n  recipe: %s\n",
		a.Kernel(), time.Now().Unix(), c.Suite, a.Debian(), c.Suite, a.Debian(), recipe)
	if err := tarball.AddFiles(tw, "", map[string][]byte{"metadata.yaml": []byte(metadata)}); err != nil {
		return err
	}
	if err := tarball.AddTreeExcept(tw, tree, "rootfs/", skip); err != nil {
		return err
	}
	if err := tarball.AddFiles(tw, "rootfs/", map[string][]byte{AptProxyConfFile: c.AptProxyConf()}); err != nil {
		return err
	}
	return tw.Close()
}
