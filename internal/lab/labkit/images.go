package labkit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"

	"everywhere/internal/host"
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
